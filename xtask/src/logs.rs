//! `cargo xtask logs --request <id>`: every local log line of one request, in time order,
//! from the gateway (wrangler dev, plain workerd, the WAN topology's edges), each
//! PostgREST and each PostgreSQL.
//!
//! The gateway writes one JSON line per request with its `request_id`; it sends the id
//! upstream as `user-agent: payhuk-edge request-id=<id>`, which PostgREST's access log
//! carries, and as `x-request-id`, which the pre-request hook puts into PostgreSQL's
//! `application_name` for the request's transaction (migration 20261206090000), which
//! `log_line_prefix` prints (`%a`).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::bail;
use chrono::{DateTime, FixedOffset, Local, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use sha2::{Digest, Sha256};

use crate::paths::{Paths, StackPaths};
use crate::topology::NODES;

/// The longest request id the gateway accepts (`src/observe/ids.rs`).
pub const MAX_REQUEST_ID_LEN: usize = payhuk_edge::observe::ids::MAX_REQUEST_ID_LEN;
/// What `application_name` (63 bytes) holds of an id after `payhuk-edge request-id=`.
pub const PG_MAX_ID_LEN: usize = 40;

/// Where a line comes from; also the order of lines logged in the same millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Gateway,
    Postgrest,
    Postgres,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub kind: Kind,
    /// `gateway`, `edge lagos`, `postgrest iad1`, `postgres iad1`, ...
    pub label: String,
    pub path: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub ts: DateTime<Utc>,
    pub source: String,
    pub line: String,
}

/// Same rule as the gateway and the pre-request hook: 1 to 128 ASCII letters, digits and
/// `._:-`.
pub fn is_request_id(id: &str) -> bool {
    payhuk_edge::observe::ids::accepted_request_id(id) == Some(id)
}

fn is_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-')
}

/// The id as PostgreSQL's lines carry it: whole up to 40 characters, else its first 31,
/// `~` and 8 hex digits of its SHA-256 (the hook's rule).
pub fn pg_token(id: &str) -> String {
    if id.len() <= PG_MAX_ID_LEN {
        return id.to_owned();
    }
    let digest = Sha256::digest(id.as_bytes());
    let mut token = format!("{}~", &id[..31]);
    for b in &digest[..4] {
        let _ = write!(token, "{b:02x}");
    }
    token
}

/// Whether `text` holds `request-id=<token>` as a whole token: not inside a longer word
/// before it, and not followed by another id character (`request-id=abc` is not in
/// `request-id=abcd`, nor in the shortened form `request-id=abc~1a2b3c4d`).
pub fn mentions(text: &str, token: &str) -> bool {
    let needle = format!("request-id={token}");
    let bytes = text.as_bytes();
    let is_token_byte = |b: u8| is_id_byte(b) || b == b'~';
    text.match_indices(&needle).any(|(at, _)| {
        let end = at + needle.len();
        let before_ok = at == 0 || !is_token_byte(bytes[at - 1]);
        let after_ok = end == bytes.len() || !is_token_byte(bytes[end]);
        before_ok && after_ok
    })
}

