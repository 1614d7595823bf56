//! Every `/api/v1` service handler end to end, without a network: the route
//! (`router::resolve`), the query string (`url::form_urlencoded`, as the Workers glue
//! reads it), headers, the caller, the JSON body (`ApiRequest::json` and each
//! handler's own checks), over a database that answers a scripted reply (status and
//! body, also fuzzed: PostgREST's answers are parsed too).
//!
//! Input: `<method>\n<path>\n<query>\n<caller>\n<headers, "name: value" separated by
//! tabs>\n<database status>\n<database body>\n<request body>`.
//! Caller: empty is anonymous; `user:<sub>` is a signed-in user with that `sub`;
//! anything else is a bearer token, authenticated as the gateway does.
//!
//! Invariants: no handler panics; every answer has a status from 100 to 599; an error
//! answer is JSON in the PostgREST shape; a JSON answer's body is JSON; a session's
//! `access_token` verifies with the gateway's keys (ES256, the signing key's kid); the
//! published JWKS holds public keys only.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payhuk_edge::auth::crypto::{self, native::RustCrypto};
use payhuk_edge::auth::jwks::KeySet;
use payhuk_edge::auth::jwt::{self, Alg, Claims};
use payhuk_edge::auth::request::{Caller, NoFetchedKeys, authenticate};
use payhuk_edge::config::Config;
use payhuk_edge::error::AppError;
use payhuk_edge::http::{ApiResponse, JSON};
use payhuk_edge::router::{self, Route};
use payhuk_edge::routes;
use payhuk_edge::services;
use payhuk_edge::services::request::ApiRequest;
use payhuk_edge_fuzz::{Headers, NOW, NoProviders, ScriptedDb, config, fields, number, text};

fuzz_target!(|data: &[u8]| {
    let f = fields(data, 8);
    let (method, path, caller) = (text(f[0]), text(f[1]), text(f[3]));
    let headers = Headers::parse(&text(f[4]), '\t');
    // What fetch can hand the gateway: 200 to 599, and no 3xx (it follows redirects).
    let status = match u16::try_from(number(f[5], 200)).unwrap_or(200) {
        s @ (200..=299 | 400..=599) => s,
        _ => 200,
    };
    let db = ScriptedDb::new(status, f[6]);

    let Ok(matched) = router::resolve(&method, &path) else {
        return;
    };
    let caller = match caller.strip_prefix("user:") {
        _ if caller.is_empty() => Caller {
            token: None,
            claims: None,
        },
        Some(sub) => {
            let mut claims = Claims::new("authenticated", "payhuk", NOW - 10, NOW + 3600);
            claims.sub = Some(sub.to_owned());
            Caller {
                token: Some("fuzz".into()),
                claims: Some(claims),
            }
        }
        None => match futures::executor::block_on(authenticate(
            &Headers::one("authorization", &format!("Bearer {caller}")),
            config(),
            &NoFetchedKeys,
            &RustCrypto,
            NOW,
        )) {
            Ok(caller) => caller,
            Err(err) => return check(&ApiResponse::from(&err)),
        },
    };
    // JSON unless the input says otherwise: without a content type every body would
    // stop at the 415 (unit-tested), and the handlers behind it would go unfuzzed.
    let mut headers: Vec<(String, String)> = headers
        .0
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .collect();
    if !headers.iter().any(|(n, _)| n == "content-type") {
        headers.push(("content-type".into(), "application/json".into()));
    }
    let req = ApiRequest {
        params: matched.params.clone(),
        query: url::form_urlencoded::parse(f[2])
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        headers,
        body: f[7].to_vec(),
        caller: Some(caller),
        now: NOW,
    };
    let answer = match futures::executor::block_on(handle(matched.route, &req, config(), &db)) {
        Some(Ok(answer)) => answer,
        Some(Err(err)) => {
            assert!((400..600).contains(&err.status()), "{err:?}");
            ApiResponse::from(&err)
        }
        None => return,
    };
    check(&answer);
    if matched.route == Route::Jwks {
        let published = KeySet::parse(&String::from_utf8_lossy(&answer.body))
            .expect("the published keys are a JWKS");
        assert!(
            published.keys.iter().all(|k| !k.is_private()),
            "a private key published"
        );
    }
    // A session the gateway issues verifies with its own keys, ES256 under its kid.
    if answer.status < 300
        && let Ok(body) = serde_json::from_slice::<serde_json::Value>(&answer.body)
        && let Some(token) = body["access_token"].as_str()
    {
        futures::executor::block_on(crypto::verify(
            token,
            &config().trusted_keys,
            &RustCrypto,
            NOW,
        ))
        .expect("a session the gateway issues verifies");
        let parsed = jwt::parse(token).expect("a session parses");
        assert_eq!(
            (parsed.alg, parsed.kid.as_deref()),
            (Alg::Es256, config().signing_key.kid.as_deref())
        );
    }
});

fn check(answer: &ApiResponse) {
    assert!((100..600).contains(&answer.status), "{answer:?}");
    if answer.header("content-type") == Some(JSON) && !answer.body.is_empty() {
        let body: serde_json::Value =
            serde_json::from_slice(&answer.body).expect("a JSON answer is JSON");
        if answer.status >= 400 {
            assert!(
                body["code"].is_string() && body["message"].is_string(),
                "{body}"
            );
        }
    }
}

/// The service routes, through the gateway's own dispatch, and the published keys.
async fn handle(
    route: Route,
    req: &ApiRequest,
    config: &Config,
    db: &ScriptedDb,
) -> Option<Result<ApiResponse, AppError>> {
    match route {
        // Not service routes: the health report, the pass-through, static documents.
        Route::Health | Route::Rest | Route::Status | Route::OpenApi => None,
        Route::Jwks => Some(services::auth::api::jwks(config)),
        _ => Some(routes::dispatch(route, req, config, db, &RustCrypto, &NoProviders).await),
    }
}
