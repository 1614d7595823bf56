//! The one log line of a request: JSON, as Workers Logs parse it. It says what an
//! operator asks of a slow or failed request (which route, from which edge, which
//! nodes were tried and how they answered, cache and read-your-writes outcomes, status,
//! time, size) and never what a log must not hold: no header value, query, body or raw
//! path is ever copied into it (the route is the table's pattern).

use chrono::{DateTime, SecondsFormat};
use serde::Serialize;

use super::{RequestScope, TokenOutcome, UpstreamTry};
use crate::region::EdgeLocation;

/// What the response said, known once it is made.
#[derive(Debug, Clone, Default)]
pub struct Outcome<'a> {
    pub method: &'a str,
    pub status: u16,
    /// The body's size, when the gateway holds it whole.
    pub bytes: Option<u64>,
    /// `x-payhuk-cache`: `hit`, `stale`, `miss`, `bypass`.
    pub cache: Option<&'a str>,
    /// A new consistency token went back to the client (it wrote).
    pub token_issued: bool,
    pub finished_ms: u64,
}

#[derive(Serialize)]
struct Line<'a> {
    ts: String,
    level: &'static str,
    message: &'static str,
    request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cf_ray: Option<&'a str>,
    trace_id: &'a str,
    span_id: &'a str,
    method: &'a str,
    /// `null` when no route matched (a 404 or a refused request target).
    route: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    edge: Option<Edge<'a>>,
    upstreams: &'a [UpstreamTry],
    #[serde(skip_serializing_if = "Option::is_none")]
    cache: Option<&'a str>,
    consistency: Consistency,
    status: u16,
    duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct Edge<'a> {
    region: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    colo: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    city: Option<&'static str>,
}

#[derive(Serialize)]
struct Consistency {
    presented: TokenOutcome,
    issued: bool,
}

/// The request's line, ready for `console.log`.
pub fn request_line(
    scope: &RequestScope,
    edge: Option<&EdgeLocation>,
    outcome: &Outcome<'_>,
) -> String {
    let journal = scope.journal();
    let line = Line {
        ts: DateTime::from_timestamp_millis(outcome.finished_ms as i64)
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::Millis, true),
        level: if outcome.status >= 500 {
            "error"
        } else {
            "info"
        },
        message: "request",
        request_id: &scope.id,
        cf_ray: scope.cf_ray.as_deref(),
        trace_id: &scope.trace.trace_id,
        span_id: &scope.trace.span_id,
        method: outcome.method,
        route: journal.route,
        edge: edge.map(|edge| Edge {
            region: edge.region.as_str(),
            colo: edge.colo.as_deref(),
            city: edge.city,
        }),
        upstreams: &journal.tries,
        cache: outcome.cache,
        consistency: Consistency {
            presented: journal.token,
            issued: outcome.token_issued,
        },
        status: outcome.status,
        duration_ms: outcome.finished_ms.saturating_sub(scope.started_ms),
        bytes: outcome.bytes,
        error: journal.error.as_deref(),
    };
    serde_json::to_string(&line).unwrap_or_else(|e| {
        format!(
            r#"{{"level":"error","message":"request line unwritable: {e}","request_id":"{}"}}"#,
            scope.id
        )
    })
}

/// An error body (a JSON object with a `code`, `message` or GoTrue's `msg`) with
/// `request_id` added, so a customer can quote it; `None` for anything else (PostgREST's
/// bare `{}` of an unknown path stays as it is) or a body that already names one.
pub fn with_request_id(body: &[u8], id: &str) -> Option<Vec<u8>> {
    let mut object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(body).ok()?;
    let is_error = ["code", "message", "msg"]
        .iter()
        .any(|key| object.contains_key(*key));
    if !is_error || object.contains_key("request_id") {
        return None;
    }
    object.insert("request_id".into(), id.into());
    serde_json::to_vec(&object).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::{EdgeSource, GeoPoint, RegionCode};

    fn edge() -> EdgeLocation {
        EdgeLocation {
            region: RegionCode::parse("fra1").unwrap(),
            point: GeoPoint::new(6.45, 3.39).unwrap(),
            source: EdgeSource::CfColo,
            colo: Some("LOS".into()),
            city: Some("Lagos"),
        }
    }

    #[test]
    fn the_line_is_json_with_what_an_operator_asks() {
        let scope = RequestScope::begin(
            1_764_979_200_000,
            Some("quote-me-42"),
            None,
            Some("8d3c1b2a5e6f7a8b-LOS"),
        );
        scope.set_route("/api/v1/orders/{id}");
        scope.record_token(TokenOutcome::Honoured);
        scope.record_try(UpstreamTry {
            node: "replica:fra1".into(),
            status: Some(200),
            failure: None,
            sent_ms: 1_764_979_200_003,
            ms: 84,
            replica_wait_ms: Some(12),
        });
        let line = request_line(
            &scope,
            Some(&edge()),
            &Outcome {
                method: "GET",
                status: 200,
                bytes: Some(512),
                cache: None,
                token_issued: false,
                finished_ms: 1_764_979_200_090,
            },
        );
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "ts": "2025-12-06T00:00:00.090Z",
                "level": "info",
                "message": "request",
                "request_id": "quote-me-42",
                "cf_ray": "8d3c1b2a5e6f7a8b-LOS",
                "trace_id": scope.trace.trace_id,
                "span_id": scope.trace.span_id,
                "method": "GET",
                "route": "/api/v1/orders/{id}",
                "edge": {"region": "fra1", "colo": "LOS", "city": "Lagos"},
                "upstreams": [{"node": "replica:fra1", "status": 200, "ms": 84, "replica_wait_ms": 12}],
                "consistency": {"presented": "honoured", "issued": false},
                "status": 200,
                "duration_ms": 90,
                "bytes": 512,
            })
        );
        assert!(!line.contains('\n'), "one line");
    }

    #[test]
    fn error_bodies_gain_the_id_once() {
        let body = br#"{"code":"PHK404","message":"no such order"}"#;
        let with = with_request_id(body, "abc").unwrap();
        let value: serde_json::Value = serde_json::from_slice(&with).unwrap();
        assert_eq!(value["request_id"], "abc");
        assert_eq!(value["code"], "PHK404");
        assert_eq!(with_request_id(&with, "other"), None, "already named");
        assert_eq!(with_request_id(b"[1,2]", "abc"), None, "not an object");
        assert_eq!(with_request_id(b"{}", "abc"), None, "not an error");
        let gotrue = with_request_id(
            br#"{"code":400,"error_code":"weak_password","msg":"too short"}"#,
            "g",
        )
        .unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&gotrue).unwrap()["request_id"],
            "g"
        );
        assert_eq!(with_request_id(b"<html>", "abc"), None);
    }

    #[test]
    fn a_failed_request_is_an_error_line_with_its_reason() {
        let scope = RequestScope::begin(0, None, None, None);
        scope.record_try(UpstreamTry {
            node: "primary:iad1".into(),
            status: None,
            failure: Some("unreachable"),
            sent_ms: 1,
            ms: 2,
            replica_wait_ms: None,
        });
        scope.record_error("the primary (iad1) is unreachable: connection refused".into());
        let line = request_line(
            &scope,
            None,
            &Outcome {
                method: "POST",
                status: 503,
                finished_ms: 5,
                ..Outcome::default()
            },
        );
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["level"], "error");
        assert_eq!(value["route"], serde_json::Value::Null);
        assert_eq!(value["upstreams"][0]["failure"], "unreachable");
        assert_eq!(
            value["error"],
            "the primary (iad1) is unreachable: connection refused"
        );
    }
}
