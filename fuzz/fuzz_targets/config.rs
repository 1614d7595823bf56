//! Configuration: `Config::from_source` over a map of arbitrary keys and values (the
//! Worker's vars and secrets), and `MaxLag::parse` on every value.
//!
//! Input: `<mode>\n<KEY=VALUE lines>`. Mode `base` starts from a valid three-region
//! configuration and applies the lines on top (a line `KEY=` removes the key), so
//! most inputs get past the required keys; otherwise the lines are the whole source.
//!
//! Invariants: parsing is deterministic; a failure lists at least one problem; an
//! accepted configuration has at least one region, no region twice, each with an
//! http(s) URL without a trailing slash; its default region is one of them; its JWT
//! secret is at least 32 bytes and its service role key verifies under it with role
//! `service_role`; its signing key is a private EC P-256 key with a kid (whose public
//! half is published) or the legacy secret; only public keys are published, each of
//! them trusted, and the legacy secret is trusted; every bounded number is within its
//! bounds; webhook secrets are at least 16 bytes.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use payhuk_edge::auth::jwks::Jwk;
use payhuk_edge::auth::jwt::{self, Alg};
use payhuk_edge::config::{AllowedOrigins, Config, MaxLag, WEBHOOK_PROVIDERS};
use payhuk_edge_fuzz::{config_map, fields, text};

fuzz_target!(|data: &[u8]| {
    let f = fields(data, 2);
    let mut source: HashMap<String, String> = if f[0] == b"base" {
        config_map(&[])
    } else {
        HashMap::new()
    };
    for line in text(f[1]).split('\n') {
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        if value.is_empty() && f[0] == b"base" {
            source.remove(key);
        } else {
            source.insert(key.to_owned(), value.to_owned());
        }
        if let Ok(lag) = MaxLag::parse(value) {
            assert!(
                lag.seconds.is_none_or(|s| s.is_finite() && s >= 0.0),
                "{lag:?}"
            );
        }
    }

    let parsed = Config::from_source(&source);
    assert_eq!(
        format!("{parsed:?}"),
        format!("{:?}", Config::from_source(&source)),
        "parsing is deterministic"
    );
    let config = match parsed {
        Ok(config) => config,
        Err(errors) => {
            assert!(!errors.0.is_empty(), "a failure names its problems");
            assert!(!errors.to_string().is_empty());
            return;
        }
    };

    assert!(!config.regions.is_empty());
    for (i, region) in config.regions.iter().enumerate() {
        assert!(
            config.regions[..i].iter().all(|r| r.code != region.code),
            "{} twice",
            region.code
        );
        let url = url::Url::parse(&region.postgrest_url).expect("a region's URL parses");
        assert!(matches!(url.scheme(), "http" | "https"));
        assert!(
            !region.postgrest_url.ends_with('/'),
            "{}",
            region.postgrest_url
        );
        assert!((-90.0..=90.0).contains(&region.location.lat));
        assert!((-180.0..=180.0).contains(&region.location.lon));
    }
    assert!(config.region(config.default_region.as_str()).is_some());
    let secret = config.jwt_secret.expose();
    assert!(secret.len() >= 32);
    let claims = jwt::decode_verified(config.service_role_key.expose(), secret.as_bytes())
        .expect("the service role key verifies");
    assert_eq!(claims.role, "service_role");
    for (value, min, max) in [
        (config.upstream_timeout_ms, 100, 60_000),
        (config.health_ttl_ms, 100, 60_000),
        (config.consistency_ttl_seconds, 10, 86_400),
        (config.access_token_ttl_seconds, 60, 86_400),
        (config.refresh_token_ttl_seconds, 300, 31_536_000),
        (config.webhook_tolerance_seconds, 10, 3600),
        (config.download_link_ttl_seconds, 60, 604_800),
        (config.download_max_count, 1, 1000),
        (config.login_limits.window_seconds, 1, 86_400),
        (config.login_limits.per_account, 1, 1000),
        (config.login_limits.per_client, 1, 10_000),
    ] {
        assert!(
            (min..=max).contains(&value),
            "{value} outside {min}..={max}"
        );
    }
    for (name, secret) in &config.webhook_secrets {
        assert!(WEBHOOK_PROVIDERS.contains(&name.as_str()));
        assert!(secret.expose().len() >= 16);
    }
    for rpc in &config.read_only_rpcs {
        assert!(!rpc.is_empty() && rpc.len() <= 63);
    }
    if let AllowedOrigins::List(origins) = &config.allowed_origins {
        for origin in origins {
            let url = url::Url::parse(origin).expect("an allowed origin parses");
            assert_eq!(&url.origin().ascii_serialization(), origin);
        }
    }
    // Keys: the signing key is a private EC P-256 key with a kid, or the legacy secret;
    // only public keys are published, all of them trusted, with the legacy secret.
    match config.signing_key.validate() {
        Ok(Alg::Es256) => {
            assert!(config.signing_key.is_private() && config.signing_key.kid.is_some());
            assert_eq!(
                config.published_keys.keys.first(),
                config.signing_key.public().as_ref()
            );
        }
        Ok(Alg::Hs256) => assert_eq!(config.signing_key.bytes("k"), Ok(secret.into())),
        other => panic!("signing key {:?}: {other:?}", config.signing_key),
    }
    for key in &config.published_keys.keys {
        assert!(!key.is_private() && key.kty != "oct", "published {key:?}");
        assert!(
            config
                .trusted_keys
                .keys
                .iter()
                .any(|t| t.public().as_ref() == Some(key)),
            "{key:?} not trusted"
        );
    }
    assert!(
        config
            .trusted_keys
            .keys
            .contains(&Jwk::hs256(secret.as_bytes(), None)),
        "the legacy secret is trusted"
    );
    let lag: MaxLag = config.max_replica_lag;
    assert!(lag.seconds.is_none_or(|s| s.is_finite() && s >= 0.0));
});
