//! `cargo xtask contract`: the OpenAPI document checked against the running gateway by a
//! property-based API tester (Schemathesis). Every operation is driven with requests
//! generated from the document's schemas, valid and invalid, once with a customer's and
//! once with a merchant's token, and in stateful sequences that follow the document's
//! `links` (create, then read). A request the schemas allow must not be refused for
//! validation (400, 413, 415, 422); one they forbid must not be accepted; no answer may
//! be a 5xx or differ from what the document says it answers.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::paths::Paths;
use crate::stack::Stack;
use crate::topology::{self, DEMO_CUSTOMER_EMAIL, DEMO_PASSWORD};
use crate::{setup, ui};

/// The seed's merchant (store `kofi-crafts`); same password as every seeded account.
pub const MERCHANT_EMAIL: &str = "kofi@payhuk.test";

/// Realistic values (the seed's store and products) offered beside generated ones.
pub const CONFIG: &str = "xtask/contract/schemathesis.toml";

/// Schemathesis's dependencies, pinned (Hypothesis above all: it generates the requests).
pub const CONSTRAINTS: &str = "xtask/contract/constraints.txt";

/// Fixed, so a run is reproducible: the same seed generates the same requests.
pub const SEED: u64 = 20_261_205;

/// Generated requests per operation and phase: enough to find a schema that says less
/// than the handler, few enough that both runs take a few minutes on two cores.
pub const MAX_EXAMPLES: u32 = 25;

/// What each answer is checked for: every check Schemathesis 4.32.5 has, by name (a
/// new version's new checks are a decision, not a side effect of an upgrade).
pub const CHECKS: [&str; 14] = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
    "object_level_authorization",
];

/// Operations left out of the run: none. Two are driven but can only ever reach their
/// refusals, which are checked like any answer (status, schema, content type):
/// - `receivePaymentWebhook` needs the provider's signature over the body (HMAC, or a
///   provider's token), which no generator can make: every request is a 401. The
///   signed path is in `tests/stack/payments.rs`, the notification parsers are fuzzed
///   (`cargo xtask fuzz`).
/// - `download` takes a signed, expiring token minted by `createDownloadLink`: every
///   generated one is refused (403/404). The round trip is in the stack tests.
///
/// Create-then-read sequences follow the document's `links`; the request examples
/// (the seed's merchant store, a seeded digital product) are what let a create succeed.
pub const EXCLUDED_OPERATIONS: [&str; 0] = [];

/// Who the run signs in as.
#[derive(Debug, Clone, Copy)]
struct Persona {
    name: &'static str,
    email: &'static str,
}

const PERSONAS: [Persona; 2] = [
    Persona {
        name: "customer",
        email: DEMO_CUSTOMER_EMAIL,
    },
    Persona {
        name: "merchant",
        email: MERCHANT_EMAIL,
    },
];

/// One Schemathesis run's outcome.
struct Outcome {
    persona: &'static str,
    passed: bool,
    took: String,
    summary: String,
}

pub fn run(paths: &Paths, seed: u64, max_examples: u32) -> anyhow::Result<()> {
    setup::contract_tools(paths)?;
    Stack::open()?.up()?;
    check(paths, seed, max_examples)
}

/// The check against a stack that is already up (what `cargo xtask test` would call,
/// with [`SEED`] and [`MAX_EXAMPLES`]).
pub fn check(paths: &Paths, seed: u64, max_examples: u32) -> anyhow::Result<()> {
    setup::contract_tools(paths)?;
    ui::header(&format!(
        "contract: schemathesis over {}/api/v1/openapi.json",
        topology::gateway_url()
    ));
    let reports = paths.state.join("contract");
    let mut outcomes = Vec::new();
    for persona in PERSONAS {
        let token = sign_in(persona.email)
            .with_context(|| format!("signing in the {} ({})", persona.name, persona.email))?;
        let generation = Generation { seed, max_examples };
        outcomes.push(schemathesis(
            paths,
            persona,
            &token,
            generation,
            &reports.join(persona.name),
        )?);
    }
    ui::header("contract summary");
    for outcome in &outcomes {
        ui::detail(&format!(
            "{}  {:<9} {}  {}",
            if outcome.passed { "PASS" } else { "FAIL" },
            outcome.persona,
            outcome.took,
            outcome.summary
        ));
    }
    ui::detail(&format!("reports: {}", reports.display()));
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| !o.passed)
        .map(|o| o.persona)
        .collect();
    if !failed.is_empty() {
        bail!(
            "the gateway and its OpenAPI document disagree (as {}): see above",
            failed.join(", ")
        );
    }
    Ok(())
}

