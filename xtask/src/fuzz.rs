//! `cargo xtask fuzz [--runs N] [--target NAME] [--record]`: runs each cargo-fuzz
//! target (libFuzzer, nightly toolchain, AddressSanitizer, debug assertions and
//! overflow checks) for N executions, one target at a time, prints each one's figures
//! and a table, fails when any target crashes (naming the input and how to replay it),
//! and with `--record` writes the table into docs/SECURITY.md.
//!
//! Corpus: the committed seeds are in `fuzz/seeds/<target>/` (small, hand-written,
//! readable); libFuzzer is given `fuzz/corpus/<target>/` first, where it writes what
//! it finds (ignored by git, kept between runs so later runs start further), and the
//! seeds second, read only. Crash inputs go to `fuzz/artifacts/<target>/` (ignored).

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::paths::Paths;
use crate::{cmd, setup, ui};

pub const DEFAULT_RUNS: u64 = 1_000_000;
const DOC: &str = "docs/SECURITY.md";
const FUZZ_DIR: &str = "fuzz";
/// The toolchain cargo-fuzz builds with (sanitizers and `-Z` flags need nightly).
pub const TOOLCHAIN: &str = "nightly";
/// Longest one input may run before libFuzzer calls it a hang.
const INPUT_TIMEOUT_SECS: u32 = 10;
/// Largest input libFuzzer makes (the seeds are far smaller; bigger inputs only slow
/// the run down).
const MAX_INPUT_BYTES: u32 = 4096;
/// How often a running target's progress is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(15);

/// The targets in the order they run, with what each covers.
pub const TARGETS: &[(&str, &str)] = &[
    (
        "jwt",
        "JWTs: HS256, ES256 and RS256 (`jwt::parse`, `crypto::verify` with a JWKS, kid/alg confusion, `alg: none`), `jwt::decode_verified`/`verify`, `auth::request::authenticate` (Bearer and apikey)",
    ),
    (
        "consistency_token",
        "read-your-writes tokens: `ConsistencyToken::decode`, header and `Cookie` parsing (`presented_token`), a write's new token",
    ),
    (
        "download_link",
        "signed download links: `Link::decode`, encode/decode round trip, tampering",
    ),
    (
        "webhook",
        "payment notifications as each provider signs them: `Provider::notification` of fedapay, moneroo, paydunya, cinetpay, and the local `webhook::notification` (test)",
    ),
    (
        "products_query",
        "`GET /api/v1/products` query: `parse_list_query`, the PostgREST filters it builds, `products::api::list`, pages",
    ),
    (
        "page_cursor",
        "page cursors: `Cursor::decode`, its `or` filter, `page_params`",
    ),
    (
        "rest_request",
        "`router::resolve`, `/rest/v1` read/write and read-only RPC classification, forwarded and returned headers, CORS preflights",
    ),
    (
        "edge_location",
        "`region::locate_edge` from override, `cf` and Vercel headers; region code, coordinate and colo parsers",
    ),
    (
        "config",
        "`Config::from_source` over arbitrary keys and values, `MaxLag::parse`",
    ),
    (
        "api_request",
        "every `/api/v1` handler end to end (route, query, headers, caller, JSON body) over a scripted PostgREST",
    ),
];

/// libFuzzer's figures for one run (`-print_final_stats=1` and the last status line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// `stat::number_of_executed_units`.
    pub executions: u64,
    /// `stat::average_exec_per_sec`.
    pub exec_per_sec: u64,
    /// `stat::new_units_added`.
    pub new_units: u64,
    /// `stat::peak_rss_mb`.
    pub peak_rss_mb: u64,
    /// Coverage points (`cov:`) at the end.
    pub coverage: Option<u64>,
    /// Inputs in the corpus (`corp:`) at the end.
    pub corpus: Option<u64>,
}

