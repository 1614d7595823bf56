//! Cross-origin rules for frontends calling the gateway with `fetch`.
//!
//! Exact origins from `ALLOWED_ORIGINS` get their own origin back with credentials
//! allowed (the read-your-writes cookie rides along); `*` gets `*` and never
//! credentials, as browsers require. Preflights are answered here, without an upstream
//! call. An origin that is not allowed gets no CORS headers, so the browser blocks the
//! call; its preflight is refused with a JSON error a developer can read in devtools.

use crate::config::AllowedOrigins;
use crate::error::AppError;
use crate::http::ApiResponse;
use crate::router;

/// Response headers scripts may read: the gateway's own, `Server-Timing`, and what
/// PostgREST clients rely on.
pub const EXPOSED_HEADERS: &str = "x-request-id, x-payhuk-region, x-payhuk-upstream, x-payhuk-upstream-calls, \
     x-payhuk-consistency, \
     x-payhuk-consistency-ignored, x-payhuk-cache, x-payhuk-cached-at, server-timing, \
     content-range, location, preference-applied, retry-after";

/// How long a browser may reuse a preflight answer.
pub const PREFLIGHT_MAX_AGE_SECS: u32 = 600;

/// The request headers a preflight is about.
pub struct Preflight<'a> {
    pub origin: &'a str,
    /// `Access-Control-Request-Method`.
    pub method: &'a str,
    /// `Access-Control-Request-Headers`, if sent.
    pub headers: Option<&'a str>,
}

/// The CORS headers an actual (non-preflight) response carries for `origin`.
pub fn response_headers(
    allowed: &AllowedOrigins,
    origin: Option<&str>,
) -> Vec<(&'static str, String)> {
    match allowed {
        AllowedOrigins::Any => vec![
            ("access-control-allow-origin", "*".to_owned()),
            ("access-control-expose-headers", EXPOSED_HEADERS.to_owned()),
        ],
        AllowedOrigins::List(list) => {
            // The answer depends on the origin, so shared caches must key on it.
            let mut headers = vec![("vary", "Origin".to_owned())];
            if let Some(origin) = origin.filter(|o| list.iter().any(|a| a == o)) {
                headers.extend([
                    ("access-control-allow-origin", origin.to_owned()),
                    ("access-control-allow-credentials", "true".to_owned()),
                    ("access-control-expose-headers", EXPOSED_HEADERS.to_owned()),
                ]);
            }
            headers
        }
    }
}

/// The answer to a preflight for `path`: 204 with what the route allows, 403 for an
/// origin not allowed, 404/405 when the path or method is not served at all.
pub fn preflight(
    allowed: &AllowedOrigins,
    path: &str,
    request: &Preflight<'_>,
) -> Result<ApiResponse, AppError> {
    let exact = match allowed {
        AllowedOrigins::Any => false,
        AllowedOrigins::List(list) if list.iter().any(|a| a == request.origin) => true,
        AllowedOrigins::List(_) => {
            return Err(AppError::OriginNotAllowed {
                origin: request.origin.to_owned(),
            });
        }
    };
    let methods = router::methods_at(path).ok_or_else(|| AppError::NoRoute {
        path: path.to_owned(),
    })?;
    let wanted = request.method.trim();
    if !methods.contains(&wanted) {
        return Err(AppError::MethodNotAllowed {
            method: wanted.to_owned(),
            allow: methods.join(", "),
        });
    }
    let mut answer = ApiResponse {
        status: 204,
        headers: Vec::new(),
        body: Vec::new(),
    }
    .with_header(
        "access-control-allow-origin",
        if exact { request.origin } else { "*" },
    )
    .with_header("access-control-allow-methods", methods.join(", "))
    .with_header("access-control-max-age", PREFLIGHT_MAX_AGE_SECS.to_string());
    if exact {
        answer = answer
            .with_header("access-control-allow-credentials", "true")
            .with_header(
                "vary",
                "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
            );
    }
    let headers = requested_headers(request.headers.unwrap_or(""));
    if !headers.is_empty() {
        answer = answer.with_header("access-control-allow-headers", headers.join(", "));
    }
    Ok(answer)
}

