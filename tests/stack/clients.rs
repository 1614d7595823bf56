//! Clients written for Supabase work against the gateway unchanged.

use std::process::Command;

use payhuk_stack_tests::{ReplayPaused, stack, user_token};
use xtask::topology;

/// Runs `tests/js/<script>` with node's test runner and `env`, replicas lagging for
/// real (an answer read back right after a write must come through read-your-writes or
/// the primary, not a lucky race); fails unless all `tests` tests ran and passed.
fn node_tests(script: &str, env: &[(&str, String)], tests: usize) {
    let stack = stack();
    let _paused = [
        ReplayPaused::new(&stack, "sfo1"),
        ReplayPaused::new(&stack, "fra1"),
    ];
    let out = Command::new("node")
        .arg("--test")
        .arg(stack.paths.root.join("tests/js").join(script))
        .current_dir(&stack.paths.root)
        .env("GATEWAY_URL", topology::gateway_url())
        .env("ANON_KEY", topology::anon_key())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("node runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        report.contains(&format!("# pass {tests}")),
        "all {tests} ran:\n{report}"
    );
}

#[test]
fn supabase_js_works_unchanged_against_the_gateway() {
    node_tests(
        "supabase-js.test.mjs",
        &[
            ("SERVICE_ROLE_KEY", topology::service_role_key()),
            (
                "CUSTOMER_KEY",
                user_token("22222222-2222-4222-8222-000000000005"),
            ),
        ],
        5,
    );
}

/// supabase-js's auth client against `/auth/v1` (GoTrue's API): signup, password and
/// refresh grants, getUser, getClaims through the JWKS, updateUser, signOut scopes,
/// a new user's order written and read back, an expired session refreshed, one about to
/// expire refreshed by the client on its own, a foreign project's token refused, and the
/// `sb_publishable_` (reads and writes) / `sb_secret_` API keys.
#[test]
fn supabase_js_auth_works_unchanged_against_the_gateway() {
    node_tests(
        "supabase-auth.test.mjs",
        &[
            ("PUBLISHABLE_KEY", topology::PUBLISHABLE_KEY.to_owned()),
            ("SECRET_KEY", topology::SECRET_KEY.to_owned()),
            ("DEMO_EMAIL", topology::DEMO_CUSTOMER_EMAIL.to_owned()),
            ("DEMO_PASSWORD", topology::DEMO_PASSWORD.to_owned()),
        ],
        7,
    );
}