/// Reads libFuzzer's output; `None` when it printed no final stats (it did not finish).
pub fn parse_stats(output: &str) -> Option<Stats> {
    let stat = |name: &str| {
        output.lines().rev().find_map(|line| {
            line.trim()
                .strip_prefix(&format!("stat::{name}:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
    };
    let last_status = output
        .lines()
        .rev()
        .find(|l| l.starts_with('#') && l.contains("cov: "));
    let field = |name: &str| {
        let line = last_status?;
        let (_, rest) = line.split_once(&format!(" {name}: "))?;
        let value: String = rest.chars().take_while(char::is_ascii_digit).collect();
        value.parse::<u64>().ok()
    };
    Some(Stats {
        executions: stat("number_of_executed_units")?,
        exec_per_sec: stat("average_exec_per_sec").unwrap_or(0),
        new_units: stat("new_units_added").unwrap_or(0),
        peak_rss_mb: stat("peak_rss_mb").unwrap_or(0),
        coverage: field("cov"),
        corpus: field("corp"),
    })
}

/// The inputs libFuzzer saved for a crash, a leak, a timeout or running out of memory.
pub fn parse_artifacts(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|l| {
            l.split_once("Test unit written to ")
                .map(|(_, p)| p.trim().to_owned())
        })
        .collect()
}

/// The executions so far and the speed, from a status line such as
/// `#65536 (tab) pulse  cov: 812 ft: 2301 corp: 120/3822b lim: 98 exec/s: 21845 rss: 52Mb`.
pub fn parse_progress(line: &str) -> Option<(u64, Option<u64>)> {
    let rest = line.strip_prefix('#')?;
    let executions: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let speed = rest
        .split_once("exec/s: ")
        .and_then(|(_, v)| v.split_whitespace().next()?.parse().ok());
    Some((executions.parse().ok()?, speed))
}

/// One target's run.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub target: String,
    pub runs: u64,
    pub stats: Option<Stats>,
    pub duration: Duration,
    /// libFuzzer stopped on a failing input (crash, panic, leak, timeout, OOM).
    pub crashed: bool,
    pub artifacts: Vec<String>,
}

impl Outcome {
    fn executions(&self) -> String {
        self.stats
            .as_ref()
            .map_or("-".to_owned(), |s| thousands(s.executions))
    }

    fn exec_per_sec(&self) -> String {
        self.stats
            .as_ref()
            .map_or("-".to_owned(), |s| thousands(s.exec_per_sec))
    }

    fn crashes(&self) -> &'static str {
        if self.crashed { "**1**" } else { "0" }
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        format!("{}m{:02}s", (secs / 60.0) as u64, (secs % 60.0) as u64)
    }
}

/// The results as a Markdown table, for docs/SECURITY.md.
pub fn markdown(outcomes: &[Outcome], total: Duration) -> String {
    let mut text =
        "| target | runs asked | executions | exec/s | coverage | corpus | time | crashes |\n\
                    |---|---:|---:|---:|---:|---:|---:|---:|\n"
            .to_owned();
    for o in outcomes {
        let figure = |f: fn(&Stats) -> Option<u64>| {
            o.stats
                .as_ref()
                .and_then(f)
                .map_or("-".to_owned(), thousands)
        };
        text.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} | {} |\n",
            o.target,
            thousands(o.runs),
            o.executions(),
            o.exec_per_sec(),
            figure(|s| s.coverage),
            figure(|s| s.corpus),
            duration(o.duration),
            o.crashes(),
        ));
    }
    let crashed = outcomes.iter().filter(|o| o.crashed).count();
    text.push_str(&format!(
        "\n{} targets, {} crashing, {} in all (targets run one after another).\n",
        outcomes.len(),
        crashed,
        duration(total)
    ));
    text
}

/// The results as a plain-text table, for the terminal.
pub fn text_table(outcomes: &[Outcome]) -> String {
    let mut text = format!(
        "{:<18} {:>14} {:>10} {:>10} {:>8}\n",
        "target", "executions", "exec/s", "time", "crashes"
    );
    for o in outcomes {
        text.push_str(&format!(
            "{:<18} {:>14} {:>10} {:>10} {:>8}\n",
            o.target,
            o.executions(),
            o.exec_per_sec(),
            duration(o.duration),
            if o.crashed { "1" } else { "0" },
        ));
    }
    text
}

/// The targets `--target` selects (all when `None`).
pub fn selected(target: Option<&str>) -> anyhow::Result<Vec<&'static str>> {
    let all: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    match target {
        None => Ok(all),
        Some(name) => match all.iter().find(|t| **t == name) {
            Some(t) => Ok(vec![*t]),
            None => bail!(
                "no fuzz target `{name}`; the targets are: {}",
                all.join(", ")
            ),
        },
    }
}

