//! Where a gateway request's CPU time goes: a V8 CPU profile of the bundle under plain
//! workerd while oha drives one route, sorted into the parts of the path (our code,
//! JSON, URL parsing, the worker crate's bindings, workerd's own APIs, ...).
//!
//! In-worker timers cannot do this (workerd's `Date.now()` only advances across I/O),
//! so the profile comes from the inspector: `xtask/js/cpu_profile.mjs` records it and
//! the analysis here is plain code, tested on hand-made profiles. A profiled workerd
//! runs the bundle with its name section (`build::NAMED_WASM`; the deployed one has
//! none), so Rust functions appear by name.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::bench::{self, Figures, Load, Target};
use crate::paths::Paths;
use crate::stack::Stack;
use crate::{build, setup, topology, ui, workerd};

/// The inspector's port (wrangler dev keeps 9229 for its own).
pub const INSPECTOR_PORT: u16 = 9231;

/// What a sampled function's time counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    Gateway,
    Json,
    Urls,
    Crypto,
    RequestBuilding,
    Allocation,
    Bindings,
    OtherRust,
    JsGlue,
    Crossings,
    RuntimeApis,
    RuntimeNative,
    GarbageCollection,
}

impl Part {
    pub fn label(self) -> &'static str {
        match self {
            Part::Gateway => "the gateway's own code (`payhuk_edge`)",
            Part::Json => "JSON (`serde_json`)",
            Part::Urls => "URL parsing (`url`, percent-encoding)",
            Part::Crypto => "JWT and token crypto (`sha2`, `hmac`, `base64`)",
            Part::RequestBuilding => "PostgREST request building (`postgrest`, `reqwest`, `http`)",
            Part::Allocation => "allocation and copying (`dlmalloc`, `alloc`, `mem*`)",
            Part::Bindings => "the `worker` crate and wasm-bindgen bindings (Rust side)",
            Part::OtherRust => "other Rust (`core`, `futures`, `uuid`, `chrono`, ...)",
            Part::JsGlue => "wasm-bindgen's JS glue (`index.js`)",
            Part::Crossings => "JS/wasm boundary crossings",
            Part::RuntimeApis => "workerd's JS APIs (`fetch`, `Request`, `Headers`, timers)",
            Part::RuntimeNative => "workerd and V8 native work (HTTP, I/O, compilation)",
            Part::GarbageCollection => "garbage collection",
        }
    }

    /// The part a profile node's own time belongs to; `None` for idle time.
    pub fn of(function: &str, url: &str) -> Option<Part> {
        if url.is_empty() {
            return match function {
                "(idle)" | "(root)" => None,
                "(program)" => Some(Part::RuntimeNative),
                "(garbage collector)" => Some(Part::GarbageCollection),
                f if f.starts_with("js-to-wasm") || f.starts_with("wasm-to-js") => {
                    Some(Part::Crossings)
                }
                _ => Some(Part::RuntimeApis),
            };
        }
        if !url.starts_with("wasm://") {
            return Some(Part::JsGlue);
        }
        Some(match subject_crate(function) {
            "payhuk_edge" => Part::Gateway,
            "serde_json" | "serde" | "serde_core" => Part::Json,
            "url" | "idna" | "percent_encoding" | "form_urlencoded" => Part::Urls,
            "sha2" | "hmac" | "digest" | "base64" | "block_buffer" | "crypto_common" | "hex" => {
                Part::Crypto
            }
            "postgrest" | "reqwest" | "http" | "bytes" | "serde_urlencoded" => {
                Part::RequestBuilding
            }
            "dlmalloc" | "alloc" | "__rustc" | "__rdl_alloc" | "__rdl_dealloc" | "memcpy"
            | "memmove" | "memset" | "memcmp" => Part::Allocation,
            "worker"
            | "worker_sys"
            | "wasm_bindgen"
            | "wasm_bindgen_futures"
            | "js_sys"
            | "web_sys"
            | "wasm_streams" => Part::Bindings,
            c if c.starts_with("__wbg")
                || c.starts_with("__wbindgen")
                || c.starts_with("__externref") =>
            {
                Part::Bindings
            }
            _ => Part::OtherRust,
        })
    }
}

