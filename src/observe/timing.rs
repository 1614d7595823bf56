//! `Server-Timing` (<https://www.w3.org/TR/server-timing/>) of a request's phases:
//! `auth` (checking the caller's credentials), `route` (from then to the first upstream
//! call: the health view, the admission queue), `upstream` (every call sent, named by
//! the node that answered last), `replica-wait` (a replica holding the read for the
//! client's write) and `total`. Workers' clocks advance only across I/O, so a phase of
//! pure computation reads 0.

use super::Journal;

pub fn server_timing(journal: &Journal, started_ms: u64, finished_ms: u64) -> String {
    let mut metrics = Vec::new();
    if let Some((from, to)) = journal.auth_ms {
        metrics.push(format!("auth;dur={}", to.saturating_sub(from)));
    }
    if let Some(first) = journal.tries.first() {
        let routed_from = journal.auth_ms.map_or(started_ms, |(_, to)| to);
        metrics.push(format!(
            "route;dur={}",
            first.sent_ms.saturating_sub(routed_from)
        ));
        let spent: u64 = journal.tries.iter().map(|t| t.ms).sum();
        let last = journal.tries.last().unwrap_or(first);
        metrics.push(format!("upstream;desc=\"{}\";dur={spent}", last.node));
        if let Some(ms) = last.replica_wait_ms {
            metrics.push(format!("replica-wait;dur={ms}"));
        }
    }
    metrics.push(format!(
        "total;dur={}",
        finished_ms.saturating_sub(started_ms)
    ));
    metrics.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::UpstreamTry;

    fn sent(node: &str, sent_ms: u64, ms: u64, status: Option<u16>) -> UpstreamTry {
        UpstreamTry {
            node: node.into(),
            status,
            failure: status.is_none().then_some("timeout"),
            sent_ms,
            ms,
            replica_wait_ms: None,
        }
    }

    #[test]
    fn phases_follow_each_other_and_upstream_sums_the_tries() {
        let journal = Journal {
            auth_ms: Some((1_000, 1_002)),
            tries: vec![
                sent("replica:fra1", 1_005, 40, None),
                UpstreamTry {
                    replica_wait_ms: Some(7),
                    ..sent("primary:iad1", 1_045, 90, Some(200))
                },
            ],
            ..Journal::default()
        };
        assert_eq!(
            server_timing(&journal, 1_000, 1_140),
            "auth;dur=2, route;dur=3, upstream;desc=\"primary:iad1\";dur=130, \
             replica-wait;dur=7, total;dur=140"
        );
    }

    #[test]
    fn a_request_without_upstream_calls_has_its_total_alone() {
        assert_eq!(server_timing(&Journal::default(), 500, 500), "total;dur=0");
    }
}
