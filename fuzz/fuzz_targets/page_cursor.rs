//! Page cursors (`?cursor=` on every list endpoint): `Cursor::decode`, its PostgREST
//! `or` filter, and `page_params` (`limit` and `cursor` together).
//!
//! Input: `<mode>\n<rest>`.
//! - `encode`: rest is `<created_at>\n<id>`: the cursor built from them decodes back
//!   exactly when it is one the API could have returned;
//! - otherwise: rest is `<limit>\n<cursor>` as a client sends them.
//!
//! Invariants: a decoded cursor re-encodes to one that decodes to it; its filter is
//! exactly `created_at.lt."<t>",and(created_at.eq."<t>",id.lt.<id>)` with no quote,
//! comma or parenthesis of the client's inside (no filter injection); `page_params`
//! accepts exactly a limit of 1 to 100 and a cursor that decodes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payhuk_edge::services::page::{Cursor, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, page_params};
use payhuk_edge::services::request::{ApiRequest, Problems};
use payhuk_edge_fuzz::{fields, text};

fuzz_target!(|data: &[u8]| {
    let f = fields(data, 3);
    if f[0] == b"encode" {
        let cursor = Cursor {
            t: text(f[1]),
            id: text(f[2]),
        };
        let plausible = cursor.t.len() <= 40
            && cursor
                .t
                .bytes()
                .all(|b| b.is_ascii_digit() || b"-:.+TZ ".contains(&b))
            && uuid::Uuid::parse_str(&cursor.id).is_ok();
        let decoded = Cursor::decode(&cursor.encode());
        assert_eq!(decoded.is_some(), plausible, "{cursor:?}");
        if let Some(d) = decoded {
            assert_eq!(d, cursor);
        }
        return;
    }

    let (limit, raw) = (text(f[1]), text(f[2]));
    if let Some(cursor) = Cursor::decode(&raw) {
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor.clone()));
        for forbidden in ['"', ',', '(', ')', '\\'] {
            assert!(!cursor.t.contains(forbidden) && !cursor.id.contains(forbidden));
        }
        assert_eq!(
            cursor.or_filter(),
            format!(
                "created_at.lt.\"{t}\",and(created_at.eq.\"{t}\",id.lt.{id})",
                t = cursor.t,
                id = cursor.id
            )
        );
    }

    let mut query = vec![("cursor".to_owned(), raw.clone())];
    if !limit.is_empty() {
        query.push(("limit".to_owned(), limit.clone()));
    }
    let req = ApiRequest {
        query,
        ..Default::default()
    };
    let mut problems = Problems::default();
    let (n, cursor) = page_params(&req, &mut problems);
    assert!((1..=MAX_PAGE_SIZE).contains(&n));
    let limit_ok = limit.is_empty()
        || limit
            .parse::<usize>()
            .is_ok_and(|n| (1..=MAX_PAGE_SIZE).contains(&n));
    if limit.is_empty() || !limit_ok {
        assert_eq!(n, DEFAULT_PAGE_SIZE);
    }
    assert_eq!(cursor, Cursor::decode(&raw));
    assert_eq!(
        problems.finish().is_ok(),
        limit_ok && cursor.is_some(),
        "limit {limit:?}, cursor {raw:?}"
    );
});