/// The header names a preflight asked for, lower-cased, keeping only valid names:
/// any header may be sent (PostgREST clients send several of their own), because what
/// protects the caller is the origin check, not the header list.
fn requested_headers(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty() && name.bytes().all(is_token_byte))
        .map(str::to_ascii_lowercase)
        .collect()
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOP: &str = "https://shop.example";

    fn list() -> AllowedOrigins {
        AllowedOrigins::List(vec![SHOP.to_owned(), "http://localhost:8790".to_owned()])
    }

    fn ask<'a>(origin: &'a str, method: &'a str, headers: Option<&'a str>) -> Preflight<'a> {
        Preflight {
            origin,
            method,
            headers,
        }
    }

    #[test]
    fn an_allowed_origin_gets_itself_back_with_credentials() {
        let headers = response_headers(&list(), Some(SHOP));
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("access-control-allow-origin"), Some(SHOP));
        assert_eq!(get("access-control-allow-credentials"), Some("true"));
        assert_eq!(get("vary"), Some("Origin"));
        let exposed = get("access-control-expose-headers").unwrap();
        for name in [
            "x-request-id",
            "x-payhuk-region",
            "x-payhuk-upstream",
            "x-payhuk-upstream-calls",
            "x-payhuk-consistency",
            "server-timing",
        ] {
            assert!(exposed.contains(name), "{name} is exposed");
        }
    }

    #[test]
    fn another_origin_gets_no_cors_headers_only_vary() {
        for origin in [
            Some("https://evil.example"),
            Some("https://shop.example.evil"),
            Some("null"),
            None,
        ] {
            assert_eq!(
                response_headers(&list(), origin),
                vec![("vary", "Origin".to_owned())],
                "{origin:?}"
            );
        }
    }

    #[test]
    fn a_wildcard_is_never_combined_with_credentials() {
        let headers = response_headers(&AllowedOrigins::Any, Some("https://anyone.example"));
        assert!(headers.contains(&("access-control-allow-origin", "*".to_owned())));
        assert!(
            !headers
                .iter()
                .any(|(n, _)| *n == "access-control-allow-credentials")
        );
        let answer = preflight(
            &AllowedOrigins::Any,
            "/api/v1/orders",
            &ask("https://anyone.example", "POST", None),
        )
        .unwrap();
        assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
        assert_eq!(answer.header("access-control-allow-credentials"), None);
    }

    #[test]
    fn a_preflight_is_answered_with_the_routes_methods_and_the_asked_headers() {
        let answer = preflight(
            &list(),
            "/api/v1/orders",
            &ask(
                SHOP,
                "POST",
                Some("Authorization, Content-Type,idempotency-key, x-payhuk-consistency"),
            ),
        )
        .unwrap();
        assert_eq!(answer.status, 204);
        assert!(answer.body.is_empty());
        assert_eq!(answer.header("access-control-allow-origin"), Some(SHOP));
        assert_eq!(
            answer.header("access-control-allow-credentials"),
            Some("true")
        );
        assert_eq!(
            answer.header("access-control-allow-methods"),
            Some("GET, POST")
        );
        assert_eq!(
            answer.header("access-control-allow-headers"),
            Some("authorization, content-type, idempotency-key, x-payhuk-consistency")
        );
        assert_eq!(answer.header("access-control-max-age"), Some("600"));
        assert!(answer.header("vary").unwrap().starts_with("Origin"));
    }

    #[test]
    fn a_preflight_from_another_origin_is_refused() {
        let err = preflight(
            &list(),
            "/api/v1/orders",
            &ask("https://evil.example", "POST", None),
        )
        .unwrap_err();
        assert_eq!(err.status(), 403);
        assert_eq!(err.code(), "PHK430");
    }

    #[test]
    fn a_preflight_for_what_is_not_served_says_so() {
        let err = preflight(&list(), "/api/v1/nothing", &ask(SHOP, "GET", None)).unwrap_err();
        assert_eq!(err.status(), 404);
        let err = preflight(&list(), "/health", &ask(SHOP, "DELETE", None)).unwrap_err();
        assert_eq!(err.status(), 405);
        assert_eq!(err.headers(), vec![("allow", "GET, HEAD".to_owned())]);
    }

    #[test]
    fn invalid_header_names_are_not_echoed() {
        assert_eq!(
            requested_headers("x-ok, bad header, , evil\r\nset-cookie, Prefer"),
            vec!["x-ok".to_owned(), "prefer".to_owned()]
        );
    }
}
