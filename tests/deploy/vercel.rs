//! `vercel.json`: the static storefront with its security headers, and `/api/*` and
//! `/rest/v1/*` rewritten to the gateway, as the file says it and as Vercel's own route
//! compiler (@vercel/routing-utils) turns it into routes.

use std::collections::BTreeMap;
use std::fs;
use std::time::Duration;

use serde_json::{Value, json};

use crate::{GATEWAY_ORIGIN, REGIONS, node, root};

fn vercel_json() -> Value {
    let path = root().join("vercel.json");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("vercel.json does not parse: {e}"))
}

/// Properties of vercel.json this project may use; a misspelt one would be ignored.
const KNOWN_KEYS: [&str; 13] = [
    "$schema",
    "regions",
    "framework",
    "installCommand",
    "buildCommand",
    "outputDirectory",
    "cleanUrls",
    "trailingSlash",
    "rewrites",
    "redirects",
    "headers",
    "functions",
    "public",
];

/// Every response, the storefront's files and the proxied gateway's alike, carries these.
fn security_headers() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("Content-Security-Policy", CSP),
        (
            "Strict-Transport-Security",
            "max-age=63072000; includeSubDomains",
        ),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        (
            "Permissions-Policy",
            "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
        ),
        ("X-Frame-Options", "DENY"),
    ])
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                   connect-src 'self' https://api.payhuk.com; img-src 'self' data:; \
                   frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/// A CSP as directive -> sources, so the order of directives does not matter.
fn directives(csp: &str) -> BTreeMap<String, Vec<String>> {
    csp.split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let mut words = d.split_whitespace().map(str::to_owned);
            let name = words.next().unwrap().to_ascii_lowercase();
            (name, words.collect())
        })
        .collect()
}

#[test]
fn vercel_json_pins_regions_static_output_and_rewrites() {
    let config = vercel_json();
    let object = config.as_object().expect("vercel.json is an object");
    for key in object.keys() {
        assert!(
            KNOWN_KEYS.contains(&key.as_str()),
            "vercel.json: unknown property `{key}`"
        );
    }
    assert_eq!(config["$schema"], "https://openapi.vercel.sh/vercel.json");
    assert_eq!(config["regions"], json!(REGIONS), "regions");
    assert_eq!(config["outputDirectory"], "storefront", "outputDirectory");
    // Static files, no build step.
    assert!(
        config.get("buildCommand").is_none_or(Value::is_null),
        "buildCommand: {}",
        config["buildCommand"]
    );
    assert!(
        root().join("storefront").is_dir(),
        "outputDirectory `storefront` does not exist"
    );
    assert_eq!(
        config["rewrites"],
        json!([
            {
                "source": "/api/:path*",
                "destination": format!("{GATEWAY_ORIGIN}/api/:path*"),
            },
            {
                "source": "/rest/v1/:path*",
                "destination": format!("{GATEWAY_ORIGIN}/rest/v1/:path*"),
            },
        ]),
        "rewrites"
    );
}

#[test]
fn security_headers_are_set_on_every_path() {
    let config = vercel_json();
    let rules = config["headers"].as_array().expect("headers is a list");
    let everything = rules
        .iter()
        .find(|r| r["source"] == "/(.*)")
        .expect("a headers rule for source `/(.*)`");
    let set: BTreeMap<&str, &str> = everything["headers"]
        .as_array()
        .expect("its headers are a list")
        .iter()
        .map(|h| {
            let object = h.as_object().expect("a header is an object");
            assert_eq!(object.len(), 2, "a header has key and value only: {h}");
            (h["key"].as_str().unwrap(), h["value"].as_str().unwrap())
        })
        .collect();

    let expected = security_headers();
    for (name, value) in &expected {
        let got = set
            .get(name)
            .unwrap_or_else(|| panic!("`/(.*)` does not set {name}"));
        if *name == "Content-Security-Policy" {
            assert_eq!(
                directives(got),
                directives(value),
                "Content-Security-Policy"
            );
        } else {
            assert_eq!(got, value, "{name}");
        }
    }
    let hsts = set["Strict-Transport-Security"];
    let max_age: u64 = hsts
        .split(';')
        .find_map(|p| p.trim().strip_prefix("max-age="))
        .and_then(|s| s.parse().ok())
        .expect("HSTS max-age");
    assert!(max_age >= 31_536_000, "HSTS max-age under a year: {hsts}");
}

/// What Vercel's routes do with one request path (see vercel_routes.cjs).
#[derive(Debug)]
struct Routed {
    headers: BTreeMap<String, String>,
    redirect: Option<(u64, String)>,
    rewrite: Option<String>,
}

fn vercel_routes(paths: &[&str]) -> BTreeMap<String, Routed> {
    let mut args = vec!["tests/deploy/vercel_routes.cjs", "vercel.json"];
    args.extend(paths);
    let ran = node(&args, Duration::from_secs(60));
    assert!(ran.success, "vercel_routes.cjs\n{}", ran.both());
    let out: Value =
        serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("{e}: {}", ran.stdout));
    assert!(
        out["error"].is_null(),
        "Vercel refuses vercel.json's routing: {}",
        out["error"]
    );
    out["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, r)| {
            let headers = r["headers"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect();
            let redirect = r["redirect"].as_object().map(|redirect| {
                (
                    redirect["status"].as_u64().unwrap(),
                    redirect["location"].as_str().unwrap().to_owned(),
                )
            });
            let rewrite = r["rewrite"].as_str().map(str::to_owned);
            (
                path.clone(),
                Routed {
                    headers,
                    redirect,
                    rewrite,
                },
            )
        })
        .collect()
}

#[test]
fn vercel_routes_send_gateway_paths_to_the_gateway_with_the_headers() {
    let to_gateway = [
        "/api/v1/products",
        "/api/v1/orders/0190f3a1-7c2e-7000-8000-000000000001/items",
        "/rest/v1/products",
        "/rest/v1/rpc/place_order",
    ];
    let storefront = ["/", "/app.js", "/style.css", "/apix", "/rest/v2/products"];
    let mut paths: Vec<&str> = to_gateway.to_vec();
    paths.extend(storefront);
    let routed = vercel_routes(&paths);

    let expected_headers: BTreeMap<String, String> = security_headers()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    for path in to_gateway {
        let r = &routed[path];
        assert_eq!(r.redirect, None, "{path} is redirected");
        assert_eq!(
            r.rewrite.as_deref(),
            Some(format!("{GATEWAY_ORIGIN}{path}").as_str()),
            "{path} rewritten"
        );
    }
    for path in storefront {
        let r = &routed[path];
        assert_eq!(r.redirect, None, "{path} is redirected");
        assert_eq!(r.rewrite, None, "{path} must not go to the gateway");
    }
    for path in paths {
        let r = &routed[path];
        for (name, value) in &expected_headers {
            let got = r
                .headers
                .get(name)
                .unwrap_or_else(|| panic!("{path}: no {name} ({r:?})"));
            if name == "Content-Security-Policy" {
                assert_eq!(directives(got), directives(value), "{path}: CSP");
            } else {
                assert_eq!(got, value, "{path}: {name}");
            }
        }
    }
}