/// The gateway's `ts`: RFC 3339, e.g. `2026-12-05T23:40:01.123Z`.
pub fn parse_gateway_ts(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// PostgREST's access log time, `[05/Dec/2026:20:56:18 +0000]` (the first bracketed
/// field), to the second.
pub fn parse_postgrest_ts(line: &str) -> Option<DateTime<Utc>> {
    let start = line.find('[')? + 1;
    let end = start + line[start..].find(']')?;
    DateTime::parse_from_str(&line[start..end], "%d/%b/%Y:%H:%M:%S %z")
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// PostgreSQL's `%m` at the start of a line: `2026-12-05 23:40:01.123 UTC`. The zone is
/// the cluster's log_timezone: UTC or GMT, a numeric offset, or else taken as this
/// machine's (initdb's default).
pub fn parse_postgres_ts(line: &str) -> Option<DateTime<Utc>> {
    let stamp = line.get(..23)?;
    let naive = NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S%.3f").ok()?;
    let zone = line[23..].strip_prefix(' ')?.split(' ').next()?;
    match zone {
        "UTC" | "GMT" | "Z" => Some(Utc.from_utc_datetime(&naive)),
        z if z.starts_with(['+', '-']) => {
            let digits: String = z[1..].chars().filter(|c| *c != ':').collect();
            let (h, m) = match digits.len() {
                2 => (digits.parse::<i32>().ok()?, 0),
                4 => (digits[..2].parse().ok()?, digits[2..].parse().ok()?),
                _ => return None,
            };
            let seconds = (h * 3600 + m * 60) * if z.starts_with('-') { -1 } else { 1 };
            let offset = FixedOffset::east_opt(seconds)?;
            Some(
                offset
                    .from_local_datetime(&naive)
                    .single()?
                    .with_timezone(&Utc),
            )
        }
        z if z.chars().all(|c| c.is_ascii_alphabetic()) && !z.is_empty() => Local
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc)),
        _ => None,
    }
}

/// The first JSON object on the line (after whatever prefix wrangler or workerd put
/// before it).
fn json_object(line: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    line.match_indices('{').find_map(|(at, _)| {
        serde_json::Deserializer::from_str(&line[at..])
            .into_iter::<serde_json::Value>()
            .next()
            .and_then(Result::ok)
            .and_then(|v| match v {
                serde_json::Value::Object(map) => Some(map),
                _ => None,
            })
    })
}

/// The gateway's lines of the request: JSON objects whose `request_id` is the id. One
/// without a `ts` takes that of the last line before it that had one.
pub fn gateway_entries(text: &str, id: &str, source: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut last_ts: Option<DateTime<Utc>> = None;
    for line in text.lines() {
        // Most lines are not JSON, or another request's: skip them before parsing.
        if !line.contains('{') || (!line.contains("\"ts\"") && !line.contains(id)) {
            continue;
        }
        let Some(object) = json_object(line) else {
            continue;
        };
        let ts = object
            .get("ts")
            .and_then(|v| v.as_str())
            .and_then(parse_gateway_ts);
        if ts.is_some() {
            last_ts = ts;
        }
        if object.get("request_id").and_then(|v| v.as_str()) == Some(id)
            && let Some(ts) = ts.or(last_ts)
        {
            entries.push(Entry {
                ts,
                source: source.to_owned(),
                line: line.to_owned(),
            });
        }
    }
    entries
}

/// The user agent of an access log line: its last quoted field.
fn user_agent(line: &str) -> Option<&str> {
    let body = line.trim_end().strip_suffix('"')?;
    Some(&body[body.rfind('"')? + 1..])
}

/// PostgREST's access log lines whose user agent names the request.
pub fn postgrest_entries(text: &str, id: &str, source: &str) -> Vec<Entry> {
    text.lines()
        .filter(|line| line.contains(id))
        .filter(|line| user_agent(line).is_some_and(|ua| mentions(ua, id)))
        .filter_map(|line| {
            Some(Entry {
                ts: parse_postgrest_ts(line)?,
                source: source.to_owned(),
                line: line.to_owned(),
            })
        })
        .collect()
}

/// PostgreSQL's lines of the request: those whose prefix names it (an error's DETAIL,
/// HINT, CONTEXT and STATEMENT lines each repeat the prefix), with the continuation lines
/// of a multi-line message, which PostgreSQL starts with a tab.
pub fn postgres_entries(text: &str, id: &str, source: &str) -> Vec<Entry> {
    let token = pg_token(id);
    let mut entries = Vec::new();
    let mut current: Option<DateTime<Utc>> = None;
    for line in text.lines() {
        if line.starts_with('\t') {
            if let Some(ts) = current {
                entries.push(Entry {
                    ts,
                    source: source.to_owned(),
                    line: line.to_owned(),
                });
            }
            continue;
        }
        current = None;
        if line.contains(&token) && mentions(line, &token) {
            current = parse_postgres_ts(line);
            if let Some(ts) = current {
                entries.push(Entry {
                    ts,
                    source: source.to_owned(),
                    line: line.to_owned(),
                });
            }
        }
    }
    entries
}

