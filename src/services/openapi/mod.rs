//! `/api/v1/openapi.json`: the OpenAPI 3.1 document of `/api/v1`. `openapi.json` holds
//! each operation under `x-operations`, keyed by its id; the `paths` are made from the
//! route table ([`crate::routes`]), so a route and its place in the document cannot
//! disagree.

use std::cell::{OnceCell, RefCell};
use std::rc::Rc;

use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::error::AppError;
use crate::http::{ApiResponse, JSON};
use crate::router;
use crate::services::payments::{checkout, return_url};

/// The operations and everything else the document says, without `paths`.
pub const SOURCE: &str = include_str!("openapi.json");

/// The static asset the bundle serves [`base`] from (`cargo xtask build` writes it to
/// `build/assets`): the document is 10 KB gzipped, kept out of the wasm bundle.
pub const ASSET: &str = "openapi.json";

const OPERATIONS: &str = "x-operations";

thread_local! {
    /// Parsed once per isolate: the asset only changes with the bundle.
    static BASE: OnceCell<Result<Value, String>> = const { OnceCell::new() };
    /// The last deployment's document, serialized, by what the deployment adds.
    static SERVED: RefCell<Option<(String, Rc<[u8]>)>> = const { RefCell::new(None) };
}

/// The document every deployment starts from: [`SOURCE`] with its `paths` made from
/// the route table. What `cargo xtask build` writes as [`ASSET`].
pub fn base() -> Result<Value, String> {
    let source: Value = serde_json::from_str(SOURCE).map_err(|e| e.to_string())?;
    build(source, router::operations())
}

/// `GET /api/v1/openapi.json` -> the document for this deployment (its payment
/// providers, the origins a payment may return to), cacheable for five minutes.
/// `asset` is [`base`] as served from [`ASSET`].
pub fn document(config: &Config, asset: &str) -> Result<ApiResponse, AppError> {
    let facts = Deployment::of(config);
    let key = facts.to_string();
    let cached = SERVED.with(|s| {
        s.borrow()
            .as_ref()
            .filter(|(k, _)| *k == key)
            .map(|(_, body)| body.clone())
    });
    let body = match cached {
        Some(body) => body,
        // Only a new deployment's first ask copies and serializes the document.
        None => {
            let base = BASE
                .with(|cell| {
                    cell.get_or_init(|| serde_json::from_str(asset).map_err(|e| e.to_string()))
                        .clone()
                })
                .map_err(|e| AppError::Internal(format!("{ASSET}: {e}")))?;
            let body: Rc<[u8]> = serde_json::to_vec(&facts.apply(base))
                .map_err(|e| AppError::Internal(format!("{ASSET}: {e}")))?
                .into();
            SERVED.with(|s| *s.borrow_mut() = Some((key, body.clone())));
            body
        }
    };
    Ok(ApiResponse {
        status: 200,
        headers: vec![
            ("content-type".into(), JSON.into()),
            ("cache-control".into(), "public, max-age=300".into()),
        ],
        body: body.to_vec(),
    })
}

/// What the document says that depends on the deployment's configuration, so a
/// request the document allows is one this deployment can accept.
#[derive(Debug)]
struct Deployment {
    providers: Vec<&'static str>,
    return_url: return_url::Rule,
}

impl Deployment {
    fn of(config: &Config) -> Deployment {
        Deployment {
            providers: checkout::offered(config),
            return_url: return_url::Rule::from_config(config),
        }
    }

    fn apply(&self, mut document: Value) -> Value {
        let request = &mut document["components"]["schemas"]["CreatePaymentRequest"]["properties"];
        if self.providers.is_empty() {
            // Nothing here can settle a payment: no provider value is valid.
            request["provider"] =
                json!({"not": {}, "description": "No payment provider is configured here"});
        } else {
            request["provider"]["enum"] = json!(self.providers);
        }
        request["return_url"]["pattern"] = self.return_url.pattern().into();
        document
    }
}

impl std::fmt::Display for Deployment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}|{}",
            self.providers.join(","),
            self.return_url.pattern()
        )
    }
}

