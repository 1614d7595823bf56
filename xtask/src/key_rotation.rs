//! `cargo xtask drill key-rotation`: docs/KEYS.md's rotation runbook on the local stack.
//! The gateway (the built bundle under plain workerd, restarted with each phase's
//! configuration, as a redeploy would) and every PostgREST (its key set file, reloaded)
//! go through four phases:
//!
//! 1. before: the old key signs;
//! 2. publish: the new key is trusted and published, the old one still signs;
//! 3. switch: the new key signs, the old one is still trusted (its tokens live on);
//! 4. retire: the old key is gone.
//!
//! Each phase signs real sessions in through the gateway, then presents every token made
//! so far to `/rest/v1` (the gateway verifies it, PostgREST verifies it again): a token
//! whose key the phase trusts must be served, any other refused. Printed: how many valid
//! tokens were refused and how many retired ones accepted; both targets are 0.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use payhuk_edge::auth::crypto::native::{RustCrypto, new_es256_key};
use payhuk_edge::auth::crypto::sign;
use payhuk_edge::auth::jwks::{Jwk, KeySet};
use payhuk_edge::auth::jwt::{self, Claims};
use serde_json::json;

use crate::drill::{Figure, Report};
use crate::load::agent;
use crate::paths::Paths;
use crate::stack::Stack;
use crate::{build, postgrest, topology, ui, workerd};

/// Sessions signed in per phase.
const SESSIONS_PER_PHASE: usize = 5;

struct Phase {
    name: &'static str,
    /// Which key signs: 0 the old, 1 the new.
    signs: usize,
    /// Which keys the gateway and PostgREST trust.
    trusts: &'static [usize],
}

const PHASES: [Phase; 4] = [
    Phase {
        name: "before",
        signs: 0,
        trusts: &[0],
    },
    Phase {
        name: "publish",
        signs: 0,
        trusts: &[0, 1],
    },
    Phase {
        name: "switch",
        signs: 1,
        trusts: &[0, 1],
    },
    Phase {
        name: "retire",
        signs: 1,
        trusts: &[1],
    },
];

pub fn drill(paths: &Paths) -> anyhow::Result<Vec<Report>> {
    build::run(paths)?;
    let mut stack = Stack::open()?;
    stack.up()?;
    let old: Jwk = serde_json::from_str(topology::SIGNING_KEY)?;
    let new = new_es256_key(&format!("payhuk-drill-{}", std::process::id()))
        .map_err(anyhow::Error::msg)?;
    let keys = [&old, &new];
    let outcome = phases(paths, &stack, &keys);
    // Whatever happened, PostgREST trusts the stack's own keys again.
    let restored = postgrest::set_jwks(&stack.dirs, &topology::postgrest_jwks());
    let figures = outcome?;
    restored?;
    Ok(vec![Report {
        drill: "key-rotation".into(),
        figures,
    }])
}