pub fn run(paths: &Paths, runs: u64, target: Option<&str>, record: bool) -> anyhow::Result<()> {
    if record && target.is_some() {
        bail!("--record writes the whole table: run every target (no --target)");
    }
    let targets = selected(target)?;
    ui::header("fuzz");
    setup::fuzz_tools(paths)?;
    ui::step(
        "building the fuzz targets (nightly, AddressSanitizer, coverage)",
        || cmd::run(&mut cargo_fuzz(paths, "build", &[])),
    )?;

    let logs = paths.state.join("fuzz");
    fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let started = Instant::now();
    let mut outcomes = Vec::new();
    for name in &targets {
        if let Some((_, covers)) = TARGETS.iter().find(|(t, _)| t == name) {
            ui::detail(&format!("{name}: {covers}"));
        }
        let outcome = run_target(paths, name, runs, &logs.join(format!("{name}.log")))?;
        report(paths, &outcome, &logs);
        outcomes.push(outcome);
    }
    let total = started.elapsed();

    ui::header(&format!(
        "fuzz: {} runs per target, {}",
        thousands(runs),
        duration(total)
    ));
    for line in text_table(&outcomes).lines() {
        ui::detail(line);
    }
    if record {
        let body = format!(
            "{}, cargo-fuzz {}, {}\n\n{}",
            cmd::output(
                Command::new("rustc")
                    .arg(format!("+{TOOLCHAIN}"))
                    .arg("--version")
            )
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|_| TOOLCHAIN.to_owned()),
            setup::CARGO_FUZZ_VERSION,
            "AddressSanitizer, debug assertions and overflow checks on",
            markdown(&outcomes, total)
        );
        crate::record::between_markers(
            paths,
            DOC,
            "fuzz",
            &format!("cargo xtask fuzz --runs {runs} --record"),
            &body,
        )?;
    }
    let crashed: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.crashed)
        .map(|o| o.target.as_str())
        .collect();
    if !crashed.is_empty() {
        bail!(
            "fuzz targets failed: {} (inputs and replay commands above)",
            crashed.join(", ")
        );
    }
    Ok(())
}

/// `cargo +nightly fuzz <subcommand> --fuzz-dir fuzz <args>` at the checkout's root,
/// with the pinned cargo-fuzz. (`--fuzz-dir` must come before any `--`: after it,
/// libFuzzer would take `fuzz` for its corpus and write its findings there.)
fn cargo_fuzz(paths: &Paths, subcommand: &str, args: &[&str]) -> Command {
    let mut command = Command::new("cargo");
    command
        .current_dir(&paths.root)
        .arg(format!("+{TOOLCHAIN}"))
        .args(["fuzz", subcommand, "--fuzz-dir", FUZZ_DIR])
        .args(args)
        // `cargo xtask` runs under the stable cargo; nothing of it may leak into the
        // nightly build cargo-fuzz starts.
        .env("RUSTUP_TOOLCHAIN", TOOLCHAIN)
        .env("PATH", tools_path(paths));
    for var in [
        "CARGO",
        "RUSTC",
        "RUSTDOC",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_ENCODED_RUSTFLAGS",
    ] {
        command.env_remove(var);
    }
    command
}

/// `PATH` with `.payhuk/tools/bin` first, where cargo finds the `fuzz` subcommand.
fn tools_path(paths: &Paths) -> std::ffi::OsString {
    let mut dirs = vec![paths.tools_bin.clone()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).unwrap_or_default()
}

fn fuzz_path(paths: &Paths, kind: &str, target: &str) -> PathBuf {
    paths.root.join(FUZZ_DIR).join(kind).join(target)
}

