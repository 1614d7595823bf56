//! `cargo xtask bench --wan`: what a customer in each city gets through its edge on the
//! WAN topology (`up --wan`), and in the same run two baselines through the same edge
//! and links: "single region" (the same bundle configured with the primary alone, a
//! Supabase project without replicas) and "nearest replica without read-your-writes"
//! (this gateway read without the consistency token, as geo-routing without session
//! consistency serves it), with how many of those reads missed the client's own write.
//!
//! Time to first byte of each request, sequential per city (the six cities at once, on
//! their own edges), after a warm-up so no isolate is cold. Then every `/api/v1` route
//! from Lagos with its upstream calls ([`super::routes`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use plotters::prelude::*;
use serde_json::{Value, json};

use crate::drill::percentile;
use crate::paths::Paths;
use crate::stack::Stack;
use crate::topology::{self, DEMO_CUSTOMER_EMAIL, DEMO_PASSWORD, DEMO_PRODUCT};
use crate::wan::{self, CITIES, City};
use crate::{build, ui};

const DOC: &str = "docs/BENCHMARKS.md";
const CHART: &str = "docs/bench-wan.svg";
const WARM_UP: usize = 2;
const WEST_AFRICA: [&str; 3] = ["Lagos", "Abidjan", "Dakar"];

/// What is measured, in the order of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Measure {
    Read,
    Listing,
    CachedListing,
    Login,
    Order,
    /// The client's own order read back right after placing it, token presented.
    OwnRead,
}

const MEASURES: [Measure; 6] = [
    Measure::Read,
    Measure::Listing,
    Measure::CachedListing,
    Measure::Login,
    Measure::Order,
    Measure::OwnRead,
];

impl Measure {
    fn name(self) -> &'static str {
        match self {
            Measure::Read => "single-row read (`/rest/v1/products?id=eq.…`)",
            Measure::Listing => "listing (`/rest/v1/products?…&limit=20`)",
            Measure::CachedListing => "cached listing (`/api/v1/products?limit=20`)",
            Measure::Login => "login (`POST /api/v1/auth/login`)",
            Measure::Order => "place an order (`POST /api/v1/orders`)",
            Measure::OwnRead => "own order right after placing it, token presented",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Measure::Read => "read",
            Measure::Listing => "listing",
            Measure::CachedListing => "cached",
            Measure::Login => "login",
            Measure::Order => "order",
            Measure::OwnRead => "own read",
        }
    }
}

/// One request's answer.
#[derive(Debug, Clone)]
pub(super) struct Sample {
    pub(super) ttfb_ms: f64,
    pub(super) status: u16,
    pub(super) upstream: Option<String>,
    pub(super) calls: Option<u32>,
    /// How long the replica that served waited for the client's write (`Server-Timing`).
    pub(super) replica_wait_ms: Option<u64>,
}

#[derive(Debug, Default, Clone)]
pub(super) struct Series(pub(super) Vec<Sample>);

impl Series {
    pub(super) fn ttfb(&self, p: f64) -> Option<f64> {
        let values: Vec<f64> = self.0.iter().map(|s| s.ttfb_ms).collect();
        percentile(&values, p)
    }

    fn failures(&self) -> usize {
        self.0
            .iter()
            .filter(|s| !(200..300).contains(&s.status))
            .count()
    }

    /// Each distinct value of `pick` with its count, most frequent first.
    fn tally<T: Ord + Clone>(&self, pick: impl Fn(&Sample) -> Option<T>) -> Vec<(T, usize)> {
        let mut counts: BTreeMap<T, usize> = BTreeMap::new();
        for sample in &self.0 {
            if let Some(v) = pick(sample) {
                *counts.entry(v).or_default() += 1;
            }
        }
        let mut all: Vec<(T, usize)> = counts.into_iter().collect();
        all.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        all
    }