/// The crate a demangled Rust name is about: `<&mut serde_json::de::X as T>::f` is
/// serde_json's, `<dlmalloc[1f2e]::Dlmalloc>::malloc` dlmalloc's. Generic helpers from
/// `core` and `alloc` stay theirs, except drop glue, which belongs to the dropped type.
pub fn subject_crate(function: &str) -> &str {
    let name = match function
        .strip_prefix("core::ptr::drop_in_place<")
        .or_else(|| function.strip_prefix("core::ptr::drop_in_place::<"))
    {
        Some(dropped) => dropped,
        None => function,
    };
    let name = name.trim_start_matches(['<', '&', ' ']);
    let name = name.strip_prefix("mut ").unwrap_or(name);
    let name = name.strip_prefix("dyn ").unwrap_or(name);
    let end = name
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(name.len());
    &name[..end]
}

/// A function name without what makes it unreadable: the `::h<hash>` suffix, crate
/// disambiguators (`[e24a2770]`) and wasm-bindgen's shim suffixes.
pub fn short_name(function: &str) -> String {
    if function.is_empty() {
        return "(anonymous)".to_owned();
    }
    let mut name = function;
    while let Some(rest) = [" externref shim", " multivalue shim"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
    {
        name = rest;
    }
    if let Some((head, hash)) = name.rsplit_once("::h")
        && hash.len() == 16
        && hash.bytes().all(|b| b.is_ascii_hexdigit())
    {
        name = head;
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close) if close > 0 && after[..close].bytes().all(|b| b.is_ascii_hexdigit()) => {
                out.push_str(&rest[..open]);
                rest = &after[close + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A profile sorted into parts, in microseconds of the isolate's thread.
#[derive(Debug, Clone, PartialEq)]
pub struct Breakdown {
    pub busy_us: f64,
    pub idle_us: f64,
    /// Busiest first.
    pub parts: Vec<(Part, f64)>,
    /// Functions by their own time, busiest first.
    pub top_self: Vec<(String, Part, f64)>,
    /// The gateway's functions by time spent in them and what they called.
    pub gateway_inclusive: Vec<(String, f64)>,
}

struct Node {
    name: String,
    part: Option<Part>,
    parent: Option<usize>,
}

/// Reads a `.cpuprofile` (the inspector's `Profiler.stop` result). Each sample is
/// weighted by the time until the next one, so irregular ticks count fairly.
pub fn analyse(profile: &Value) -> anyhow::Result<Breakdown> {
    let raw_nodes = profile["nodes"]
        .as_array()
        .context("no nodes in the profile")?;
    let samples = profile["samples"].as_array().context("no samples")?;
    let deltas = profile["timeDeltas"].as_array().context("no timeDeltas")?;
    if samples.len() != deltas.len() {
        bail!("{} samples but {} time deltas", samples.len(), deltas.len());
    }

    let mut index = HashMap::new();
    let mut nodes = Vec::with_capacity(raw_nodes.len());
    for (i, node) in raw_nodes.iter().enumerate() {
        let id = node["id"].as_u64().context("a node without an id")?;
        let frame = &node["callFrame"];
        let function = frame["functionName"].as_str().unwrap_or("");
        let url = frame["url"].as_str().unwrap_or("");
        index.insert(id, i);
        nodes.push(Node {
            name: short_name(function),
            part: Part::of(function, url),
            parent: None,
        });
    }
    for (i, node) in raw_nodes.iter().enumerate() {
        for child in node["children"].as_array().into_iter().flatten() {
            let child = child.as_u64().context("a child id that is not a number")?;
            let &c = index.get(&child).context("a child that is not a node")?;
            nodes[c].parent = Some(i);
        }
    }

    let mut busy_us = 0.0;
    let mut idle_us = 0.0;
    let mut parts: HashMap<Part, f64> = HashMap::new();
    let mut by_self: HashMap<(String, Part), f64> = HashMap::new();
    let mut inclusive: HashMap<String, f64> = HashMap::new();
    for (i, sample) in samples.iter().enumerate() {
        let weight = deltas
            .get(i + 1)
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
            .max(0.0);
        let id = sample.as_u64().context("a sample that is not a node id")?;
        let &leaf = index.get(&id).context("a sample of an unknown node")?;
        let Some(part) = nodes[leaf].part else {
            idle_us += weight;
            continue;
        };
        busy_us += weight;
        *parts.entry(part).or_default() += weight;
        *by_self.entry((nodes[leaf].name.clone(), part)).or_default() += weight;
        // Once per function per sample, however deep the recursion.
        let mut seen = HashSet::new();
        let mut at = Some(leaf);
        while let Some(n) = at {
            if nodes[n].part == Some(Part::Gateway) && seen.insert(nodes[n].name.as_str()) {
                *inclusive.entry(nodes[n].name.clone()).or_default() += weight;
            }
            at = nodes[n].parent;
        }
    }

    let mut parts: Vec<(Part, f64)> = parts.into_iter().collect();
    parts.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut top_self: Vec<(String, Part, f64)> = by_self
        .into_iter()
        .map(|((name, part), us)| (name, part, us))
        .collect();
    top_self.sort_by(|a, b| b.2.total_cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    let mut gateway_inclusive: Vec<(String, f64)> = inclusive.into_iter().collect();
    gateway_inclusive.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(Breakdown {
        busy_us,
        idle_us,
        parts,
        top_self,
        gateway_inclusive,
    })
}

/// The report: parts, then the busiest functions, per request where `requests` is
/// known.
pub fn markdown(b: &Breakdown, route: &str, connections: u32, load: &Figures) -> String {
    let requests = load.requests.max(1) as f64;
    let share = |us: f64| {
        if b.busy_us > 0.0 {
            100.0 * us / b.busy_us
        } else {
            0.0
        }
    };
    let mut out = format!(
        "`{route}` under plain workerd, {connections} connections: {:.0} requests/s while profiled \
         ({} requests). The isolate's thread was busy {:.0} µs per request \
         ({:.0}% of the time sampled).\n\n",
        load.requests_per_sec,
        load.requests,
        b.busy_us / requests,
        100.0 * b.busy_us / (b.busy_us + b.idle_us).max(1.0),
    );
    out.push_str("| part of the path | share of busy time | µs per request |\n|---|---|---|\n");
    for (part, us) in &b.parts {
        out.push_str(&format!(
            "| {} | {:.1}% | {:.1} |\n",
            part.label(),
            share(*us),
            us / requests
        ));
    }
    out.push_str(
        "\nBusiest functions by their own time:\n\n| function | part | share |\n|---|---|---|\n",
    );
    for (name, part, us) in b.top_self.iter().take(15) {
        out.push_str(&format!(
            "| `{}` | {} | {:.1}% |\n",
            truncate(name, 110),
            part.label(),
            share(*us)
        ));
    }
    out.push_str(
        "\nThe gateway's functions by time in them and what they called (the upstream \
         `fetch` is awaited inside the routing functions, so they include its JS side):\n\n\
         | function | share |\n|---|---|\n",
    );
    for (name, us) in b.gateway_inclusive.iter().take(12) {
        out.push_str(&format!(
            "| `{}` | {:.1}% |\n",
            truncate(name, 110),
            share(*us)
        ));
    }
    out
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// The route profiled by default: one product through the service handler, as the
/// service role so that the catalogue cache never answers.
pub const DEFAULT_ROUTE: &str = "/api/v1/products/{product}";
/// Enough to keep the isolate busy, well under its admission limit.
pub const DEFAULT_CONNECTIONS: u32 = 32;

/// Records a profile of plain workerd serving `route` (`{product}` is replaced by a
/// published product's id) for `secs` seconds after a warm-up, and returns it with the
/// load's figures. Leaves plain workerd stopped.
pub fn capture(
    paths: &Paths,
    stack: &Stack,
    route: &str,
    connections: u32,
    secs: u32,
) -> anyhow::Result<(Breakdown, Figures, PathBuf)> {
    let product = bench::bench_product(stack)?;
    let url = format!(
        "http://127.0.0.1:{}{}",
        workerd::PORT,
        route.replace("{product}", product.trim())
    );
    let target = Target::get(
        url,
        vec![
            bench::bearer(&topology::service_role_key()),
            bench::header("x-payhuk-edge-region", "sfo1"),
        ],
    );
    let out_dir = paths.root.join("target/profile");
    fs::create_dir_all(&out_dir)?;
    let out = out_dir.join(format!(
        "{}.cpuprofile",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ));

    let plain = workerd::start(paths, &stack.dirs, Some(INSPECTOR_PORT))?;
    let result = (|| {
        // Warm: wasm tiers up to optimised code after the first requests.
        bench::oha(
            paths,
            &target,
            Load::Closed {
                connections: connections.min(DEFAULT_CONNECTIONS),
                secs: 2,
            },
        )?;
        let figures = record_while(paths, &out, || {
            bench::oha(paths, &target, Load::Closed { connections, secs })
        })?;
        let text =
            fs::read_to_string(&out).with_context(|| format!("reading {}", out.display()))?;
        let profile: Value = serde_json::from_str(&text).context("the profile is not JSON")?;
        Ok((analyse(&profile)?, figures, out.clone()))
    })();
    plain.stop(Duration::from_secs(2))?;
    result
}

/// Runs `load` while the inspector samples the isolate, writing the profile to `out`.
fn record_while<T>(
    paths: &Paths,
    out: &Path,
    load: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let list: Value = ureq::get(&format!("http://127.0.0.1:{INSPECTOR_PORT}/json/list"))
        .timeout(Duration::from_secs(5))
        .call()
        .context("asking workerd's inspector for its isolates")?
        .into_json()?;
    let socket = list
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|isolate| isolate["webSocketDebuggerUrl"].as_str())
        .context("workerd's inspector lists no isolate")?
        .to_owned();
    let script = paths.root.join("xtask/js/cpu_profile.mjs");
    let mut recorder = Command::new("node")
        .arg(&script)
        .arg(&socket)
        .arg(out)
        .current_dir(&paths.root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("starting node for the CPU profile")?;
    let mut lines = BufReader::new(recorder.stdout.take().context("no stdout")?).lines();
    let started = lines.next().transpose()?;
    if started.as_deref() != Some("started") {
        let _ = recorder.kill();
        bail!("the profiler did not start (it said {started:?})");
    }
    let result = load();
    // Closing stdin stops the profile.
    if let Some(mut stdin) = recorder.stdin.take() {
        let _ = stdin.flush();
    }
    let written = lines.next().transpose()?;
    let status = recorder.wait()?;
    if !status.success() || written.as_deref() != Some("written") {
        bail!("recording the CPU profile failed ({status})");
    }
    result
}

/// `cargo xtask profile`: any route, printed; `cargo xtask bench` records the default
/// route's breakdown in docs/BENCHMARKS.md.
pub fn run(paths: &Paths, route: &str, connections: u32, secs: u32) -> anyhow::Result<()> {
    setup::bench_tools(paths)?;
    build::run(paths)?;
    let mut stack = Stack::open()?;
    stack.up()?;
    ui::header(&format!(
        "profile: {route} under plain workerd, {connections} connections, {secs} s"
    ));
    let (breakdown, figures, file) = capture(paths, &stack, route, connections, secs)?;
    let report = markdown(&breakdown, route, connections, &figures);
    print!("{report}");
    ui::detail(&format!(
        "profile written to {} (opens in Chrome DevTools, Performance panel)",
        file.strip_prefix(&paths.root).unwrap_or(&file).display()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_lose_hashes_disambiguators_and_shims() {
        assert_eq!(
            short_name("payhuk_edge::db::rows::{{closure}}::h393a98272b76a784"),
            "payhuk_edge::db::rows::{{closure}}"
        );
        assert_eq!(
            short_name(
                "<dlmalloc[e24a27700634d609]::dlmalloc::Dlmalloc<dlmalloc[e24a27700634d609]::sys::System>>::malloc"
            ),
            "<dlmalloc::dlmalloc::Dlmalloc<dlmalloc::sys::System>>::malloc"
        );
        assert_eq!(
            short_name(
                "wasm_bindgen::convert::closures::_::invoke::hb16245e69ebab09b externref shim multivalue shim"
            ),
            "wasm_bindgen::convert::closures::_::invoke"
        );
        // Not a hash, not a disambiguator: kept.
        assert_eq!(short_name("a::hello"), "a::hello");
        assert_eq!(short_name("f<[u8]>"), "f<[u8]>");
        assert_eq!(short_name(""), "(anonymous)");
    }

    #[test]
    fn functions_are_sorted_into_parts() {
        let wasm = "wasm://wasm/payhuk_edge.wasm-1";
        for (function, url, part) in [
            ("(idle)", "", None),
            ("(program)", "", Some(Part::RuntimeNative)),
            ("(garbage collector)", "", Some(Part::GarbageCollection)),
            ("wasm-to-js", "", Some(Part::Crossings)),
            ("js-to-wasm:iin:ii", "", Some(Part::Crossings)),
            ("fetch", "", Some(Part::RuntimeApis)),
            ("__wbg_fetch_a416", "index.js", Some(Part::JsGlue)),
            (
                "payhuk_edge::db::rows::{{closure}}::h1",
                wasm,
                Some(Part::Gateway),
            ),
            (
                "<payhuk_edge::edge::routed::RoutedDb as payhuk_edge::db::Db>::send",
                wasm,
                Some(Part::Gateway),
            ),
            (
                "core::ptr::drop_in_place<payhuk_edge::services::request::ApiRequest>",
                wasm,
                Some(Part::Gateway),
            ),
            (
                "<&mut serde_json::de::Deserializer<R> as serde_core::de::Deserializer>::deserialize_seq",
                wasm,
                Some(Part::Json),
            ),
            (
                "url::parser::Parser::after_double_slash",
                wasm,
                Some(Part::Urls),
            ),
            ("sha2::sha256::compress256", wasm, Some(Part::Crypto)),
            (
                "postgrest::builder::Builder::build",
                wasm,
                Some(Part::RequestBuilding),
            ),
            (
                "<dlmalloc[e2]::dlmalloc::Dlmalloc<A>>::malloc",
                wasm,
                Some(Part::Allocation),
            ),
            ("__rustc[b797]::__rdl_dealloc", wasm, Some(Part::Allocation)),
            ("memcpy", wasm, Some(Part::Allocation)),
            ("worker::headers::Headers::set", wasm, Some(Part::Bindings)),
            ("__wbindgen_destroy_closure", wasm, Some(Part::Bindings)),
            (
                "core::iter::traits::iterator::Iterator::collect",
                wasm,
                Some(Part::OtherRust),
            ),
        ] {
            assert_eq!(Part::of(function, url), part, "{function}");
        }
    }

    fn node(id: u64, name: &str, url: &str, children: &[u64]) -> Value {
        json!({"id": id, "callFrame": {"functionName": name, "url": url}, "children": children})
    }

    #[test]
    fn time_is_split_by_own_time_and_counted_once_up_the_stack() {
        let wasm = "wasm://wasm/x";
        // root -> handler -> (json, handler again -> fetch); idle beside.
        let profile = json!({
            "nodes": [
                node(1, "(root)", "", &[2, 6]),
                node(2, "payhuk_edge::handle::h0123456789abcdef", wasm, &[3, 4]),
                node(3, "serde_json::de::from_slice", wasm, &[]),
                node(4, "payhuk_edge::handle::h0123456789abcdef", wasm, &[5]),
                node(5, "fetch", "", &[]),
                node(6, "(idle)", "", &[]),
            ],
            // Each sample's weight is the next delta: 10, 20, 30, 40; the last counts 0.
            "samples": [3, 5, 2, 6, 5],
            "timeDeltas": [0, 10, 20, 30, 40],
        });
        let b = analyse(&profile).unwrap();
        assert_eq!(b.busy_us, 60.0);
        assert_eq!(b.idle_us, 40.0);
        assert_eq!(
            b.parts,
            vec![
                (Part::Gateway, 30.0),
                (Part::RuntimeApis, 20.0),
                (Part::Json, 10.0)
            ]
        );
        assert_eq!(
            b.top_self[0],
            ("payhuk_edge::handle".into(), Part::Gateway, 30.0)
        );
        // The recursive handler is counted once per sample: 10 + 20 + 30.
        assert_eq!(
            b.gateway_inclusive,
            vec![("payhuk_edge::handle".into(), 60.0)]
        );
    }

    #[test]
    fn a_malformed_profile_is_an_error() {
        assert!(analyse(&json!({})).is_err());
        assert!(analyse(&json!({"nodes": [], "samples": [1], "timeDeltas": []})).is_err());
        let unknown =
            json!({"nodes": [node(1, "(root)", "", &[])], "samples": [9], "timeDeltas": [0]});
        assert!(analyse(&unknown).is_err());
    }
}