fn run_target(paths: &Paths, name: &str, runs: u64, log: &Path) -> anyhow::Result<Outcome> {
    let corpus = fuzz_path(paths, "corpus", name);
    let seeds = fuzz_path(paths, "seeds", name);
    fs::create_dir_all(&corpus).with_context(|| format!("creating {}", corpus.display()))?;
    let mut args: Vec<String> = vec![
        name.into(),
        corpus.display().to_string(),
        seeds.display().to_string(),
        "--".into(),
        format!("-runs={runs}"),
        "-print_final_stats=1".into(),
        format!("-timeout={INPUT_TIMEOUT_SECS}"),
        format!("-max_len={MAX_INPUT_BYTES}"),
    ];
    let dict = paths
        .root
        .join(FUZZ_DIR)
        .join("dicts")
        .join(format!("{name}.dict"));
    if dict.exists() {
        args.push(format!("-dict={}", dict.display()));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut command = cargo_fuzz(paths, "run", &args);
    ui::detail(&format!("{name}: {} runs ...", thousands(runs)));

    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start `{}`", cmd::describe(&command)))?;
    // libFuzzer reports on stderr; cargo-fuzz's replay hints are on stdout. Both go to
    // the log; the status lines drive the progress shown.
    let stdout = child.stdout.take().context("no stdout")?;
    let echo = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<String>>()
            .join("\n")
    });
    let mut file = fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let mut output = String::new();
    let mut last_shown = Instant::now();
    for line in BufReader::new(child.stderr.take().context("no stderr")?)
        .lines()
        .map_while(Result::ok)
    {
        writeln!(file, "{line}").ok();
        if last_shown.elapsed() >= PROGRESS_EVERY
            && let Some((executions, speed)) = parse_progress(&line)
        {
            ui::detail(&format!(
                "{name}: {} executions, {} exec/s, {}",
                thousands(executions),
                speed.map_or("-".to_owned(), thousands),
                ui::elapsed(started)
            ));
            last_shown = Instant::now();
        }
        output.push_str(&line);
        output.push('\n');
    }
    let status = child.wait().context("waiting for cargo fuzz")?;
    let hints = echo.join().unwrap_or_default();
    writeln!(file, "{hints}").ok();
    let duration = started.elapsed();
    let stats = parse_stats(&output);
    Ok(Outcome {
        target: name.to_owned(),
        runs,
        crashed: !status.success(),
        artifacts: parse_artifacts(&output),
        stats,
        duration,
    })
}

