//! Cursor pagination, newest first: a stable order on (created_at, id), so pages do
//! not skip or repeat rows while new ones arrive.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::request::{ApiRequest, Problems};

pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;

/// Where the previous page ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// `created_at` as PostgREST returned it.
    pub t: String,
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("cursor serializes"))
    }

    pub fn decode(raw: &str) -> Option<Cursor> {
        let cursor: Cursor = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(raw).ok()?).ok()?;
        let plausible = cursor.t.len() <= 40
            && cursor
                .t
                .bytes()
                .all(|b| b.is_ascii_digit() || b"-:.+TZ ".contains(&b))
            && uuid::Uuid::parse_str(&cursor.id).is_ok();
        plausible.then_some(cursor)
    }

    /// The PostgREST `or` filter (without its parentheses, which the `postgrest`
    /// crate adds) for rows after this cursor in (created_at, id) descending order.
    pub fn or_filter(&self) -> String {
        format!(
            "created_at.lt.\"{t}\",and(created_at.eq.\"{t}\",id.lt.{id})",
            t = self.t,
            id = self.id
        )
    }

    /// `builder` restricted to the rows after `cursor`, if any.
    pub fn after(cursor: Option<&Cursor>, builder: postgrest::Builder) -> postgrest::Builder {
        match cursor {
            Some(c) => builder.or(c.or_filter()),
            None => builder,
        }
    }
}

/// `limit` and `cursor` from the query string, checked.
pub fn page_params(req: &ApiRequest, problems: &mut Problems) -> (usize, Option<Cursor>) {
    let limit = match req.query("limit") {
        None => DEFAULT_PAGE_SIZE,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
            _ => {
                problems.add(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_PAGE_SIZE}"),
                );
                DEFAULT_PAGE_SIZE
            }
        },
    };
    let cursor = req.query("cursor").and_then(|raw| {
        let cursor = Cursor::decode(raw);
        problems.check(
            cursor.is_some(),
            "cursor",
            "is not a cursor this API returned",
        );
        cursor
    });
    (limit, cursor)
}

/// One page of rows fetched with `limit + 1`: the extra row only says there is more.
#[derive(Debug, Serialize)]
pub struct Page {
    pub items: Vec<serde_json::Value>,
    pub next_cursor: Option<String>,
}

impl Page {
    pub fn from_rows(mut rows: Vec<serde_json::Value>, limit: usize) -> Page {
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = more
            .then(|| rows.last())
            .flatten()
            .and_then(|last| {
                Some(Cursor {
                    t: last.get("created_at")?.as_str()?.to_owned(),
                    id: last.get("id")?.as_str()?.to_owned(),
                })
            })
            .map(|c| c.encode());
        Page {
            items: rows,
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let cursor = Cursor {
            t: "2026-11-24T12:00:00.123456+00:00".into(),
            id: "44444444-4444-4444-8444-000000000101".into(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor.clone()));
        assert_eq!(
            cursor.or_filter(),
            "created_at.lt.\"2026-11-24T12:00:00.123456+00:00\",and(created_at.eq.\"2026-11-24T12:00:00.123456+00:00\",id.lt.44444444-4444-4444-8444-000000000101)"
        );
        let evil = URL_SAFE_NO_PAD
            .encode(br#"{"t":"x\"),or(id.gt.0","id":"44444444-4444-4444-8444-000000000101"}"#);
        assert_eq!(Cursor::decode(&evil), None);
        assert_eq!(Cursor::decode("!!"), None);
    }

    #[test]
    fn pages_say_when_there_is_more() {
        let row = |i: u32| json!({"id": format!("44444444-4444-4444-8444-{i:012}"), "created_at": format!("2026-11-0{i}T00:00:00+00:00")});
        let page = Page::from_rows(vec![row(3), row(2), row(1)], 2);
        assert_eq!(page.items.len(), 2);
        let next = Cursor::decode(page.next_cursor.as_deref().unwrap()).unwrap();
        assert_eq!(next.t, "2026-11-02T00:00:00+00:00");
        let last = Page::from_rows(vec![row(1)], 2);
        assert!(last.next_cursor.is_none());
    }

    #[test]
    fn page_parameters_are_checked() {
        let req = |q: &[(&str, &str)]| ApiRequest {
            query: q.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect(),
            ..Default::default()
        };
        let mut p = Problems::default();
        assert_eq!(page_params(&req(&[]), &mut p), (DEFAULT_PAGE_SIZE, None));
        assert!(p.finish().is_ok());
        let mut p = Problems::default();
        page_params(&req(&[("limit", "500"), ("cursor", "zzz")]), &mut p);
        let err = p.finish().unwrap_err();
        assert_eq!(err.body().message, "2 fields are invalid");
    }
}
