//! Reads routed by measured round trips where that differs from distance: Lagos's link
//! to fra1 congested (its round trip [`CONGESTION_MS`] longer, as a saturated submarine
//! cable makes it), so the nearest replica by distance is no longer the soonest. The
//! edge learns it from its probes (a moving average, with distance as the prior); the
//! bench shows the choice before and after, how long the edge took to change it, and
//! what reads cost through the edge against what fra1 costs over that link.

use std::time::{Duration, Instant};

use anyhow::Context;

use super::wan::{Client, Measure, Sample, Series};
use crate::stack::Stack;
use crate::topology::{self, DEMO_PRODUCT};
use crate::wan::{self, City};

/// Added to the round trip of Lagos's link to fra1.
pub(super) const CONGESTION_MS: u64 = 300;
/// How long the edge has to notice.
const LEARN_WITHIN: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub(super) struct Congested {
    pub(super) by_distance: String,
    /// Through the edge, the link as the topology has it.
    pub(super) before: Series,
    /// How long after the congestion began the edge first read elsewhere.
    pub(super) switched_after: Option<Duration>,
    /// Through the edge once it changed its choice.
    pub(super) after: Series,
    /// fra1's PostgREST straight over the congested link: what distance alone would pay.
    pub(super) over_link: Series,
}

pub(super) fn measure(stack: &Stack, samples: usize) -> anyhow::Result<Congested> {
    let lagos = City::find("Lagos")?;
    let fra1 = topology::node("fra1")?;
    let client = Client::new(lagos)?;
    let edge = wan::edge_url(lagos);
    let reads = |n: usize| -> anyhow::Result<Series> {
        let mut series = Series::default();
        for _ in 0..n {
            series
                .0
                .push(client.send(&edge, Measure::Read, None, None)?.sample);
        }
        Ok(series)
    };
    let by_distance = wan::read_target_by_distance(lagos);
    let before = reads(samples)?;

    let control = stack.wan().control();
    let link = wan::edge_link(lagos, fra1);
    let normal = control.state(&link)?;
    let mut slow = normal;
    slow.up.delay += Duration::from_millis(CONGESTION_MS / 2);
    slow.down.delay += Duration::from_millis(CONGESTION_MS / 2);
    control.set(&link, slow)?;
    let measured = (|| {
        let congested_at = Instant::now();
        let mut switched_after = None;
        while congested_at.elapsed() < LEARN_WITHIN {
            let sample = client.send(&edge, Measure::Read, None, None)?.sample;
            if sample.upstream.as_deref().is_some_and(|u| u != by_distance) {
                switched_after = Some(congested_at.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let after = reads(samples)?;
        let over_link = straight_over(lagos, fra1, samples)?;
        Ok(Congested {
            by_distance: by_distance.clone(),
            before,
            switched_after,
            after,
            over_link,
        })
    })();
    control.set(&link, normal)?;
    measured
}

/// The same single-row read at `node`'s PostgREST through `city`'s relay link.
fn straight_over(city: &City, node: &topology::Node, samples: usize) -> anyhow::Result<Series> {
    let agent = crate::load::agent();
    let url = format!(
        "http://127.0.0.1:{}/products?id=eq.{DEMO_PRODUCT}&select=*",
        city.relay_port(node)
    );
    let anon = topology::anon_key();
    let mut series = Series::default();
    for _ in 0..samples {
        let started = Instant::now();
        let response = agent
            .get(&url)
            .set("apikey", &anon)
            .call()
            .with_context(|| format!("GET {url}"))?;
        series.0.push(Sample {
            ttfb_ms: started.elapsed().as_secs_f64() * 1000.0,
            status: response.status(),
            upstream: Some(format!("replica:{} (direct)", node.region)),
            calls: Some(1),
            replica_wait_ms: None,
        });
    }
    Ok(series)
}

pub(super) fn markdown(c: &Congested) -> String {
    format!(
        "\n### Measured round trips against distance (Lagos, its link to fra1 {CONGESTION_MS} ms slower)\n\n\
         By distance alone Lagos reads from {}. With the link congested, the edge read \
         elsewhere after {} (its probes' moving average).\n\n\
         | single-row read from Lagos | served by | p50 / p99 |\n|---|---|---|\n\
         | through the edge, the link as usual | {} | {} |\n\
         | through the edge, the link congested, once the edge changed its choice | {} | {} |\n\
         | fra1's PostgREST straight over the congested link (distance's choice; a client of its own, its connects included) | {} | {} |\n",
        c.by_distance,
        c.switched_after.map_or_else(
            || format!("**never within {} s**", LEARN_WITHIN.as_secs()),
            |d| format!("{:.1} s", d.as_secs_f64())
        ),
        c.before.served_by(),
        c.before.p50_p99(),
        c.after.served_by(),
        c.after.p50_p99(),
        c.over_link.served_by(),
        c.over_link.p50_p99(),
    )
}