/// Every local log that may hold a request's lines, in source order.
pub fn sources(dirs: &StackPaths) -> Vec<Source> {
    let logs = dirs.logs();
    let mut out = vec![
        Source {
            kind: Kind::Gateway,
            label: "gateway".into(),
            path: logs.join("gateway.log"),
        },
        Source {
            kind: Kind::Gateway,
            label: "workerd".into(),
            path: logs.join("workerd.log"),
        },
    ];
    // The WAN topology's edges: edge-<city>.log and edge-single-<city>.log.
    let mut edges: Vec<(String, PathBuf)> = fs::read_dir(&logs)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let stem = name.strip_prefix("edge-")?.strip_suffix(".log")?;
            let label = match stem.strip_prefix("single-") {
                Some(city) => format!("edge-single {city}"),
                None => format!("edge {stem}"),
            };
            Some((label, entry.path()))
        })
        .collect();
    edges.sort();
    out.extend(edges.into_iter().map(|(label, path)| Source {
        kind: Kind::Gateway,
        label,
        path,
    }));
    for node in &NODES {
        out.push(Source {
            kind: Kind::Postgrest,
            label: format!("postgrest {}", node.region),
            path: logs.join(format!("postgrest-{}.log", node.region)),
        });
    }
    for node in &NODES {
        out.push(Source {
            kind: Kind::Postgres,
            label: format!("postgres {}", node.region),
            path: dirs.pg_log(node.region),
        });
    }
    out
}

/// The request's lines in `sources` in time order (lines of the same instant in source
/// order, then file order), and the files read. Missing files are skipped; one that
/// cannot be read is reported on stderr and skipped.
pub fn collect(sources: &[Source], id: &str) -> (Vec<Entry>, Vec<PathBuf>) {
    let mut entries = Vec::new();
    let mut read = Vec::new();
    for source in sources {
        let bytes = match fs::read(&source.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                eprintln!("warning: cannot read {}: {e}", source.path.display());
                continue;
            }
        };
        read.push(source.path.clone());
        let text = String::from_utf8_lossy(&bytes);
        entries.extend(match source.kind {
            Kind::Gateway => gateway_entries(&text, id, &source.label),
            Kind::Postgrest => postgrest_entries(&text, id, &source.label),
            Kind::Postgres => postgres_entries(&text, id, &source.label),
        });
    }
    // Stable: equal instants keep source order, then line order.
    entries.sort_by_key(|e| e.ts);
    (entries, read)
}

/// `<ts>  <source>  <line>`, sources padded to the widest.
pub fn render(entries: &[Entry]) -> String {
    let width = entries.iter().map(|e| e.source.len()).max().unwrap_or(0);
    let mut out = String::new();
    for e in entries {
        let _ = writeln!(
            out,
            "{}  {:width$}  {}",
            e.ts.to_rfc3339_opts(SecondsFormat::Millis, true),
            e.source,
            e.line
        );
    }
    out
}

/// One JSON object per line: `{"ts", "source", "line"}`.
pub fn render_json(entries: &[Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        #[derive(serde::Serialize)]
        struct Line<'a> {
            ts: String,
            source: &'a str,
            line: &'a str,
        }
        let object = Line {
            ts: e.ts.to_rfc3339_opts(SecondsFormat::Millis, true),
            source: &e.source,
            line: &e.line,
        };
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string(&object).expect("strings serialize")
        );
    }
    out
}