    pub(super) fn served_by(&self) -> String {
        let tally = self.tally(|s| s.upstream.clone());
        if tally.is_empty() {
            return "-".into();
        }
        tally
            .iter()
            .map(|(u, n)| format!("{u} ×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn calls(&self) -> String {
        let tally = self.tally(|s| s.calls);
        if tally.is_empty() {
            return "-".into();
        }
        tally
            .iter()
            .map(|(c, n)| {
                if tally.len() == 1 {
                    c.to_string()
                } else {
                    format!("{c} ×{n}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub(super) fn p50_p99(&self) -> String {
        match (self.ttfb(50.0), self.ttfb(99.0)) {
            (Some(p50), Some(p99)) => format!("{p50:.0} / {p99:.0} ms"),
            _ => "-".into(),
        }
    }
}

/// The replica's wait in a `Server-Timing` value (`replica-wait;dur=N`).
fn replica_wait(server_timing: &str) -> Option<u64> {
    server_timing
        .split(',')
        .find_map(|metric| metric.trim().strip_prefix("replica-wait;dur="))
        .and_then(|ms| ms.trim().parse().ok())
}

/// One city's figures.
#[derive(Debug, Default)]
struct CityRun {
    ours: BTreeMap<Measure, Series>,
    single: BTreeMap<Measure, Series>,
    /// The own order read back without the token (the geo-routing baseline), and how
    /// many of those reads did not find it.
    geo_own_read: Series,
    geo_missed: usize,
    /// Reads presenting the token that did not find the order: must be 0.
    ryw_missed: usize,
    /// The same pairs with the nearest replica's WAL arriving [`LAG_MS`] late (Lagos).
    lagged: Option<Lagged>,
    /// The storefront through this city's edge (every city; Lagos alone with --quick).
    vitals: Option<Vitals>,
}

/// Own reads while the replica the city reads from lags for real.
#[derive(Debug)]
struct Lagged {
    with_token: Pairs,
    without_token: Pairs,
}

/// The storefront as Lighthouse measured it from one city, through that city's edge.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Vitals {
    lcp_ms: f64,
    cls: f64,
    tbt_ms: f64,
    /// The page's own document (the storefront's static host, in the city).
    ttfb_ms: f64,
}

impl Vitals {
    /// From a Lighthouse JSON report.
    fn from_report(report: &Value) -> anyhow::Result<Vitals> {
        if let Some(error) = report.get("runtimeError").filter(|e| !e.is_null()) {
            bail!("Lighthouse could not measure the page: {error}");
        }
        let audit = |name: &str| {
            report["audits"][name]["numericValue"]
                .as_f64()
                .with_context(|| format!("the Lighthouse report has no {name}"))
        };
        Ok(Vitals {
            lcp_ms: audit("largest-contentful-paint")?,
            cls: audit("cumulative-layout-shift")?,
            tbt_ms: audit("total-blocking-time")?,
            ttfb_ms: audit("server-response-time")?,
        })
    }
}

/// Lighthouse (npm, in Debian's Chromium) on the storefront pointed at `city`'s edge:
/// desktop, no simulated throttling (the relays are the network), performance only.
fn lighthouse(paths: &Paths, city: &City) -> anyhow::Result<Vitals> {
    let dir = paths.root.join("target/lighthouse");
    std::fs::create_dir_all(&dir)?;
    let report = dir.join(format!("{}.json", city.slug()));
    let url = format!(
        "{}/?gateway=http://localhost:{}",
        topology::storefront_origin(),
        city.edge_port
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    crate::cmd::run(
        std::process::Command::new(paths.npm_bin("lighthouse"))
            .arg(&url)
            .args([
                "--quiet",
                "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
                "--only-categories=performance",
                "--throttling-method=provided",
                "--form-factor=desktop",
                "--screenEmulation.disabled",
                "--output=json",
            ])
            .arg(format!("--output-path={}", report.display()))
            .env("CHROME_PATH", chromium),
    )
    .with_context(|| format!("Lighthouse from {}", city.name))?;
    let text = std::fs::read_to_string(&report)
        .with_context(|| format!("reading {}", report.display()))?;
    Vitals::from_report(&serde_json::from_str(&text)?)
}

/// How late fra1's WAL arrives in the lagged pass: a congested ocean crossing.
const LAG_MS: u64 = 1500;

/// One answer: what was measured, its body, and the consistency token it carried.
pub(super) struct Answer {
    pub(super) sample: Sample,
    body: String,
    consistency: Option<String>,
}

/// One city's client: its edges, a session, and the requests of each measure.
pub(super) struct Client {
    agent: ureq::Agent,
    city: &'static City,
    bearer: String,
    anon: String,
}

impl Client {
    pub(super) fn new(city: &'static City) -> anyhow::Result<Client> {
        let agent = crate::load::agent();
        let mut client = Client {
            agent,
            city,
            bearer: String::new(),
            anon: topology::anon_key(),
        };
        let Answer {
            sample: login,
            body,
            ..
        } = client.send(&wan::edge_url(city), Measure::Login, None, None)?;
        if login.status != 200 {
            bail!(
                "{}: the demo customer's login answered {}: {body}",
                city.name,
                login.status
            );
        }
        let session: Value = serde_json::from_str(&body)?;
        client.bearer = format!(
            "Bearer {}",
            session["access_token"]
                .as_str()
                .context("the login answer has no access_token")?
        );
        Ok(client)
    }

    /// One request of `measure` to the edge at `base`; `token` is presented as the
    /// consistency token, `id` is the order an own-read asks for.
    pub(super) fn send(
        &self,
        base: &str,
        measure: Measure,
        token: Option<&str>,
        id: Option<&str>,
    ) -> anyhow::Result<Answer> {
        let product = DEMO_PRODUCT;
        let (method, path, body) = match measure {
            Measure::Read => (
                "GET",
                format!("/rest/v1/products?id=eq.{product}&select=*"),
                None,
            ),
            Measure::Listing => (
                "GET",
                "/rest/v1/products?select=id,name,price_minor,currency&published=eq.true&order=id&limit=20".into(),
                None,
            ),
            Measure::CachedListing => ("GET", "/api/v1/products?limit=20".into(), None),
            Measure::Login => (
                "POST",
                "/api/v1/auth/login".into(),
                Some(json!({"email": DEMO_CUSTOMER_EMAIL, "password": DEMO_PASSWORD})),
            ),
            Measure::Order => (
                "POST",
                "/api/v1/orders".into(),
                Some(json!({"items": [{"product_id": product, "quantity": 1}]})),
            ),
            Measure::OwnRead => (
                "GET",
                format!("/api/v1/orders/{}", id.context("an own-read needs the order")?),
                None,
            ),
        };
        let mut request = self
            .agent
            .request(method, &format!("{base}{path}"))
            .set("apikey", &self.anon);
        if matches!(measure, Measure::Order | Measure::OwnRead) {
            request = request.set("authorization", &self.bearer);
        }
        if measure == Measure::Order {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            request = request.set(
                "idempotency-key",
                &format!("bench-wan-{}-{nanos}", self.city.slug()),
            );
        }
        if let Some(token) = token {
            request = request.set("x-payhuk-consistency", token);
        }
        let started = Instant::now();
        let answer = match body {
            Some(body) => request.send_json(body),
            None => request.call(),
        };
        let ttfb_ms = started.elapsed().as_secs_f64() * 1000.0;
        let response = match answer {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => bail!("{} {method} {path}: {e}", self.city.name),
        };
        let sample = Sample {
            ttfb_ms,
            status: response.status(),
            upstream: response.header("x-payhuk-upstream").map(str::to_owned),
            calls: response
                .header("x-payhuk-upstream-calls")
                .and_then(|v| v.parse().ok()),
            replica_wait_ms: response.header("server-timing").and_then(replica_wait),
        };
        let consistency = response.header("x-payhuk-consistency").map(str::to_owned);
        let body = response.into_string().unwrap_or_default();
        Ok(Answer {
            sample,
            body,
            consistency,
        })
    }

    /// Places an order at `base`: the sample, the order's id and its token.
    fn order(&self, base: &str) -> anyhow::Result<(Sample, String, Option<String>)> {
        let Answer {
            sample,
            body,
            consistency,
        } = self.send(base, Measure::Order, None, None)?;
        let order: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let id = order["id"]
            .as_str()
            .filter(|_| consistency.is_some())
            .map(str::to_owned)
            .with_context(|| {
                format!(
                    "{}: an order answered {} without an id and a consistency token: {body}",
                    self.city.name, sample.status
                )
            })?;
        Ok((sample, id, consistency))
    }
}

fn measure_city(city: &'static City, samples: usize) -> anyhow::Result<CityRun> {
    let client = Client::new(city)?;
    let (ours, single) = (wan::edge_url(city), wan::single_region_url(city));
    let mut run = CityRun::default();
    for measure in [
        Measure::Read,
        Measure::Listing,
        Measure::CachedListing,
        Measure::Login,
    ] {
        for (base, into) in [(&ours, &mut run.ours), (&single, &mut run.single)] {
            for i in 0..WARM_UP + samples {
                let sample = client.send(base, measure, None, None)?.sample;
                if i >= WARM_UP {
                    into.entry(measure).or_default().0.push(sample);
                }
            }
        }
    }
    let mine = pairs(&client, &ours, samples, true)?;
    run.ryw_missed = mine.missed;
    run.ours.insert(Measure::Order, mine.orders);
    run.ours.insert(Measure::OwnRead, mine.reads);
    // Geo-routing without session consistency: the same read, no token.
    let geo = pairs(&client, &ours, samples, false)?;
    run.geo_missed = geo.missed;
    run.geo_own_read = geo.reads;
    // Single region: everything on the primary.
    let single = pairs(&client, &single, samples, true)?;
    run.single.insert(Measure::Order, single.orders);
    run.single.insert(Measure::OwnRead, single.reads);
    Ok(run)
}

/// Orders placed at one edge, each read back at once.
#[derive(Debug, Default)]
pub(super) struct Pairs {
    orders: Series,
    pub(super) reads: Series,
    /// Reads that did not find the order just placed.
    pub(super) missed: usize,
}

/// `samples` orders placed at `base`, each read back right after, presenting the
/// order's consistency token or not.
pub(super) fn pairs(
    client: &Client,
    base: &str,
    samples: usize,
    token: bool,
) -> anyhow::Result<Pairs> {
    let mut pairs = Pairs::default();
    for i in 0..WARM_UP + samples {
        let (placed, id, consistency) = client.order(base)?;
        let presented = consistency.as_deref().filter(|_| token);
        let read = client
            .send(base, Measure::OwnRead, presented, Some(&id))?
            .sample;
        if i >= WARM_UP {
            pairs.missed += usize::from(read.status == 404);
            pairs.orders.0.push(placed);
            pairs.reads.0.push(read);
        }
    }
    Ok(pairs)
}

/// Own reads from Lagos, with the token and without, while fra1's replication link is
/// [`LAG_MS`] slower; set back after.
fn lagged_own_reads(stack: &Stack, samples: usize) -> anyhow::Result<Lagged> {
    let control = stack.wan().control();
    let link = wan::replication_link(topology::node("fra1")?);
    let before = control.state(&link)?;
    let mut slow = before;
    slow.down.delay += Duration::from_millis(LAG_MS);
    control.set(&link, slow)?;
    let measured = (|| {
        let lagos = City::find("Lagos")?;
        let client = Client::new(lagos)?;
        let ours = wan::edge_url(lagos);
        Ok(Lagged {
            with_token: pairs(&client, &ours, samples, true)?,
            without_token: pairs(&client, &ours, samples, false)?,
        })
    })();
    control.set(&link, before)?;
    measured
}

pub fn run(paths: &Paths, quick: bool) -> anyhow::Result<()> {
    build::run(paths)?;
    measure(paths, quick)
}

/// [`run`] on the bundle as built (as `cargo xtask test` has it).
pub fn measure(paths: &Paths, quick: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut stack = Stack::open()?;
    stack.up_wan()?;
    let samples = if quick { 4 } else { 40 };
    ui::header(&format!(
        "bench --wan: {samples} requests per figure per city, after {WARM_UP} warm-up"
    ));
    stack.wan().start_single_region_edges()?;
    let measured = measure_all(samples);
    stack
        .wan()
        .stop_single_region_edges(Duration::from_secs(5))?;
    let mut runs = measured?;
    ui::detail(&format!(
        "Lagos again, fra1's replication {LAG_MS} ms late (real lag)"
    ));
    let lagged = lagged_own_reads(&stack, samples)?;
    if let Some((_, lagos)) = runs.iter_mut().find(|(c, _)| c.name == "Lagos") {
        lagos.lagged = Some(lagged);
    }
    ui::detail(
        "Lagos: read-your-writes waiting at the replica vs forwarding, fra1's WAL late by 0, 200 and 1500 ms",
    );
    let ryw = super::ryw_wait::measure(&stack, samples)?;
    ui::detail(&format!(
        "Lagos: its link to fra1 {} ms slower, measured routing against distance",
        super::congested::CONGESTION_MS
    ));
    let congested = super::congested::measure(&stack, samples)?;
    let lagos = City::find("Lagos")?;
    ui::detail("every /api/v1 route from Lagos, with its upstream calls");
    let routes = super::routes::walk(lagos)?;
    // After the API figures, one city at a time: Chromium would crowd the machine.
    for (city, run) in runs.iter_mut() {
        if quick && city.name != "Lagos" {
            continue;
        }
        ui::detail(&format!("Lighthouse: the storefront from {}", city.name));
        run.vitals = Some(lighthouse(paths, city)?);
    }

    let (mut table, _) = markdown(&runs);
    table.push_str(&super::ryw_wait::markdown(&ryw));
    table.push_str(&super::congested::markdown(&congested));
    table.push_str(&super::routes::markdown(lagos, &routes));
    ui::header(&format!("bench --wan results ({})", ui::elapsed(started)));
    print!("{table}");
    if quick {
        ui::detail("--quick: a smoke run; figures are not recorded");
    } else {
        chart(&paths.root.join(CHART), &runs)?;
        ui::detail(&format!("chart in {CHART}"));
        crate::record::between_markers(paths, DOC, "wan", "cargo xtask bench --wan", &table)?;
    }
    Ok(())
}

fn measure_all(samples: usize) -> anyhow::Result<Vec<(&'static City, CityRun)>> {
    let handles: Vec<_> = CITIES
        .iter()
        .map(|city| {
            (
                city,
                std::thread::spawn(move || measure_city(city, samples)),
            )
        })
        .collect();
    handles
        .into_iter()
        .map(|(city, handle)| {
            let run = handle
                .join()
                .map_err(|_| anyhow::anyhow!("{}'s client panicked", city.name))??;
            ui::detail(&format!("{} measured", city.name));
            Ok((city, run))
        })
        .collect()
}

fn ratio(ours: Option<f64>, baseline: Option<f64>) -> Option<f64> {
    match (ours, baseline) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**NOT met**" }
}

/// The tables (one per city) and the targets' verdicts.
fn markdown(runs: &[(&'static City, CityRun)]) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut verdicts = Vec::new();
    for (city, run) in runs {
        out.push_str(&format!(
            "\n#### {} (colo {})\n\n| request | this gateway p50 / p99 | served by | upstream calls | single region p50 / p99 | p50 ratio |\n|---|---|---|---|---|---|\n",
            city.name, city.colo
        ));
        let empty = Series::default();
        for measure in MEASURES {
            let ours = run.ours.get(&measure).unwrap_or(&empty);
            let single = run.single.get(&measure).unwrap_or(&empty);
            let failed = ours.failures() + single.failures();
            out.push_str(&format!(
                "| {}{} | {} | {} | {} | {} | {} |\n",
                measure.name(),
                if failed > 0 {
                    format!(" ({failed} not 2xx)")
                } else {
                    String::new()
                },
                ours.p50_p99(),
                ours.served_by(),
                ours.calls(),
                single.p50_p99(),
                ratio(ours.ttfb(50.0), single.ttfb(50.0))
                    .map_or("-".into(), |r| format!("{r:.2}x")),
            ));
        }
        out.push_str(&format!(
            "| own order right after placing it, no token (nearest replica without read-your-writes) | {} | {} | {} | - | {} of {} missed the write (with the token: {} missed) |\n",
            run.geo_own_read.p50_p99(),
            run.geo_own_read.served_by(),
            run.geo_own_read.calls(),
            run.geo_missed,
            run.geo_own_read.0.len(),
            run.ryw_missed,
        ));
        if let Some(lagged) = &run.lagged {
            out.push_str(&format!(
                "| own order right after placing it, token presented, fra1's WAL {LAG_MS} ms late | {} | {} | {} | - | {} of {} missed |\n\
                 | own order right after placing it, no token, fra1's WAL {LAG_MS} ms late | {} | {} | {} | - | {} of {} missed the write |\n",
                lagged.with_token.reads.p50_p99(),
                lagged.with_token.reads.served_by(),
                lagged.with_token.reads.calls(),
                lagged.with_token.missed,
                lagged.with_token.reads.0.len(),
                lagged.without_token.reads.p50_p99(),
                lagged.without_token.reads.served_by(),
                lagged.without_token.reads.calls(),
                lagged.without_token.missed,
                lagged.without_token.reads.0.len(),
            ));
        }
        let measured = run
            .ours
            .get(&Measure::Read)
            .and_then(|s| s.tally(|x| x.upstream.clone()).first().cloned())
            .map_or_else(|| "-".to_owned(), |(u, _)| u);
        let by_distance = wan::read_target_by_distance(city);
        out.push_str(&format!(
            "\nReads by measured round trip: {measured}; by distance alone: {by_distance}{}.\n",
            if measured == by_distance {
                " (the same)"
            } else {
                " (**they differ**)"
            }
        ));

        let p50 = |series: Option<&Series>| series.and_then(|s| s.ttfb(50.0));
        if WEST_AFRICA.contains(&city.name) {
            let r = ratio(
                p50(run.ours.get(&Measure::Read)),
                p50(run.single.get(&Measure::Read)),
            );
            verdicts.push(format!(
                "{}: uncached read p50 {} the single-region baseline (target at most 0.70x): {}",
                city.name,
                r.map_or("-".into(), |r| format!("{r:.2}x")),
                verdict(r.is_some_and(|r| r <= 0.7))
            ));
        }
        if city.name == "Lagos" {
            let r = ratio(
                p50(run.ours.get(&Measure::OwnRead)),
                run.geo_own_read.ttfb(50.0),
            );
            verdicts.push(format!(
                "Lagos: read-your-writes read p50 {} a plain nearest-replica read (target at most 1.20x), {} stale (target 0; without the token {} of {} missed): {}",
                r.map_or("-".into(), |r| format!("{r:.2}x")),
                run.ryw_missed,
                run.geo_missed,
                run.geo_own_read.0.len(),
                verdict(r.is_some_and(|r| r <= 1.2) && run.ryw_missed == 0)
            ));
            if let Some(lagged) = &run.lagged {
                let r = ratio(
                    lagged.with_token.reads.ttfb(50.0),
                    run.geo_own_read.ttfb(50.0),
                );
                verdicts.push(format!(
                    "Lagos, fra1's WAL {LAG_MS} ms late: read-your-writes read p50 {} a plain nearest-replica read (target at most 1.20x), {} stale (target 0; without the token {} of {} missed): {}",
                    r.map_or("-".into(), |r| format!("{r:.2}x")),
                    lagged.with_token.missed,
                    lagged.without_token.missed,
                    lagged.without_token.reads.0.len(),
                    verdict(r.is_some_and(|r| r <= 1.2) && lagged.with_token.missed == 0)
                ));
            }
        }
        let (ours, single) = (
            p50(run.ours.get(&Measure::Order)),
            p50(run.single.get(&Measure::Order)),
        );
        verdicts.push(format!(
            "{}: write p50 {} vs single region {} (target at most +10 ms): {}",
            city.name,
            ours.map_or("-".into(), |v| format!("{v:.0} ms")),
            single.map_or("-".into(), |v| format!("{v:.0} ms")),
            verdict(matches!((ours, single), (Some(a), Some(b)) if a <= b + 10.0))
        ));
    }
    out.push_str(
        "\n#### The storefront from each city (Lighthouse, desktop, no simulated throttling: the relays are the network)\n\n| city | LCP | CLS | TBT | TTFB of the page |\n|---|---|---|---|---|\n",
    );
    for (city, run) in runs {
        match &run.vitals {
            Some(v) => {
                out.push_str(&format!(
                    "| {} | {:.0} ms | {:.3} | {:.0} ms | {:.0} ms |\n",
                    city.name, v.lcp_ms, v.cls, v.tbt_ms, v.ttfb_ms
                ));
                verdicts.push(format!(
                    "{}: storefront LCP {:.0} ms (target under 2,500), CLS {:.3} (target under 0.1): {}",
                    city.name,
                    v.lcp_ms,
                    v.cls,
                    verdict(v.lcp_ms < 2500.0 && v.cls < 0.1)
                ));
            }
            None => out.push_str(&format!("| {} | not measured | | | |\n", city.name)),
        }
    }
    out.push_str("\nTargets:\n\n");
    for line in &verdicts {
        out.push_str(&format!("- {line}\n"));
    }
    (out, verdicts)
}

/// p50 per request kind, this gateway beside single region, one panel per city.
fn chart(path: &std::path::Path, runs: &[(&'static City, CityRun)]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1200, 700)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((2, 3));
    for ((city, run), area) in runs.iter().zip(panels.iter()) {
        let bars: Vec<(usize, f64, f64)> = MEASURES
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let p50 = |map: &BTreeMap<Measure, Series>| {
                    map.get(m).and_then(|s| s.ttfb(50.0)).unwrap_or(0.0)
                };
                (i, p50(&run.ours), p50(&run.single))
            })
            .collect();
        let max_y = bars
            .iter()
            .flat_map(|(_, a, b)| [*a, *b])
            .fold(10.0, f64::max)
            * 1.15;
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!(
                    "{} (p50 ms; blue: this gateway, red: single region)",
                    city.name
                ),
                ("sans-serif", 14),
            )
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(44)
            .build_cartesian_2d(-0.5..MEASURES.len() as f64 - 0.5, 0.0..max_y)?;
        // One group per request kind, centred on its index, labelled there.
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(MEASURES.len())
            .x_label_formatter(&|x| {
                let i = x.round();
                match MEASURES.get(i as usize) {
                    Some(m) if (x - i).abs() < 0.01 && i >= 0.0 => m.short().to_owned(),
                    _ => String::new(),
                }
            })
            .draw()?;
        for (i, ours, single) in bars {
            let x = i as f64;
            chart.draw_series([
                Rectangle::new([(x - 0.4, 0.0), (x - 0.02, ours)], BLUE.filled()),
                Rectangle::new([(x + 0.02, 0.0), (x + 0.4, single)], RED.filled()),
            ])?;
        }
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ms: f64, status: u16, upstream: &str, calls: u32) -> Sample {
        Sample {
            ttfb_ms: ms,
            status,
            upstream: Some(upstream.into()),
            calls: Some(calls),
            replica_wait_ms: None,
        }
    }

    #[test]
    fn the_replicas_wait_is_read_from_server_timing() {
        assert_eq!(
            replica_wait("upstream;desc=\"replica:fra1\";dur=120, replica-wait;dur=43"),
            Some(43)
        );
        assert_eq!(replica_wait("upstream;desc=\"replica:fra1\";dur=120"), None);
    }

    #[test]
    fn a_series_reports_percentiles_who_served_and_the_calls() {
        let series = Series(vec![
            sample(100.0, 200, "replica:fra1", 1),
            sample(300.0, 200, "replica:fra1", 1),
            sample(200.0, 503, "primary:iad1", 2),
        ]);
        assert_eq!(series.ttfb(50.0), Some(200.0));
        assert_eq!(series.failures(), 1);
        assert_eq!(series.served_by(), "replica:fra1 ×2, primary:iad1 ×1");
        assert_eq!(series.calls(), "1 ×2, 2 ×1");
        assert_eq!(Series(vec![sample(5.0, 200, "x", 1)]).calls(), "1");
        assert_eq!(Series::default().p50_p99(), "-");
    }

    #[test]
    fn the_targets_are_judged_from_the_figures() {
        let lagos = City::find("Lagos").unwrap();
        let mut run = CityRun::default();
        let series = |ms: f64| Series(vec![sample(ms, 200, "x", 1)]);
        run.ours.insert(Measure::Read, series(60.0));
        run.single.insert(Measure::Read, series(100.0));
        run.ours.insert(Measure::Order, series(200.0));
        run.single.insert(Measure::Order, series(195.0));
        run.ours.insert(Measure::OwnRead, series(130.0));
        run.geo_own_read = series(100.0);
        let (_, verdicts) = markdown(&[(lagos, run)]);
        assert!(
            verdicts[0].contains("0.60x") && verdicts[0].ends_with(": met"),
            "{verdicts:?}"
        );
        assert!(
            verdicts[1].contains("1.30x") && verdicts[1].ends_with("NOT met**"),
            "{verdicts:?}"
        );
        assert!(verdicts[2].ends_with(": met"), "{verdicts:?}");
    }

    #[test]
    fn the_chart_labels_every_request_kind() {
        let lagos = City::find("Lagos").unwrap();
        let mut run = CityRun::default();
        for m in MEASURES {
            run.ours.insert(m, Series(vec![sample(50.0, 200, "x", 1)]));
            run.single
                .insert(m, Series(vec![sample(90.0, 200, "x", 1)]));
        }
        let path = std::env::temp_dir().join(format!("bench-wan-{}.svg", std::process::id()));
        chart(&path, &[(lagos, run)]).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        for m in MEASURES {
            assert!(
                svg.contains(&format!("\n{}\n", m.short())),
                "{} missing",
                m.short()
            );
        }
        assert!(svg.contains("Lagos"));
    }

    #[test]
    fn vitals_are_read_from_a_lighthouse_report() {
        let report = json!({"audits": {
            "largest-contentful-paint": {"numericValue": 812.5},
            "cumulative-layout-shift": {"numericValue": 0.0},
            "total-blocking-time": {"numericValue": 12.0},
            "server-response-time": {"numericValue": 3.0},
        }});
        let vitals = Vitals::from_report(&report).unwrap();
        assert_eq!(
            (vitals.lcp_ms, vitals.cls, vitals.tbt_ms, vitals.ttfb_ms),
            (812.5, 0.0, 12.0, 3.0)
        );
        let failed = json!({"runtimeError": {"code": "NO_FCP"}, "audits": {}});
        assert!(format!("{:#}", Vitals::from_report(&failed).unwrap_err()).contains("NO_FCP"));
        assert!(Vitals::from_report(&json!({"audits": {}})).is_err());
    }
}
