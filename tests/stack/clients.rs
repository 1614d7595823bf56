//! Clients written for Supabase work against the gateway unchanged.

use std::process::Command;

use payhuk_stack_tests::{ReplayPaused, stack, user_token};
use xtask::topology;

#[test]
fn supabase_js_works_unchanged_against_the_gateway() {
    let stack = stack();
    let script = stack.paths.root.join("tests/js/supabase-js.test.mjs");
    // Replicas that lag for real: an order read back right after it was placed must
    // come through the read-your-writes token, not a lucky race.
    let _paused = [
        ReplayPaused::new(&stack, "sfo1"),
        ReplayPaused::new(&stack, "fra1"),
    ];
    let out = Command::new("node")
        .arg("--test")
        .arg(&script)
        .current_dir(&stack.paths.root)
        .env("GATEWAY_URL", topology::gateway_url())
        .env("ANON_KEY", topology::anon_key())
        .env("SERVICE_ROLE_KEY", topology::service_role_key())
        .env(
            "CUSTOMER_KEY",
            user_token("22222222-2222-4222-8222-000000000005"),
        )
        .output()
        .expect("node runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "supabase-js tests failed:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("# pass 5"), "all five ran:\n{report}");
}

/// supabase-js's auth client against `/auth/v1` (GoTrue's API), replicas lagging for
/// real: signup, password and refresh grants, getUser, getClaims through the JWKS,
/// updateUser, signOut scopes, automatic refresh, a foreign project's token refused, and
/// the `sb_publishable_` / `sb_secret_` API keys.
#[test]
fn supabase_js_auth_works_unchanged_against_the_gateway() {
    let stack = stack();
    let script = stack.paths.root.join("tests/js/supabase-auth.test.mjs");
    let _paused = [
        ReplayPaused::new(&stack, "sfo1"),
        ReplayPaused::new(&stack, "fra1"),
    ];
    let out = Command::new("node")
        .arg("--test")
        .arg(&script)
        .current_dir(&stack.paths.root)
        .env("GATEWAY_URL", topology::gateway_url())
        .env("ANON_KEY", topology::anon_key())
        .env("PUBLISHABLE_KEY", topology::PUBLISHABLE_KEY)
        .env("SECRET_KEY", topology::SECRET_KEY)
        .env("DEMO_EMAIL", topology::DEMO_CUSTOMER_EMAIL)
        .env("DEMO_PASSWORD", topology::DEMO_PASSWORD)
        .output()
        .expect("node runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "supabase-js auth tests failed:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("# pass 5"), "all five ran:\n{report}");
}
