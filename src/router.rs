//! Matching a method and path against the route table ([`crate::routes`]).

use crate::error::AppError;

use crate::routes::ROUTES;
pub use crate::routes::Route;

/// A route and the values of its `{param}` segments, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub route: Route,
    pub params: Vec<String>,
}

/// One method at a path: its route and, for a documented route, its OpenAPI operation.
pub struct Operation {
    pub method: &'static str,
    pub route: Route,
    pub operation_id: Option<&'static str>,
}

/// A path pattern and the methods served there.
pub struct Entry {
    pub pattern: &'static str,
    pub methods: &'static [Operation],
}

/// The captured segments when `path` matches `pattern` (see [`crate::routes`]).
fn captures(pattern: &str, path: &str) -> Option<Vec<String>> {
    if let Some(prefix) = pattern.strip_suffix("/**") {
        return path
            .strip_prefix(prefix)
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            .map(|_| Vec::new());
    }
    let (want, got): (Vec<&str>, Vec<&str>) =
        (pattern.split('/').collect(), path.split('/').collect());
    if want.len() != got.len() {
        return None;
    }
    let mut params = Vec::new();
    for (w, g) in want.iter().zip(&got) {
        if w.starts_with('{') {
            if g.is_empty() {
                return None;
            }
            params.push((*g).to_owned());
        } else if w != g {
            return None;
        }
    }
    Some(params)
}

/// `/stores/{id}/orders` -> `/stores/{}/orders`: what tests and the bench compare.
pub fn unnamed(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "{}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The pattern `route` is served at.
pub fn pattern_of(route: Route) -> Option<&'static str> {
    ROUTES
        .iter()
        .find(|e| e.methods.iter().any(|op| op.route == route))
        .map(|e| e.pattern)
}

/// Every documented operation: its method, its pattern (parameters named) and its id.
pub fn operations() -> impl Iterator<Item = (&'static str, &'static str, &'static str)> {
    ROUTES.iter().flat_map(|e| {
        e.methods
            .iter()
            .filter_map(move |op| Some((op.method, e.pattern, op.operation_id?)))
    })
}

fn entry_for(path: &str) -> Option<(&'static Entry, Vec<String>)> {
    // `/health/` is `/health`; `/` stays `/`.
    let normalized = match path.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    };
    ROUTES
        .iter()
        .find_map(|e| captures(e.pattern, normalized).map(|params| (e, params)))
}

/// The methods served at `path`, `None` when nothing is (what a CORS preflight asks).
pub fn methods_at(path: &str) -> Option<Vec<&'static str>> {
    entry_for(path).map(|(entry, _)| entry.methods.iter().map(|op| op.method).collect())
}

/// Every `(method, path pattern)` the router serves under `prefix`, with each path
/// parameter written `{}` (what the stack tests and the bench walk compare against).
pub fn served_under(prefix: &str) -> Vec<(&'static str, String)> {
    ROUTES
        .iter()
        .filter(|e| e.pattern.starts_with(prefix) && !e.pattern.ends_with("/**"))
        .flat_map(|e| e.methods.iter().map(|op| (op.method, unnamed(e.pattern))))
        .collect()
}

/// Finds the route for `method` and `path`: 404 when no route has the path, 405 with
/// the allowed methods when the path exists for other methods.
pub fn resolve(method: &str, path: &str) -> Result<Matched, AppError> {
    let (entry, params) = entry_for(path).ok_or_else(|| AppError::NoRoute {
        path: path.to_owned(),
    })?;
    match entry.methods.iter().find(|op| op.method == method) {
        Some(op) => Ok(Matched {
            route: op.route,
            params,
        }),
        None => Err(AppError::MethodNotAllowed {
            method: method.to_owned(),
            allow: entry
                .methods
                .iter()
                .map(|op| op.method)
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str) -> Route {
        resolve(method, path).unwrap().route
    }

    #[test]
    fn health_is_routed_for_get_and_head() {
        assert_eq!(route("GET", "/health"), Route::Health);
        assert_eq!(route("GET", "/auth/v1/.well-known/jwks.json"), Route::Jwks);
        assert_eq!(route("HEAD", "/health"), Route::Health);
        assert_eq!(route("GET", "/health/"), Route::Health);
    }

    #[test]
    fn rest_prefix() {
        for path in [
            "/rest/v1",
            "/rest/v1/",
            "/rest/v1/products",
            "/rest/v1/rpc/place_order",
        ] {
            assert_eq!(route("PATCH", path), Route::Rest, "{path}");
        }
        assert_eq!(resolve("GET", "/rest/v1x").unwrap_err().status(), 404);
        assert_eq!(
            resolve("OPTIONS", "/rest/v1/products")
                .unwrap_err()
                .status(),
            405
        );
    }

    #[test]
    fn services_with_path_parameters() {
        let matched = resolve(
            "PATCH",
            "/api/v1/products/44444444-4444-4444-8444-000000000101",
        )
        .unwrap();
        assert_eq!(matched.route, Route::UpdateProduct);
        assert_eq!(matched.params, ["44444444-4444-4444-8444-000000000101"]);
        let matched = resolve("GET", "/api/v1/stores/abc/orders").unwrap();
        assert_eq!(
            (matched.route, matched.params),
            (Route::ListStoreOrders, vec!["abc".to_owned()])
        );
        assert_eq!(route("POST", "/api/v1/orders"), Route::PlaceOrder);
        assert_eq!(route("GET", "/api/v1/orders"), Route::ListOrders);
        assert_eq!(route("GET", "/api/v1/auth/me"), Route::AuthMe);
        // A literal segment wins over a parameter declared after it.
        assert_eq!(
            route("POST", "/api/v1/payments/webhooks/fedapay"),
            Route::PaymentWebhook
        );
        assert_eq!(
            route("POST", "/api/v1/downloads/links"),
            Route::CreateDownloadLink
        );
        assert_eq!(
            route("GET", "/api/v1/downloads/abc.123.sig"),
            Route::Download
        );
        assert_eq!(
            resolve("GET", "/api/v1/products//x").unwrap_err().status(),
            404
        );
        assert_eq!(
            resolve("GET", "/api/v1/stores//orders")
                .unwrap_err()
                .status(),
            404
        );
    }

    #[test]
    fn unknown_path_is_404() {
        for path in [
            "/",
            "/healthz",
            "/health/x",
            "/rest/v2/orders",
            "/api/v1/products/a/b",
        ] {
            let err = resolve("GET", path).unwrap_err();
            assert_eq!(err.status(), 404, "{path}");
        }
    }

    #[test]
    fn wrong_method_is_405_with_allow() {
        let err = resolve("POST", "/health").unwrap_err();
        assert_eq!(err.status(), 405);
        assert_eq!(err.headers(), vec![("allow", "GET, HEAD".to_owned())]);
        let err = resolve("PUT", "/api/v1/products/x").unwrap_err();
        assert_eq!(
            err.headers(),
            vec![("allow", "GET, PATCH, DELETE".to_owned())]
        );
    }
}