fn sign_in(email: &str) -> anyhow::Result<String> {
    let session: Value = crate::load::agent()
        .post(&format!("{}/api/v1/auth/login", topology::gateway_url()))
        .send_json(serde_json::json!({"email": email, "password": DEMO_PASSWORD}))?
        .into_json()?;
    session["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("the login answer has no access_token")
}

/// What is generated: the same seed and bound, the same requests.
#[derive(Debug, Clone, Copy)]
pub struct Generation {
    pub seed: u64,
    pub max_examples: u32,
}

/// The command line of one run with `token`.
pub fn command(paths: &Paths, token: &str, generation: Generation, report_dir: &Path) -> Command {
    let gateway = topology::gateway_url();
    let mut command = Command::new(paths.schemathesis_bin());
    command
        .current_dir(&paths.root)
        .arg("--no-color")
        .arg("--config-file")
        .arg(paths.root.join(CONFIG))
        .arg("run")
        .arg(format!("{gateway}/api/v1/openapi.json"))
        // The document's first server is production: test this deployment.
        .args(["--url", &gateway])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        // What supabase-js sends beside a user's token; a user's bearer wins over it.
        .args(["--header", &format!("apikey: {}", topology::anon_key())])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--mode", "all"])
        .args(["--checks", &CHECKS.join(",")])
        .args(["--max-examples", &generation.max_examples.to_string()])
        .args(["--seed", &generation.seed.to_string()])
        // One worker: with two threads, Hypothesis parses its lambdas' source with
        // `ast.parse` from both at once, and CPython 3.11 can then raise
        // "SystemError: AST constructor recursion depth mismatch" (a flaky error that
        // failed CI, gh-106905). One worker is also the same order of requests each run.
        .args(["--workers", "1"])
        .args(["--request-timeout", "10"])
        // PostgreSQL's text and jsonb cannot hold U+0000, so every text field refuses it
        // (400, `22P05`); the document's info says so once rather than a pattern on
        // every string, and no generated text holds it.
        .args(["--generation-allow-x00", "false"])
        .args(["--report", "junit,ndjson"])
        .arg("--report-dir")
        .arg(report_dir)
        .arg("--report-junit-path")
        .arg(report_dir.join("junit.xml"))
        .args(["--output-truncate", "false"])
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .env("PYTHONUNBUFFERED", "1");
    for operation in EXCLUDED_OPERATIONS {
        command.args(["--exclude-operation-id", operation]);
    }
    command
}

fn schemathesis(
    paths: &Paths,
    persona: Persona,
    token: &str,
    generation: Generation,
    report_dir: &Path,
) -> anyhow::Result<Outcome> {
    ui::header(&format!(
        "contract as the {} ({})",
        persona.name, persona.email
    ));
    std::fs::create_dir_all(report_dir)
        .with_context(|| format!("creating {}", report_dir.display()))?;
    // A report left by an earlier run must not be read as this run's.
    let junit = report_dir.join("junit.xml");
    if junit.exists() {
        std::fs::remove_file(&junit).with_context(|| format!("removing {}", junit.display()))?;
    }
    let mut command = command(paths, token, generation, report_dir);
    let started = Instant::now();
    let status = command
        .status()
        .with_context(|| format!("could not start {}", paths.schemathesis_bin().display()))?;
    let took = ui::elapsed(started);
    let summary =
        junit_summary(&report_dir.join("junit.xml")).unwrap_or_else(|| format!("exit {status}"));
    Ok(Outcome {
        persona: persona.name,
        passed: status.success(),
        took,
        summary,
    })
}

/// `tests, failures, errors` from the JUnit report's first `<testsuite>`.
fn junit_summary(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let suite = &text[text.find("<testsuite ")?..];
    let suite = &suite[..suite.find('>')?];
    let attribute = |name: &str| {
        let at = suite.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = suite[at..].find('"')?;
        Some(suite[at..at + end].to_owned())
    };
    Some(format!(
        "{} operations, {} failed, {} errors",
        attribute("tests")?,
        attribute("failures")?,
        attribute("errors")?
    ))
}