pub fn run(paths: &Paths, id: &str, json: bool) -> anyhow::Result<()> {
    if !is_request_id(id) {
        bail!(
            "{id:?} is not a request id: 1 to {MAX_REQUEST_ID_LEN} ASCII letters, digits and ._:-"
        );
    }
    let (entries, read) = collect(&sources(&paths.stack()), id);
    if entries.is_empty() {
        let files: Vec<String> = read.iter().map(|p| display(p, paths)).collect();
        bail!(
            "no local log line mentions request {id}; logs read: {}",
            if files.is_empty() {
                "none (is there a local stack? `cargo xtask up`)".to_owned()
            } else {
                files.join(", ")
            }
        );
    }
    print!(
        "{}",
        if json {
            render_json(&entries)
        } else {
            render(&entries)
        }
    );
    Ok(())
}

/// A path relative to the repository when it is inside it.
fn display(path: &Path, paths: &Paths) -> String {
    path.strip_prefix(&paths.root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        parse_gateway_ts(text).unwrap()
    }

    const GATEWAY: &str = r#"[wrangler:info] Ready on http://127.0.0.1:8787
{"ts":"2026-12-05T23:40:01.123Z","level":"info","message":"request","request_id":"abc","method":"GET","route":"/api/v1/products","status":200}
[wrangler:info] GET /api/v1/products 200 OK (3ms)
{"ts":"2026-12-05T23:40:01.200Z","level":"info","message":"request","request_id":"abcd","method":"GET","route":"/api/v1/products","status":200}
workerd/io/worker.c++:1234: info: console.log; {"ts":"2026-12-05T23:40:02.500Z","level":"error","message":"request","request_id":"abc","status":502}
{"level":"error","message":"request line unwritable: x","request_id":"abc"}
"#;

    const POSTGREST: &str = r#"127.0.0.1 - anon [05/Dec/2026:23:40:01 +0000] "GET /products HTTP/1.1" 200 - "" "payhuk-edge request-id=abc"
127.0.0.1 - anon [05/Dec/2026:23:40:01 +0000] "GET /products HTTP/1.1" 200 - "" "payhuk-edge request-id=abcd"
127.0.0.1 - anon [05/Dec/2026:23:40:01 +0000] "GET /products?q=request-id=abc HTTP/1.1" 200 - "" "ureq/2.12.1"
127.0.0.1 - authenticated [05/Dec/2026:23:40:02 +0000] "POST /rpc/create_payment HTTP/1.1" 409 - "" "payhuk-edge request-id=abc"
"#;

    const POSTGRES: &str = "2026-12-05 23:40:01.150 UTC [8639] authenticator@postgres payhuk-edge request-id=abc ERROR:  first line
\tsecond line
2026-12-05 23:40:01.150 UTC [8639] authenticator@postgres payhuk-edge request-id=abc STATEMENT:  select 1
2026-12-05 23:40:01.151 UTC [8640] authenticator@postgres payhuk-edge request-id=abcd ERROR:  other
\tother's second line
2026-12-05 23:40:03.000 UTC [6472] LOG:  checkpoint starting: time
";

    #[test]
    fn request_ids() {
        assert!(is_request_id("abc-123_X.y:z"));
        assert!(is_request_id(&"x".repeat(128)));
        for bad in ["", "a b", "a\"b", "a'b", "a~b", "ä", "abc\n"] {
            assert!(!is_request_id(bad), "{bad:?}");
        }
        assert!(!is_request_id(&"x".repeat(129)));
        assert!(!is_request_id(&"x".repeat(200)));
    }

    #[test]
    fn pg_token_shortens_as_the_hook_does() {
        assert_eq!(pg_token(&"a".repeat(40)), "a".repeat(40));
        // PostgreSQL 15: select left(encode(sha256(convert_to(repeat('b', 41), 'UTF8')), 'hex'), 8)
        assert_eq!(
            pg_token(&"b".repeat(41)),
            format!("{}~369a91c8", "b".repeat(31))
        );
        assert_eq!(pg_token(&"c".repeat(128)).len(), PG_MAX_ID_LEN);
    }

    #[test]
    fn three_timestamp_formats() {
        let expected = Utc.with_ymd_and_hms(2026, 12, 5, 23, 40, 1).unwrap();
        assert_eq!(
            parse_gateway_ts("2026-12-05T23:40:01.123Z"),
            Some(expected + chrono::Duration::milliseconds(123))
        );
        assert_eq!(
            parse_postgrest_ts(
                r#"127.0.0.1 - anon [05/Dec/2026:23:40:01 +0000] "GET / HTTP/1.1" 200 - "" """#
            ),
            Some(expected)
        );
        assert_eq!(
            parse_postgrest_ts(r#"127.0.0.1 - anon [06/Dec/2026:00:40:01 +0100] "GET / HTTP/1.1""#),
            Some(expected)
        );
        assert_eq!(
            parse_postgres_ts("2026-12-05 23:40:01.123 UTC [8639] LOG:  x"),
            Some(expected + chrono::Duration::milliseconds(123))
        );
        assert_eq!(
            parse_postgres_ts("2026-12-06 01:40:01.000 +02 [8639] LOG:  x"),
            Some(expected)
        );
        assert_eq!(parse_postgres_ts("\tcontinued"), None);
        assert_eq!(
            parse_postgres_ts("pg_ctl: another server might be running"),
            None
        );
    }

    #[test]
    fn whole_token_matching() {
        assert!(mentions("payhuk-edge request-id=abc", "abc"));
        assert!(mentions(
            "[1] u@d payhuk-edge request-id=abc ERROR:  x",
            "abc"
        ));
        assert!(!mentions("payhuk-edge request-id=abcd", "abc"));
        assert!(!mentions("payhuk-edge request-id=abc.1", "abc"));
        assert!(!mentions("payhuk-edge request-id=abc~1a2b3c4d", "abc"));
        assert!(!mentions("payhuk-edge request-id=xabc", "abc"));
        assert!(!mentions("payhuk-edge x.request-id=abc", "abc"));
        assert!(mentions("request-id=abcd then request-id=abc ERROR", "abc"));
    }

    #[test]
    fn each_source_keeps_only_the_request() {
        let gateway = gateway_entries(GATEWAY, "abc", "gateway");
        assert_eq!(gateway.len(), 3, "{gateway:?}");
        assert!(
            gateway[1].line.starts_with("workerd/io/worker.c++"),
            "a prefix before the JSON"
        );
        assert_eq!(gateway[1].ts, utc("2026-12-05T23:40:02.500Z"));
        assert_eq!(
            gateway[2].ts,
            utc("2026-12-05T23:40:02.500Z"),
            "no ts: the last one seen"
        );
        assert_eq!(gateway_entries(GATEWAY, "abcd", "gateway").len(), 1);
        assert!(gateway_entries(GATEWAY, "ab", "gateway").is_empty());

        let postgrest = postgrest_entries(POSTGREST, "abc", "postgrest iad1");
        assert_eq!(
            postgrest.len(),
            2,
            "the user agent only, whole: {postgrest:?}"
        );
        assert!(postgrest[1].line.contains("409"));

        let postgres = postgres_entries(POSTGRES, "abc", "postgres iad1");
        let lines: Vec<&str> = postgres.iter().map(|e| e.line.as_str()).collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(
            lines[1], "\tsecond line",
            "a continuation line, with its entry"
        );
        assert!(lines[2].contains("STATEMENT"));
        let other = postgres_entries(POSTGRES, "abcd", "postgres iad1");
        assert_eq!(other.len(), 2);
        assert_eq!(other[1].line, "\tother's second line");
    }

    #[test]
    fn ordered_across_sources() {
        let dir = std::env::temp_dir().join(format!("xtask-logs-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            fs::write(&path, text).unwrap();
            path
        };
        let sources = [
            Source {
                kind: Kind::Gateway,
                label: "gateway".into(),
                path: write("gateway.log", GATEWAY),
            },
            Source {
                kind: Kind::Gateway,
                label: "edge lagos".into(),
                path: dir.join("absent.log"),
            },
            Source {
                kind: Kind::Postgrest,
                label: "postgrest iad1".into(),
                path: write("postgrest-iad1.log", POSTGREST),
            },
            Source {
                kind: Kind::Postgres,
                label: "postgres iad1".into(),
                path: write("iad1.log", POSTGRES),
            },
        ];
        let (entries, read) = collect(&sources, "abc");
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(read.len(), 3, "the absent file is skipped");
        let order: Vec<(String, &str)> = entries
            .iter()
            .map(|e| {
                (
                    e.ts.to_rfc3339_opts(SecondsFormat::Millis, true),
                    e.source.as_str(),
                )
            })
            .collect();
        let expected = [
            ("2026-12-05T23:40:01.000Z", "postgrest iad1"),
            ("2026-12-05T23:40:01.123Z", "gateway"),
            ("2026-12-05T23:40:01.150Z", "postgres iad1"),
            ("2026-12-05T23:40:01.150Z", "postgres iad1"),
            ("2026-12-05T23:40:01.150Z", "postgres iad1"),
            ("2026-12-05T23:40:02.000Z", "postgrest iad1"),
            ("2026-12-05T23:40:02.500Z", "gateway"),
            ("2026-12-05T23:40:02.500Z", "gateway"),
        ];
        let expected: Vec<(String, &str)> = expected
            .iter()
            .map(|(t, s)| ((*t).to_owned(), *s))
            .collect();
        assert_eq!(order, expected);
        assert_eq!(entries[3].line, "\tsecond line");

        let text = render(&entries[..2]);
        assert_eq!(
            text,
            "2026-12-05T23:40:01.000Z  postgrest iad1  127.0.0.1 - anon [05/Dec/2026:23:40:01 +0000] \"GET /products HTTP/1.1\" 200 - \"\" \"payhuk-edge request-id=abc\"\n\
             2026-12-05T23:40:01.123Z  gateway         {\"ts\":\"2026-12-05T23:40:01.123Z\",\"level\":\"info\",\"message\":\"request\",\"request_id\":\"abc\",\"method\":\"GET\",\"route\":\"/api/v1/products\",\"status\":200}\n"
        );
        let json = render_json(&entries);
        assert!(
            json.starts_with(
                r#"{"ts":"2026-12-05T23:40:01.000Z","source":"postgrest iad1","line":"#
            )
        );
        let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
        assert_eq!(first["ts"], "2026-12-05T23:40:01.000Z");
        assert_eq!(first["source"], "postgrest iad1");
        assert!(
            first["line"]
                .as_str()
                .unwrap()
                .ends_with("request-id=abc\"")
        );
    }

    #[test]
    fn equal_instants_keep_source_order() {
        let dir = std::env::temp_dir().join(format!("xtask-logs-same-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let source = |kind, label: &str, text: &str| {
            let path = dir.join(format!("{label}.log"));
            fs::write(&path, text).unwrap();
            Source {
                kind,
                label: label.into(),
                path,
            }
        };
        let sources = [
            source(
                Kind::Gateway,
                "gateway",
                r#"{"ts":"2026-12-05T23:40:01.000Z","request_id":"abc"}"#,
            ),
            source(
                Kind::Postgrest,
                "postgrest",
                r#"127.0.0.1 - anon [05/Dec/2026:23:40:01 +0000] "GET / HTTP/1.1" 200 - "" "payhuk-edge request-id=abc""#,
            ),
            source(
                Kind::Postgres,
                "postgres",
                "2026-12-05 23:40:01.000 UTC [1] a@b payhuk-edge request-id=abc LOG:  x",
            ),
        ];
        let (entries, _) = collect(&sources, "abc");
        fs::remove_dir_all(&dir).unwrap();
        let order: Vec<&str> = entries.iter().map(|e| e.source.as_str()).collect();
        assert_eq!(order, ["gateway", "postgrest", "postgres"]);
    }
}
