//! Cursor pagination, newest first: a stable order on (created_at, id), so pages do
//! not skip or repeat rows while new ones arrive.

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
    /// `<created_at in microseconds since 1970>.<id as 32 hex digits>`: a shape the
    /// OpenAPI document states as a pattern, where every string of that shape is a
    /// cursor (so a client, or a generator, cannot send one that looks right and is not).
    /// None when the row's time or id is not what PostgREST returns.
    pub fn encode(&self) -> Option<String> {
        let t = chrono::DateTime::parse_from_rfc3339(&self.t).ok()?;
        let micros = u64::try_from(t.timestamp_micros()).ok()?;
        let id = uuid::Uuid::parse_str(&self.id).ok()?;
        Some(format!("{micros}.{}", id.simple()))
    }

    pub fn decode(raw: &str) -> Option<Cursor> {
        let (micros, id) = raw.split_once('.')?;
        let digits = |s: &str, hex: bool| {
            s.bytes()
                .all(|b| b.is_ascii_digit() || (hex && matches!(b, b'a'..=b'f')))
        };
        if !(1..=16).contains(&micros.len()) || !digits(micros, false) {
            return None;
        }
        if id.len() != 32 || !digits(id, true) {
            return None;
        }
        let t = chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?;
        Some(Cursor {
            t: t.to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
            id: uuid::Uuid::parse_str(id).ok()?.hyphenated().to_string(),
        })
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
            .and_then(|c| c.encode());
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
        let raw = cursor.encode().unwrap();
        assert_eq!(raw, "1795521600123456.44444444444444448444000000000101");
        assert_eq!(Cursor::decode(&raw), Some(cursor.clone()));
        assert_eq!(
            cursor.or_filter(),
            "created_at.lt.\"2026-11-24T12:00:00.123456+00:00\",and(created_at.eq.\"2026-11-24T12:00:00.123456+00:00\",id.lt.44444444-4444-4444-8444-000000000101)"
        );
        // Another offset is the same instant, in UTC.
        let paris = Cursor {
            t: "2026-11-24T13:00:00.123456+01:00".into(),
            ..cursor.clone()
        };
        assert_eq!(Cursor::decode(&paris.encode().unwrap()), Some(cursor));
        // Every string of the documented shape is a cursor; nothing else is.
        assert!(Cursor::decode("0.00000000000000000000000000000000").is_some());
        assert!(Cursor::decode("9999999999999999.ffffffffffffffffffffffffffffffff").is_some());
        for junk in [
            "",
            "!!",
            "1.",
            ".44444444444444448444000000000101",
            "1.4444444444444444844400000000010",
            "1.44444444444444448444000000000101.",
            "1.4444444444444444844400000000010G",
            "1.4444444444444444844400000000010A",
            "-1.44444444444444448444000000000101",
            "12345678901234567.44444444444444448444000000000101",
            "x\"),or(id.gt.0.44444444444444448444000000000101",
        ] {
            assert_eq!(Cursor::decode(junk), None, "{junk}");
        }
    }

    #[test]
    fn pages_say_when_there_is_more() {
        let row = |i: u32| json!({"id": format!("44444444-4444-4444-8444-{i:012}"), "created_at": format!("2026-11-0{i}T00:00:00+00:00")});
        let page = Page::from_rows(vec![row(3), row(2), row(1)], 2);
        assert_eq!(page.items.len(), 2);
        let next = Cursor::decode(page.next_cursor.as_deref().unwrap()).unwrap();
        assert_eq!(next.t, "2026-11-02T00:00:00.000000+00:00");
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
