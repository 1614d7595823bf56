//! Read-your-writes from Lagos under real lag, two ways on the same edge and links: the
//! replica waits for the client's write about as long as the next node would cost
//! (`RYW_REPLICA_WAIT_MS=auto`, as Cloudflare D1's sessions and LiteFS make replicas
//! wait), or refuses at once and the gateway sends the read on (`0`). fra1's WAL is
//! delayed by nothing extra, then by a short and a long congestion; each own read is
//! told apart by how it was served: by the replica at once, by the replica after
//! waiting, or by another node.

use std::time::Duration;

use super::wan::{Client, Series, pairs};
use crate::stack::Stack;
use crate::topology;
use crate::wan::{self, City};

/// How much later than the topology's own delay fra1's WAL arrives, per pass.
const LAGS_MS: [u64; 3] = [0, 200, 1500];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Wait,
    Forward,
}

impl Mode {
    fn setting(self) -> &'static str {
        match self {
            Mode::Wait => "auto",
            Mode::Forward => "0",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mode::Wait => "wait at the replica (`auto`)",
            Mode::Forward => "forward at once (`0`)",
        }
    }
}

/// One mode at one lag.
#[derive(Debug)]
pub(super) struct Pass {
    pub(super) lag_ms: u64,
    pub(super) mode: Mode,
    pub(super) reads: Series,
    /// Reads that did not find the client's own write: must be 0.
    pub(super) missed: usize,
}

impl Pass {
    /// Reads served by the replica at once, by the replica after waiting, and by
    /// another node.
    fn paths(&self, replica: &str) -> (usize, usize, usize) {
        let mut paths = (0, 0, 0);
        for s in &self.reads.0 {
            match (s.upstream.as_deref() == Some(replica), s.replica_wait_ms) {
                (true, Some(ms)) if ms > 0 => paths.1 += 1,
                (true, _) => paths.0 += 1,
                (false, _) => paths.2 += 1,
            }
        }
        paths
    }
}

/// Each mode at each lag from Lagos; the edge and the link are set back after.
pub(super) fn measure(stack: &Stack, samples: usize) -> anyhow::Result<Vec<Pass>> {
    let lagos = City::find("Lagos")?;
    let control = stack.wan().control();
    let link = wan::replication_link(topology::node("fra1")?);
    let before = control.state(&link)?;
    let measured = (|| {
        let mut passes = Vec::new();
        for mode in [Mode::Forward, Mode::Wait] {
            stack
                .wan()
                .relaunch_edge(lagos, &[("RYW_REPLICA_WAIT_MS", mode.setting())])?;
            let client = Client::new(lagos)?;
            for lag_ms in LAGS_MS {
                let mut late = before;
                late.down.delay += Duration::from_millis(lag_ms);
                control.set(&link, late)?;
                let own = pairs(&client, &wan::edge_url(lagos), samples, true)?;
                passes.push(Pass {
                    lag_ms,
                    mode,
                    reads: own.reads,
                    missed: own.missed,
                });
            }
        }
        Ok(passes)
    })();
    control.set(&link, before)?;
    stack.wan().relaunch_edge(lagos, &[])?;
    measured
}

/// The table, and for each lag which mode's p50 was lower.
pub(super) fn markdown(passes: &[Pass]) -> String {
    let mut out = String::from(
        "\n#### Read-your-writes from Lagos: waiting at the replica or forwarding\n\n\
         Own order read back right after placing it, token presented, the same edge and links; \
         fra1's WAL late by the extra delay shown on top of the topology's own.\n\n\
         | fra1's WAL extra delay | mode | p50 / p99 | fra1 at once | fra1 after waiting | another node | missed the write |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for p in passes {
        let (at_once, waited, forwarded) = p.paths("replica:fra1");
        out.push_str(&format!(
            "| {} ms | {} | {} | {at_once} | {waited} | {forwarded} | {} of {} |\n",
            p.lag_ms,
            p.mode.name(),
            p.reads.p50_p99(),
            p.missed,
            p.reads.0.len()
        ));
    }
    out.push('\n');
    let lags: std::collections::BTreeSet<u64> = passes.iter().map(|p| p.lag_ms).collect();
    for lag in lags {
        let p50 = |mode| {
            passes
                .iter()
                .find(|p| p.lag_ms == lag && p.mode == mode)
                .and_then(|p| p.reads.ttfb(50.0))
        };
        if let (Some(wait), Some(forward)) = (p50(Mode::Wait), p50(Mode::Forward)) {
            out.push_str(&format!(
                "- {lag} ms late: waiting {wait:.0} ms, forwarding {forward:.0} ms at p50: {} is faster ({:.2}x)\n",
                if wait <= forward { "waiting" } else { "forwarding" },
                wait.min(forward) / wait.max(forward).max(1.0)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::wan::Sample;
    use super::*;

    #[test]
    fn each_read_is_told_apart_by_its_path() {
        let at = |upstream: &str, wait: Option<u64>| Sample {
            ttfb_ms: 100.0,
            status: 200,
            upstream: Some(upstream.into()),
            calls: Some(1),
            replica_wait_ms: wait,
        };
        let pass = Pass {
            lag_ms: 100,
            mode: Mode::Wait,
            reads: Series(vec![
                at("replica:fra1", Some(0)),
                at("replica:fra1", None),
                at("replica:fra1", Some(40)),
                at("primary:iad1", None),
            ]),
            missed: 0,
        };
        assert_eq!(pass.paths("replica:fra1"), (2, 1, 1));
        let table = markdown(&[
            pass,
            Pass {
                lag_ms: 100,
                mode: Mode::Forward,
                reads: Series(vec![at("primary:iad1", None)]),
                missed: 0,
            },
        ]);
        assert!(
            table.contains(
                "| 100 ms | wait at the replica (`auto`) | 100 / 100 ms | 2 | 1 | 1 | 0 of 4 |"
            ),
            "{table}"
        );
        assert_eq!(table.matches("- 100 ms late:").count(), 1, "{table}");
    }
}
