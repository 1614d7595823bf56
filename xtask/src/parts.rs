//! The parts of the local stack and whether each one answers: what `cargo xtask status`
//! prints and what `cargo xtask up` restarts. A pid says a process exists; only an
//! answer says it serves (a wrangler whose workerd died still has its pid).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PartKind {
    Postgresql,
    Postgrest,
    Gateway,
    Storefront,
    /// The payment providers' sandbox.
    Sandbox,
    /// The WAN topology's relay process.
    Relay,
    /// One city's edge in the WAN topology.
    Edge,
}

/// One part as `status` found it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Part {
    pub name: String,
    pub kind: PartKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<&'static str>,
    /// The customer city an edge serves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub port: u16,
    /// The process the stack started (for the gateway, wrangler; for PostgreSQL, the
    /// postmaster), when it is alive.
    pub pid: Option<i32>,
    /// It answered a request of its own kind just now: `/health`, PostgREST's root,
    /// `select 1`, a page.
    pub answering: bool,
    /// What it said (a node's replication state), or why it did not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Part {
    /// One line of `cargo xtask status`.
    pub fn line(&self) -> String {
        let state = match (self.answering, self.pid) {
            (true, Some(pid)) => format!("answering (pid {pid})"),
            (true, None) => "answering (not started by the stack)".to_owned(),
            (false, Some(pid)) => format!("DOWN: pid {pid} runs but does not answer"),
            (false, None) => "DOWN: not running".to_owned(),
        };
        let mut line = format!("{} :{}: {state}", self.name, self.port);
        if let Some(detail) = &self.detail {
            line.push_str(" | ");
            line.push_str(detail);
        }
        line
    }
}

/// The names of the parts that do not answer, or `None` when all do.
pub fn down(parts: &[Part]) -> Option<String> {
    let down: Vec<&str> = parts
        .iter()
        .filter(|p| !p.answering)
        .map(|p| p.name.as_str())
        .collect();
    (!down.is_empty()).then(|| down.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(name: &str, pid: Option<i32>, answering: bool) -> Part {
        Part {
            name: name.into(),
            kind: PartKind::Gateway,
            region: None,
            city: None,
            url: Some("http://127.0.0.1:8787".into()),
            port: 8787,
            pid,
            answering,
            detail: None,
        }
    }

    #[test]
    fn a_live_pid_that_does_not_answer_is_down() {
        let zombie = part("gateway", Some(42), false);
        assert_eq!(
            zombie.line(),
            "gateway :8787: DOWN: pid 42 runs but does not answer"
        );
        assert_eq!(
            down(&[part("a", Some(1), true), zombie]).as_deref(),
            Some("gateway")
        );
        assert_eq!(down(&[part("a", Some(1), true)]), None);
    }

    #[test]
    fn json_names_the_kind_in_lowercase_and_skips_what_is_unknown() {
        let json = serde_json::to_value(part("gateway", None, false)).unwrap();
        assert_eq!(json["kind"], "gateway");
        assert_eq!(json["pid"], serde_json::Value::Null);
        assert_eq!(json["answering"], false);
        assert!(json.get("region").is_none());
    }
}