/// `source` with `paths` made of `operations` (method, pattern, operation id), each
/// operation taken from `x-operations`. Refused: an operation the source lacks, and one
/// it has that no route serves.
pub fn build<'a>(
    mut source: Value,
    operations: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
) -> Result<Value, String> {
    let mut available = match source.as_object_mut().and_then(|o| o.remove(OPERATIONS)) {
        Some(Value::Object(map)) => map,
        _ => return Err(format!("no `{OPERATIONS}` object")),
    };
    let mut paths = Map::new();
    let mut missing = Vec::new();
    for (method, pattern, id) in operations {
        let Some(Value::Object(mut operation)) = available.remove(id) else {
            missing.push(id.to_owned());
            continue;
        };
        operation.insert("operationId".into(), id.into());
        common_responses(&mut operation);
        let item = paths
            .entry(pattern)
            .or_insert_with(|| Value::Object(Map::new()));
        item[method.to_ascii_lowercase()] = Value::Object(operation);
    }
    let unserved: Vec<&String> = available.keys().collect();
    if !missing.is_empty() || !unserved.is_empty() {
        return Err(format!(
            "routed without an operation: {missing:?}; operations no route serves: {unserved:?}"
        ));
    }
    source["paths"] = Value::Object(paths);
    Ok(source)
}

