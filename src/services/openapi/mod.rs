//! `/api/v1/openapi.json`: the OpenAPI 3.1 document of `/api/v1`, embedded in the
//! bundle, and the check that it describes exactly the routes the router serves.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value;

use crate::http::{ApiResponse, JSON};

/// The document. Its `paths` must match [`crate::router::served_under`]`("/api/v1")`,
/// which the tests below check.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// The operations a path item can hold in OpenAPI 3.1.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// `GET /api/v1/openapi.json` -> the document, cacheable for five minutes.
pub fn document() -> ApiResponse {
    ApiResponse {
        status: 200,
        headers: vec![
            ("content-type".into(), JSON.into()),
            ("cache-control".into(), "public, max-age=300".into()),
        ],
        body: DOCUMENT.as_bytes().to_vec(),
    }
}

/// A method in uppercase and a path with each parameter written `{}`.
pub type Operation = (String, String);

/// Where the router and a document disagree.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Drift {
    /// Served, but not in the document.
    pub undocumented: Vec<Operation>,
    /// In the document, but not served.
    pub not_served: Vec<Operation>,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        self.undocumented.is_empty() && self.not_served.is_empty()
    }
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (label, operations) in [
            ("served but not documented", &self.undocumented),
            ("documented but not served", &self.not_served),
        ] {
            for (method, path) in operations {
                writeln!(f, "{label}: {method} {path}")?;
            }
        }
        Ok(())
    }
}

/// `/stores/{id}/orders` -> `/stores/{}/orders`: parameter names do not matter.
pub fn normalize_path(path: &str) -> String {
    let mut normalized = String::with_capacity(path.len());
    let mut in_parameter = false;
    for c in path.chars() {
        match (in_parameter, c) {
            (false, '{') => {
                normalized.push_str("{}");
                in_parameter = true;
            }
            (true, '}') => in_parameter = false,
            (true, _) => {}
            (false, c) => normalized.push(c),
        }
    }
    normalized
}

fn operation(method: &str, path: &str) -> Operation {
    (method.to_ascii_uppercase(), normalize_path(path))
}

/// Every operation in `document`'s `paths`, normalized.
pub fn documented_operations(document: &Value) -> Vec<Operation> {
    let Some(paths) = document.get("paths").and_then(Value::as_object) else {
        return Vec::new();
    };
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|method| item.get(**method).is_some())
                .map(move |method| operation(method, path))
        })
        .collect()
}

/// What is served and not documented, and documented and not served, each sorted.
pub fn drift<'a>(
    served: impl IntoIterator<Item = (&'a str, &'a str)>,
    documented: &[Operation],
) -> Drift {
    let served: BTreeSet<Operation> = served
        .into_iter()
        .map(|(method, path)| operation(method, path))
        .collect();
    let documented: BTreeSet<Operation> = documented
        .iter()
        .map(|(method, path)| operation(method, path))
        .collect();
    Drift {
        undocumented: served.difference(&documented).cloned().collect(),
        not_served: documented.difference(&served).cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::json;

    use super::*;
    use crate::router::served_under;

    fn parsed() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
    }

    fn owned(pairs: &[(&str, &str)]) -> Vec<Operation> {
        pairs
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect()
    }

    #[test]
    fn the_router_and_the_document_agree() {
        let drift = drift(served_under("/api/v1"), &documented_operations(&parsed()));
        assert!(
            drift.is_empty(),
            "src/services/openapi/openapi.json and ROUTES in src/router.rs disagree:\n{drift}"
        );
    }

    #[test]
    fn a_served_route_without_documentation_is_reported() {
        let mut served = served_under("/api/v1");
        served.push(("POST", "/api/v1/coupons/{}/redemptions"));
        let found = drift(served, &documented_operations(&parsed()));
        assert_eq!(
            found,
            Drift {
                undocumented: owned(&[("POST", "/api/v1/coupons/{}/redemptions")]),
                not_served: vec![],
            }
        );
        assert_eq!(
            found.to_string(),
            "served but not documented: POST /api/v1/coupons/{}/redemptions\n"
        );

        // A method dropped from a documented path counts too.
        let mut document = parsed();
        document["paths"]["/api/v1/products/{id}"]
            .as_object_mut()
            .unwrap()
            .remove("delete");
        let found = drift(served_under("/api/v1"), &documented_operations(&document));
        assert_eq!(
            found.undocumented,
            owned(&[("DELETE", "/api/v1/products/{}")])
        );
    }

    #[test]
    fn a_documented_route_that_is_not_served_is_reported() {
        let mut document = parsed();
        document["paths"]["/api/v1/coupons/{code}"] = json!({"get": {"responses": {}}});
        document["paths"]["/api/v1/orders/{id}"]["head"] = json!({"responses": {}});
        let found = drift(served_under("/api/v1"), &documented_operations(&document));
        assert_eq!(
            found,
            Drift {
                undocumented: vec![],
                not_served: owned(&[("GET", "/api/v1/coupons/{}"), ("HEAD", "/api/v1/orders/{}")]),
            }
        );
    }

    #[test]
    fn names_of_parameters_and_case_of_methods_do_not_matter() {
        assert_eq!(
            normalize_path("/api/v1/stores/{store_id}/orders"),
            "/api/v1/stores/{}/orders"
        );
        assert_eq!(normalize_path("/a/{}/b/{x}"), "/a/{}/b/{}");
        let document = json!({"paths": {"/a/{id}": {
            "parameters": [], "summary": "not operations", "get": {}, "PATCH": {}, "patch": {}
        }}});
        let documented = documented_operations(&document);
        assert_eq!(documented, owned(&[("GET", "/a/{}"), ("PATCH", "/a/{}")]));
        assert!(drift([("get", "/a/{}"), ("Patch", "/a/{}")], &documented).is_empty());
        assert!(documented_operations(&json!({})).is_empty());
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

        let spec = oas3::from_json(DOCUMENT).expect("openapi.json parses as OpenAPI 3.1");
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
        assert!(DOCUMENT.len() < 64 * 1024, "{} bytes", DOCUMENT.len());
    }

    #[test]
    fn served_as_cacheable_json() {
        let response = document();
        assert_eq!(response.status, 200);
        assert_eq!(response.header("content-type"), Some(JSON));
        assert_eq!(
            response.header("cache-control"),
            Some("public, max-age=300")
        );
        assert_eq!(response.body, DOCUMENT.as_bytes());
        let body: Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(body["openapi"], "3.1.0");
    }
}
