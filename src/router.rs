//! The route table: which handler a method and path go to.

use crate::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Health,
    /// `/rest/v1` and everything under it.
    Rest,
}

enum Pattern {
    Exact(&'static str),
    /// The path itself or anything below it.
    Prefix(&'static str),
}

struct Entry {
    pattern: Pattern,
    methods: &'static [&'static str],
    route: Route,
}

const ROUTES: &[Entry] = &[
    Entry {
        pattern: Pattern::Exact("/health"),
        methods: &["GET", "HEAD"],
        route: Route::Health,
    },
    Entry {
        pattern: Pattern::Prefix("/rest/v1"),
        methods: &["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"],
        route: Route::Rest,
    },
];

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match self {
            Pattern::Exact(p) => *p == path,
            Pattern::Prefix(p) => path
                .strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
        }
    }
}

/// Finds the route for `method` and `path`: 404 when no route has the path, 405 with
/// the allowed methods when the path exists for other methods.
pub fn resolve(method: &str, path: &str) -> Result<Route, AppError> {
    // `/health/` is `/health`; `/` stays `/`.
    let normalized = match path.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    };
    let entry = ROUTES
        .iter()
        .find(|e| e.pattern.matches(normalized))
        .ok_or_else(|| AppError::NotFound {
            path: path.to_owned(),
        })?;
    if entry.methods.contains(&method) {
        Ok(entry.route)
    } else {
        Err(AppError::MethodNotAllowed {
            method: method.to_owned(),
            allow: entry.methods,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_is_routed_for_get_and_head() {
        assert_eq!(resolve("GET", "/health").unwrap(), Route::Health);
        assert_eq!(resolve("HEAD", "/health").unwrap(), Route::Health);
        assert_eq!(resolve("GET", "/health/").unwrap(), Route::Health);
    }

    #[test]
    fn rest_prefix() {
        for path in [
            "/rest/v1",
            "/rest/v1/",
            "/rest/v1/products",
            "/rest/v1/rpc/create_order",
        ] {
            assert_eq!(resolve("PATCH", path).unwrap(), Route::Rest, "{path}");
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
    fn unknown_path_is_404() {
        for path in ["/", "/healthz", "/health/x", "/rest/v2/orders"] {
            let err = resolve("GET", path).unwrap_err();
            assert_eq!(err.status(), 404, "{path}");
        }
    }

    #[test]
    fn wrong_method_is_405_with_allow() {
        let err = resolve("POST", "/health").unwrap_err();
        assert_eq!(err.status(), 405);
        assert_eq!(err.headers(), vec![("allow", "GET, HEAD".to_owned())]);
    }
}