/// Answers every operation can give, stated on each unless it says more: 401 (a token
/// sent must be valid, on every route) and 503 (overload, or no region reachable); for
/// one that takes a body, 400 (not JSON), 413 (too large) and 415 (not JSON's type).
/// The document itself (`meta`) is served from the bundle: neither authenticated nor
/// sent upstream.
fn common_responses(operation: &mut Map<String, Value>) {
    if operation.get("tags") == Some(&json!(["meta"])) {
        return;
    }
    let takes_body = operation.contains_key("requestBody");
    let Some(Value::Object(responses)) = operation.get_mut("responses") else {
        return;
    };
    let mut add = |status: &str, component: &str| {
        responses
            .entry(status)
            .or_insert_with(|| json!({"$ref": format!("#/components/responses/{component}")}));
    };
    add("401", "Unauthorized");
    add("503", "Unavailable");
    if takes_body {
        add("400", "BadRequest");
        add("413", "PayloadTooLarge");
        add("415", "UnsupportedMediaType");
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::json;

    use super::*;
    use crate::router::served_under;

    /// The document as served.
    fn parsed() -> Value {
        serde_json::from_slice(
            &document(&crate::test_support::config(), &asset())
                .unwrap()
                .body,
        )
        .expect("the document is JSON")
    }

    /// The asset as `cargo xtask build` writes it.
    fn asset() -> String {
        base().expect("the document builds").to_string()
    }

    fn source() -> Value {
        serde_json::from_str(SOURCE).expect("openapi.json is JSON")
    }

    #[test]
    fn every_api_route_is_documented_at_its_path() {
        let document = parsed();
        let mut documented = Vec::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.push(format!(
                    "{} {}",
                    method.to_uppercase(),
                    router::unnamed(path)
                ));
            }
        }
        let mut served: Vec<String> = served_under("/api/v1")
            .into_iter()
            .map(|(m, p)| format!("{m} {p}"))
            .collect();
        documented.sort();
        served.sort();
        assert_eq!(documented, served);
        assert!(
            document.get(OPERATIONS).is_none(),
            "the source's own key is not served"
        );
        assert_eq!(
            document["paths"]["/api/v1/stores/{id}/orders"]["get"]["operationId"],
            "listStoreOrders"
        );
    }

    #[test]
    fn every_api_route_names_an_operation() {
        for entry in crate::routes::ROUTES {
            for op in entry.methods {
                let api = entry.pattern.starts_with("/api/v1/");
                assert_eq!(
                    op.operation_id.is_some(),
                    api,
                    "{} {}: an operation id exactly for /api/v1 routes",
                    op.method,
                    entry.pattern
                );
            }
        }
    }

    #[test]
    fn a_route_without_its_operation_and_an_operation_without_a_route_are_refused() {
        let mut routes: Vec<_> = router::operations().collect();
        routes.push(("POST", "/api/v1/coupons/{code}/redemptions", "redeemCoupon"));
        let err = build(source(), routes).unwrap_err();
        assert!(
            err.contains("routed without an operation: [\"redeemCoupon\"]"),
            "{err}"
        );

        let mut extra = source();
        extra[OPERATIONS]["getCoupon"] = json!({"responses": {}});
        let err = build(extra, router::operations()).unwrap_err();
        assert!(
            err.contains("operations no route serves: [\"getCoupon\"]"),
            "{err}"
        );

        let err = build(json!({"openapi": "3.1.0"}), router::operations()).unwrap_err();
        assert_eq!(err, "no `x-operations` object");
    }

    /// Every `$ref` in `value`, with where it is.
    fn refs<'a>(value: &'a Value, at: String, found: &mut Vec<(String, &'a str)>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    match (key.as_str(), inner) {
                        ("$ref", Value::String(target)) => found.push((at.clone(), target)),
                        _ => refs(inner, format!("{at}/{key}"), found),
                    }
                }
            }
            Value::Array(items) => {
                for (i, inner) in items.iter().enumerate() {
                    refs(inner, format!("{at}/{i}"), found);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_ref_resolves_within_the_document() {
        let document = parsed();
        let mut found = Vec::new();
        refs(&document, String::new(), &mut found);
        assert!(found.len() > 100, "{} refs", found.len());
        let broken: Vec<_> = found
            .iter()
            .filter(|(_, target)| {
                target
                    .strip_prefix('#')
                    .is_none_or(|pointer| document.pointer(pointer).is_none())
            })
            .collect();
        assert!(broken.is_empty(), "unresolved $ref: {broken:#?}");
    }

    #[test]
    fn the_document_is_valid_openapi_3_1() {
        use oas3::spec::ParameterIn;

        let served = String::from_utf8(
            document(&crate::test_support::config(), &asset())
                .unwrap()
                .body,
        )
        .unwrap();
        let spec = oas3::from_json(&served).expect("openapi.json parses as OpenAPI 3.1");
        let version = spec.validate_version().expect("an OpenAPI 3.1 version");
        assert_eq!(version.to_string(), "3.1.0");
        assert_eq!(spec.info.title, "payhuk-edge gateway API");
        assert_eq!(spec.info.version, "1");
        let document = parsed();
        let schemes = document["components"]["securitySchemes"]
            .as_object()
            .expect("security schemes");
        let tags = [
            "auth",
            "products",
            "orders",
            "payments",
            "shipping",
            "downloads",
            "analytics",
            "meta",
        ];
        let declared: Vec<&str> = spec.tags.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(declared, tags);

        let mut operation_ids = HashSet::new();
        let mut problems = Vec::new();
        for (path, item) in spec.paths.iter().flatten() {
            let shared = item.parameters.clone();
            for (method, op) in item.methods() {
                let at = format!("{method} {path}");
                let mut problem = |what: String| problems.push(format!("{at}: {what}"));
                match &op.operation_id {
                    Some(id) if operation_ids.insert(id.clone()) => {}
                    other => problem(format!("operationId {other:?} missing or repeated")),
                }
                if op.tags.len() != 1 || !tags.contains(&op.tags[0].as_str()) {
                    problem(format!("tags {:?}: want one of {tags:?}", op.tags));
                }
                if op.summary.is_none() {
                    problem("no summary".into());
                }
                let mut in_path = Vec::new();
                for parameter in shared.iter().chain(&op.parameters) {
                    match parameter.resolve(&spec) {
                        Ok(p) if p.location == ParameterIn::Path => {
                            if p.required != Some(true) {
                                problem(format!("path parameter {} is not required", p.name));
                            }
                            in_path.push(p.name);
                        }
                        Ok(_) => {}
                        Err(e) => problem(format!("parameter: {e}")),
                    }
                }
                let mut templated: Vec<String> = path
                    .split('/')
                    .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                    .map(str::to_owned)
                    .collect();
                templated.sort();
                in_path.sort();
                if templated != in_path {
                    problem(format!(
                        "path parameters {in_path:?} are not the template's {templated:?}"
                    ));
                }
                if let Some(Err(e)) = op.request_body.as_ref().map(|b| b.resolve(&spec)) {
                    problem(format!("request body: {e}"));
                }
                let responses = op.responses.clone().unwrap_or_default();
                if !responses
                    .keys()
                    .any(|s| s.starts_with('2') || s.starts_with('3'))
                {
                    problem("no 2xx or 3xx response".into());
                }
                for (status, response) in &responses {
                    match response.resolve(&spec) {
                        Ok(r) if r.description.is_some() => {}
                        Ok(_) => problem(format!("response {status} has no description")),
                        Err(e) => problem(format!("response {status}: {e}")),
                    }
                }
                for requirement in spec.security.iter().chain(&op.security) {
                    for name in requirement.0.keys() {
                        if !schemes.contains_key(name) {
                            problem(format!("security scheme {name} is not declared"));
                        }
                    }
                }
            }
        }
        assert!(problems.is_empty(), "{problems:#?}");
        assert_eq!(
            operation_ids.len(),
            served_under("/api/v1").len(),
            "one operation per served route"
        );
    }

    #[test]
    fn the_document_stays_compact() {
        // It is in every copy of the bundle: a large addition deserves a look.
        assert!(SOURCE.len() < 64 * 1024, "{} bytes", SOURCE.len());
    }

    #[test]
    fn served_as_cacheable_json() {
        let response = document(&crate::test_support::config(), &asset()).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.header("content-type"), Some(JSON));
        assert_eq!(
            response.header("cache-control"),
            Some("public, max-age=300")
        );
        let body: Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(body["openapi"], "3.1.0");
    }

    #[test]
    fn the_document_states_this_deployment_s_providers_and_return_origins() {
        let local = crate::test_support::config_with(&[
            ("WEBHOOK_SECRET_TEST", "a-local-test-secret-of-some-length"),
            ("PUBLIC_URL", "http://127.0.0.1:8787"),
            ("ALLOWED_ORIGINS", "http://localhost:8790"),
        ]);
        let served = |config: &Config| -> Value {
            serde_json::from_slice(&document(config, &asset()).unwrap().body).unwrap()
        };
        let payment = |doc: &Value| {
            doc["components"]["schemas"]["CreatePaymentRequest"]["properties"].clone()
        };
        let here = payment(&served(&local));
        assert_eq!(here["provider"]["enum"], json!(["test"]));
        assert_eq!(
            here["return_url"]["pattern"],
            return_url::Rule::from_config(&local).pattern().as_str()
        );
        // Another configuration, in the same isolate, is not given the first's document.
        let bare = payment(&served(&crate::test_support::config()));
        assert_eq!(bare["provider"]["not"], json!({}));
        assert_ne!(bare["return_url"]["pattern"], here["return_url"]["pattern"]);
    }

    #[test]
    fn every_operation_lists_the_errors_any_request_can_get() {
        let document = parsed();
        let mut missing = Vec::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if op["tags"] == json!(["meta"]) {
                    continue;
                }
                let mut expected = vec!["401", "503"];
                if op.get("requestBody").is_some() {
                    expected.extend(["400", "413", "415"]);
                }
                for status in expected {
                    if op["responses"].get(status).is_none() {
                        missing.push(format!("{method} {path}: {status}"));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "{missing:#?}");
    }

    #[test]
    fn a_consistency_token_has_the_documented_shape() {
        use crate::consistency::token::ConsistencyToken;

        let pattern = parsed()["components"]["headers"]["Consistency"]["schema"]["pattern"]
            .as_str()
            .unwrap()
            .to_owned();
        let pattern = regex::Regex::new(&pattern).unwrap();
        let mut token = None;
        for xid in [7_u64, u64::MAX, 42, 1, 2, 3, 4, 5, 6] {
            token = Some(ConsistencyToken::after_write(
                token,
                xid,
                1_800_000_000,
                300,
            ));
            let encoded = token.as_ref().unwrap().encode(&[9; 32]);
            assert!(pattern.is_match(&encoded), "{encoded}");
        }
        assert!(!pattern.is_match("v1.1.2.short"));
    }
}