fn report(paths: &Paths, o: &Outcome, logs: &Path) {
    let stats = o.stats.clone().unwrap_or_default();
    ui::detail(&format!(
        "{}: {} executions, {} exec/s, {}, {} crash{}",
        o.target,
        o.executions(),
        o.exec_per_sec(),
        duration(o.duration),
        u8::from(o.crashed),
        if o.crashed { "" } else { "es" },
    ));
    if stats.new_units > 0 {
        ui::detail(&format!(
            "{}: {} new inputs kept in fuzz/corpus/{}",
            o.target, stats.new_units, o.target
        ));
    }
    if !o.crashed {
        return;
    }
    let log = logs.join(format!("{}.log", o.target));
    ui::detail(&format!(
        "{}: FAILED; the whole output is in {}",
        o.target,
        log.display()
    ));
    for line in cmd::tail(&log, 60).lines() {
        println!("      | {line}");
    }
    for artifact in &o.artifacts {
        let shown = Path::new(artifact)
            .strip_prefix(&paths.root)
            .map_or(artifact.clone(), |p| p.display().to_string());
        ui::detail(&format!("failing input: {shown}"));
        ui::detail(&format!(
            "replay it: cargo +{TOOLCHAIN} fuzz run --fuzz-dir {FUZZ_DIR} {} {shown}",
            o.target
        ));
    }
    if o.artifacts.is_empty() {
        ui::detail("libFuzzer saved no input: see the log (a build failure?)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The end of a real libFuzzer run (`-runs=1000000 -print_final_stats=1`).
    const DONE: &str = "\
INFO: Running with entropic power schedule (0xFF, 100).
INFO: Seed: 3288457193
INFO:        7 files found in fuzz/seeds/jwt
#2	INITED cov: 310 ft: 311 corp: 1/1b exec/s: 0 rss: 30Mb
#8	INITED cov: 1021 ft: 1480 corp: 7/406b exec/s: 0 rss: 33Mb
#524288	pulse  cov: 1433 ft: 5012 corp: 402/31Kb lim: 4096 exec/s: 26214 rss: 71Mb
#1000000	DONE   cov: 1440 ft: 5120 corp: 411/32Kb lim: 4096 exec/s: 24390 rss: 74Mb
Done 1000000 runs in 41 second(s)
stat::number_of_executed_units: 1000000
stat::average_exec_per_sec:     24390
stat::new_units_added:          413
stat::slowest_unit_time_sec:    0
stat::peak_rss_mb:              74
";

    #[test]
    fn final_stats_are_read() {
        assert_eq!(
            parse_stats(DONE),
            Some(Stats {
                executions: 1_000_000,
                exec_per_sec: 24_390,
                new_units: 413,
                peak_rss_mb: 74,
                coverage: Some(1440),
                corpus: Some(411),
            })
        );
        assert_eq!(parse_stats("INFO: Seed: 1\n#2\tINITED cov: 3"), None);
        assert_eq!(parse_artifacts(DONE), Vec::<String>::new());
    }

    #[test]
    fn a_crash_names_its_input() {
        let crash = "\
thread '<unnamed>' panicked at fuzz_targets/webhook.rs:50:9:
attempt to subtract with overflow
==12345== ERROR: libFuzzer: deadly signal
MS: 2 ChangeByte-InsertByte-; base unit: 0a1b
artifact_prefix='/w/fuzz/artifacts/webhook/'; Test unit written to /w/fuzz/artifacts/webhook/crash-3f2a
Base64: dGVzdAo=
stat::number_of_executed_units: 5120
stat::average_exec_per_sec:     0
";
        assert_eq!(
            parse_artifacts(crash),
            ["/w/fuzz/artifacts/webhook/crash-3f2a"]
        );
        let stats = parse_stats(crash).unwrap();
        assert_eq!((stats.executions, stats.coverage), (5120, None));
    }

    #[test]
    fn progress_lines() {
        assert_eq!(
            parse_progress(
                "#524288\tpulse  cov: 1433 ft: 5012 corp: 402/31Kb exec/s: 26214 rss: 71Mb"
            ),
            Some((524_288, Some(26_214)))
        );
        assert_eq!(parse_progress("#8\tINITED cov: 1021"), Some((8, None)));
        assert_eq!(parse_progress("INFO: Seed: 1"), None);
    }

    fn outcome(target: &str, executions: u64, crashed: bool) -> Outcome {
        Outcome {
            target: target.into(),
            runs: 1_000_000,
            stats: Some(Stats {
                executions,
                exec_per_sec: 24_390,
                new_units: 3,
                peak_rss_mb: 70,
                coverage: Some(1440),
                corpus: Some(411),
            }),
            duration: Duration::from_secs(81),
            crashed,
            artifacts: vec![],
        }
    }

    #[test]
    fn tables() {
        let outcomes = [
            outcome("jwt", 1_000_000, false),
            outcome("webhook", 5_120, true),
        ];
        let md = markdown(&outcomes, Duration::from_secs(162));
        assert!(
            md.starts_with("| target | runs asked | executions |"),
            "{md}"
        );
        assert!(
            md.contains("| `jwt` | 1,000,000 | 1,000,000 | 24,390 | 1,440 | 411 | 1m21s | 0 |\n"),
            "{md}"
        );
        assert!(md.contains("| `webhook` | 1,000,000 | 5,120 |"), "{md}");
        assert!(md.contains("| **1** |\n"), "{md}");
        assert!(md.contains("2 targets, 1 crashing, 2m42s in all"), "{md}");
        let text = text_table(&outcomes);
        assert_eq!(text.lines().count(), 3);
        assert!(text.lines().nth(1).unwrap().starts_with("jwt"));
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(12_345_678), "12,345,678");
    }

    #[test]
    fn cargo_fuzz_options_come_before_libfuzzer_flags() {
        let command = cargo_fuzz(
            &Paths::discover(),
            "run",
            &["jwt", "fuzz/corpus/jwt", "--", "-runs=1"],
        );
        let args: Vec<String> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "+nightly",
                "fuzz",
                "run",
                "--fuzz-dir",
                "fuzz",
                "jwt",
                "fuzz/corpus/jwt",
                "--",
                "-runs=1"
            ]
        );
    }

    #[test]
    fn targets_are_selected_by_name() {
        assert_eq!(selected(None).unwrap().len(), TARGETS.len());
        assert_eq!(selected(Some("jwt")).unwrap(), ["jwt"]);
        assert!(selected(Some("nope")).is_err());
    }

    /// Every target listed here has its source, a `[[bin]]` and committed seeds, and
    /// every source is listed.
    #[test]
    fn the_fuzz_crate_matches_the_list() {
        let root = Paths::discover().root.join(FUZZ_DIR);
        let manifest = fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let mut sources: Vec<String> = fs::read_dir(root.join("fuzz_targets"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|n| n.strip_suffix(".rs").map(str::to_owned))
            .collect();
        sources.sort();
        let mut listed: Vec<String> = TARGETS.iter().map(|(n, _)| (*n).to_owned()).collect();
        listed.sort();
        assert_eq!(sources, listed);
        for (name, _) in TARGETS {
            assert!(
                manifest.contains(&format!(
                    "name = \"{name}\"\npath = \"fuzz_targets/{name}.rs\""
                )),
                "fuzz/Cargo.toml declares {name}"
            );
            let seeds = fs::read_dir(root.join("seeds").join(name))
                .map(|d| d.count())
                .unwrap_or(0);
            assert!(seeds >= 2, "fuzz/seeds/{name} has seeds");
        }
    }
}
