//! What is known of one request and what is said of it afterwards: its id and trace
//! context ([`ids`]), the journal of what it went through (routing, upstream tries,
//! phases), then one JSON log line ([`log`]), `Server-Timing` ([`timing`]) and the
//! isolate's metrics and health history ([`history`]). Pure; the Workers glue that
//! creates the scope and writes the line is `edge::observe`.

pub mod history;
pub mod ids;
pub mod log;
pub mod timing;

use std::cell::RefCell;

use serde::Serialize;

use ids::TraceContext;

/// One request, from arrival to its log line. Shared by reference with every layer
/// that has something to record; single-threaded, so interior mutability is enough.
#[derive(Debug)]
pub struct RequestScope {
    pub id: String,
    /// Cloudflare's id of the same request, when it came through Cloudflare.
    pub cf_ray: Option<String>,
    pub trace: TraceContext,
    pub started_ms: u64,
    journal: RefCell<Journal>,
}

/// What a request went through, in the order it happened.
#[derive(Debug, Default, Clone)]
pub struct Journal {
    /// The route table's pattern, never the raw path (it may carry a download token).
    pub route: Option<&'static str>,
    /// When the caller's credentials were checked: start and end.
    pub auth_ms: Option<(u64, u64)>,
    pub tries: Vec<UpstreamTry>,
    pub token: TokenOutcome,
    /// Why the request failed, as the error's log line says it (bounded, no secrets).
    pub error: Option<String>,
}

/// One call sent to one node, or a node passed over.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpstreamTry {
    /// `primary:iad1`, `replica:fra1`.
    pub node: String,
    /// The node's status, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why there was no answer: `unreachable`, `timeout`, `shed`, `bad_response`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<&'static str>,
    /// When it was sent, in ms since the epoch (not logged: `ms` says the rest).
    #[serde(skip)]
    pub sent_ms: u64,
    pub ms: u64,
    /// How long a replica waited for the client's last write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica_wait_ms: Option<u64>,
}

/// The read-your-writes token the client presented.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenOutcome {
    #[default]
    None,
    /// Valid: the read was held to the client's last write.
    Honoured,
    /// Expired, forged or malformed: ignored, the read went as a tokenless one.
    Ignored,
}

impl TokenOutcome {
    pub fn of<T, E>(presented: Option<&Result<T, E>>) -> TokenOutcome {
        match presented {
            None => TokenOutcome::None,
            Some(Ok(_)) => TokenOutcome::Honoured,
            Some(Err(_)) => TokenOutcome::Ignored,
        }
    }
}

impl RequestScope {
    /// A request arriving at `now_ms` with these headers' values.
    pub fn begin(
        now_ms: u64,
        request_id: Option<&str>,
        traceparent: Option<&str>,
        cf_ray: Option<&str>,
    ) -> RequestScope {
        let cf_ray = cf_ray.and_then(ids::accepted_request_id).map(str::to_owned);
        RequestScope {
            id: request_id
                .and_then(ids::accepted_request_id)
                .map(str::to_owned)
                .unwrap_or_else(|| ids::random_hex(16)),
            cf_ray,
            trace: TraceContext::continue_or_start(traceparent),
            started_ms: now_ms,
            journal: RefCell::new(Journal::default()),
        }
    }

    /// The headers every upstream call of this request carries, so PostgREST's and
    /// PostgreSQL's lines of it can be found by the same id. PostgREST 12's access log
    /// has a fixed format whose only client-chosen field is the user agent.
    pub fn upstream_headers(&self) -> [(&'static str, String); 3] {
        [
            (ids::REQUEST_ID_HEADER, self.id.clone()),
            (ids::TRACEPARENT_HEADER, self.trace.traceparent()),
            ("user-agent", format!("payhuk-edge request-id={}", self.id)),
        ]
    }

    pub fn set_route(&self, pattern: &'static str) {
        self.journal.borrow_mut().route = Some(pattern);
    }

    pub fn record_auth(&self, started_ms: u64, ended_ms: u64) {
        self.journal.borrow_mut().auth_ms = Some((started_ms, ended_ms));
    }

    pub fn record_try(&self, attempt: UpstreamTry) {
        self.journal.borrow_mut().tries.push(attempt);
    }

    pub fn record_token(&self, outcome: TokenOutcome) {
        self.journal.borrow_mut().token = outcome;
    }

    /// Keeps the first failure: a later one is its consequence.
    pub fn record_error(&self, line: String) {
        self.journal.borrow_mut().error.get_or_insert(line);
    }

    pub fn journal(&self) -> Journal {
        self.journal.borrow().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_keeps_a_sane_id_and_sends_it_upstream() {
        let scope = RequestScope::begin(
            1_000,
            Some("checkout-7f3a"),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            Some("8d3c1b2a5e6f7a8b-LOS"),
        );
        assert_eq!(scope.id, "checkout-7f3a");
        assert_eq!(scope.cf_ray.as_deref(), Some("8d3c1b2a5e6f7a8b-LOS"));
        let headers = scope.upstream_headers();
        assert_eq!(headers[0], ("x-request-id", "checkout-7f3a".into()));
        assert!(
            headers[1]
                .1
                .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-")
        );
        assert!(headers[2].1.contains("request-id=checkout-7f3a"));

        let made_up = RequestScope::begin(1_000, Some("not an id"), None, None);
        assert_eq!(made_up.id.len(), 32);
        assert_ne!(made_up.id, "not an id");
    }

    #[test]
    fn the_first_error_is_the_one_kept() {
        let scope = RequestScope::begin(0, None, None, None);
        scope.record_error("the primary is unreachable".into());
        scope.record_error("no region can serve".into());
        assert_eq!(
            scope.journal().error.as_deref(),
            Some("the primary is unreachable")
        );
    }
}