fn phases(paths: &Paths, stack: &Stack, keys: &[&Jwk; 2]) -> anyhow::Result<Vec<Figure>> {
    let started = Instant::now();
    let gateway = format!("http://127.0.0.1:{}", workerd::PORT);
    // (token, the key that signed it)
    let mut tokens: Vec<(String, usize)> = Vec::new();
    let (mut refused_valid, mut accepted_retired, mut checked) = (0usize, 0usize, 0usize);
    for phase in &PHASES {
        ui::header(&format!("key rotation: {}", phase.name));
        let trusted: Vec<&Jwk> = phase.trusts.iter().map(|i| keys[*i]).collect();
        postgrest::set_jwks(&stack.dirs, &topology::postgrest_jwks_of(&trusted))?;
        let others: Vec<Jwk> = phase
            .trusts
            .iter()
            .filter(|i| **i != phase.signs)
            .filter_map(|i| keys[*i].public())
            .collect();
        let signing = serde_json::to_string(keys[phase.signs])?;
        let jwks = serde_json::to_string(&KeySet { keys: others })?;
        let mut overrides = vec![("JWT_SIGNING_KEY", signing.as_str())];
        if phase.trusts.len() > 1 {
            overrides.push(("JWT_JWKS", jwks.as_str()));
        }
        let served = workerd::start_with(paths, &stack.dirs, None, &overrides)?;
        let result = (|| -> anyhow::Result<()> {
            postgrest_trusts(keys, phase.trusts)?;
            published(&gateway, keys, phase.trusts)?;
            for _ in 0..SESSIONS_PER_PHASE {
                let token = sign_in(&gateway)?;
                let kid = jwt::parse(&token).map_err(anyhow::Error::msg)?.kid;
                if kid != keys[phase.signs].kid {
                    bail!("phase {}: a session signed by {kid:?}", phase.name);
                }
                tokens.push((token, phase.signs));
            }
            for (token, signer) in &tokens {
                let valid = phase.trusts.contains(signer);
                let status = orders_status(&gateway, token)?;
                checked += 1;
                match (valid, status) {
                    (true, 200) | (false, 401) => {}
                    (true, other) => {
                        refused_valid += 1;
                        ui::detail(&format!("a valid token got {other}"));
                    }
                    (false, other) => {
                        accepted_retired += 1;
                        ui::detail(&format!("a retired key's token got {other}"));
                    }
                }
            }
            ui::detail(&format!(
                "{} tokens presented; trusted keys: {}",
                tokens.len(),
                phase
                    .trusts
                    .iter()
                    .map(|i| keys[*i].kid.clone().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            Ok(())
        })();
        served.stop(Duration::from_secs(5))?;
        result?;
    }
    Ok(vec![
        Figure::held(
            "valid tokens refused",
            refused_valid.to_string(),
            "0",
            refused_valid == 0,
        ),
        Figure::held(
            "retired tokens accepted",
            accepted_retired.to_string(),
            "0",
            accepted_retired == 0,
        ),
        Figure::reported(
            "tokens presented",
            format!(
                "{checked} over {} phases ({} sessions each)",
                PHASES.len(),
                SESSIONS_PER_PHASE
            ),
        ),
        Figure::reported(
            "drill time",
            format!("{:.0} s", started.elapsed().as_secs_f64()),
        ),
    ])
}

/// Waits (10 s at most) until every PostgREST has reloaded: a token of each trusted key
/// is served and one of each other key refused.
fn postgrest_trusts(keys: &[&Jwk; 2], trusts: &[usize]) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let now = chrono::Utc::now().timestamp();
    let mut claims = Claims::new("authenticated", "payhuk-drill", now, now + 300);
    claims.sub = Some("22222222-2222-4222-8222-000000000005".into());
    let probes: Vec<(String, bool)> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let token = futures::executor::block_on(sign(&claims, key, &RustCrypto))
                .map_err(anyhow::Error::msg)?;
            Ok((token, trusts.contains(&i)))
        })
        .collect::<anyhow::Result<_>>()?;
    loop {
        let mut settled = true;
        for node in &topology::NODES {
            for (token, trusted) in &probes {
                let status = match agent()
                    .get(&format!("{}/orders?limit=1", topology::postgrest_url(node)))
                    .set("authorization", &format!("Bearer {token}"))
                    .call()
                {
                    Ok(r) => r.status(),
                    Err(ureq::Error::Status(code, _)) => code,
                    Err(e) => return Err(e).context("asking PostgREST"),
                };
                settled &= (status == 200) == *trusted;
            }
        }
        if settled {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("PostgREST did not take the new key set within 10 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The gateway publishes exactly the trusted keys.
fn published(gateway: &str, keys: &[&Jwk; 2], trusts: &[usize]) -> anyhow::Result<()> {
    let body = agent()
        .get(&format!("{gateway}/auth/v1/.well-known/jwks.json"))
        .call()?
        .into_string()?;
    let set = KeySet::parse(&body).map_err(anyhow::Error::msg)?;
    let mut got: Vec<String> = set.keys.iter().filter_map(|k| k.kid.clone()).collect();
    let mut want: Vec<String> = trusts.iter().filter_map(|i| keys[*i].kid.clone()).collect();
    got.sort();
    want.sort();
    if got != want {
        bail!("the gateway publishes {got:?}, not {want:?}");
    }
    Ok(())
}

fn sign_in(gateway: &str) -> anyhow::Result<String> {
    let reply: serde_json::Value = agent()
        .post(&format!("{gateway}/auth/v1/token?grant_type=password"))
        .set("apikey", &topology::anon_key())
        .send_json(json!({"email": topology::DEMO_CUSTOMER_EMAIL,
                          "password": topology::DEMO_PASSWORD}))
        .context("signing in through the gateway")?
        .into_json()?;
    reply["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("no access_token in the session")
}

fn orders_status(gateway: &str, token: &str) -> anyhow::Result<u16> {
    match agent()
        .get(&format!("{gateway}/rest/v1/orders?select=id&limit=1"))
        .set("apikey", &topology::anon_key())
        .set("authorization", &format!("Bearer {token}"))
        .call()
    {
        Ok(r) => Ok(r.status()),
        Err(ureq::Error::Status(code, _)) => Ok(code),
        Err(e) => Err(e).context("asking the gateway"),
    }
}
