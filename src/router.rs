//! The route table: which handler a method and path go to.

use crate::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Health,
    /// The operators' page over `/health`.
    Status,
    /// The OpenAPI document of `/api/v1`.
    OpenApi,
    /// The public keys the gateway's tokens are signed with, where Supabase publishes
    /// them (`/auth/v1/.well-known/jwks.json`).
    Jwks,
    /// `/rest/v1` and everything under it.
    Rest,
    AuthSignup,
    AuthLogin,
    AuthRefresh,
    AuthLogout,
    AuthMe,
    /// GoTrue's API, as supabase-js calls it (`services::auth::gotrue`).
    GoTrueSignup,
    GoTrueToken,
    GoTrueUser,
    GoTrueUpdateUser,
    GoTrueLogout,
    ListProducts,
    CreateProduct,
    GetProduct,
    UpdateProduct,
    DeleteProduct,
    ListOrders,
    PlaceOrder,
    GetOrder,
    ListStoreOrders,
    CreatePayment,
    GetPayment,
    RefundPayment,
    CancelPayment,
    PaymentWebhook,
    /// `GET` on a notification URL: providers (CinetPay) ping it before they post.
    PaymentWebhookPing,
    ShippingQuote,
    CreateShipment,
    GetShipment,
    AddShipmentEvent,
    CreateDownloadLink,
    Download,
    IngestAnalytics,
    SalesReport,
}

impl Route {
    /// GoTrue's API: errors are answered in GoTrue's shape.
    pub fn is_gotrue(self) -> bool {
        matches!(
            self,
            Route::GoTrueSignup
                | Route::GoTrueToken
                | Route::GoTrueUser
                | Route::GoTrueUpdateUser
                | Route::GoTrueLogout
        )
    }
}

/// A route and the values of its `{param}` segments, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub route: Route,
    pub params: Vec<String>,
}

enum Pattern {
    /// Segments; `{}` matches any one non-empty segment and captures it.
    Path(&'static str),
    /// The path itself or anything below it.
    Prefix(&'static str),
}

struct Entry {
    pattern: Pattern,
    methods: &'static [(&'static str, Route)],
}

const ROUTES: &[Entry] = &[
    Entry {
        pattern: Pattern::Path("/health"),
        methods: &[("GET", Route::Health), ("HEAD", Route::Health)],
    },
    Entry {
        pattern: Pattern::Path("/status"),
        methods: &[("GET", Route::Status), ("HEAD", Route::Status)],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/openapi.json"),
        methods: &[("GET", Route::OpenApi), ("HEAD", Route::OpenApi)],
    },
    Entry {
        pattern: Pattern::Path("/auth/v1/signup"),
        methods: &[("POST", Route::GoTrueSignup)],
    },
    Entry {
        pattern: Pattern::Path("/auth/v1/token"),
        methods: &[("POST", Route::GoTrueToken)],
    },
    Entry {
        pattern: Pattern::Path("/auth/v1/user"),
        methods: &[("GET", Route::GoTrueUser), ("PUT", Route::GoTrueUpdateUser)],
    },
    Entry {
        pattern: Pattern::Path("/auth/v1/logout"),
        methods: &[("POST", Route::GoTrueLogout)],
    },
    Entry {
        pattern: Pattern::Path("/auth/v1/.well-known/jwks.json"),
        methods: &[("GET", Route::Jwks), ("HEAD", Route::Jwks)],
    },
    Entry {
        pattern: Pattern::Prefix("/rest/v1"),
        methods: &[
            ("GET", Route::Rest),
            ("HEAD", Route::Rest),
            ("POST", Route::Rest),
            ("PATCH", Route::Rest),
            ("PUT", Route::Rest),
            ("DELETE", Route::Rest),
        ],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/auth/signup"),
        methods: &[("POST", Route::AuthSignup)],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/auth/login"),
        methods: &[("POST", Route::AuthLogin)],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/auth/refresh"),
        methods: &[("POST", Route::AuthRefresh)],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/auth/logout"),
        methods: &[("POST", Route::AuthLogout)],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/auth/me"),
        methods: &[("GET", Route::AuthMe)],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/products"),
        methods: &[("GET", Route::ListProducts), ("POST", Route::CreateProduct)],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/products/{}"),
        methods: &[
            ("GET", Route::GetProduct),
            ("PATCH", Route::UpdateProduct),
            ("DELETE", Route::DeleteProduct),
        ],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/orders"),
        methods: &[("GET", Route::ListOrders), ("POST", Route::PlaceOrder)],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/orders/{}"),
        methods: &[("GET", Route::GetOrder)],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/stores/{}/orders"),
        methods: &[("GET", Route::ListStoreOrders)],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/payments"),
        methods: &[("POST", Route::CreatePayment)],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/payments/webhooks/{}"),
        methods: &[
            ("POST", Route::PaymentWebhook),
            ("GET", Route::PaymentWebhookPing),
        ],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/payments/{}"),
        methods: &[("GET", Route::GetPayment)],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/payments/{}/refunds"),
        methods: &[("POST", Route::RefundPayment)],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/payments/{}/cancel"),
        methods: &[("POST", Route::CancelPayment)],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/shipping/quote"),
        methods: &[("POST", Route::ShippingQuote)],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/shipments"),
        methods: &[("POST", Route::CreateShipment)],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/shipments/{}"),
        methods: &[("GET", Route::GetShipment)],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/shipments/{}/events"),
        methods: &[("POST", Route::AddShipmentEvent)],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/downloads/links"),
        methods: &[("POST", Route::CreateDownloadLink)],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/downloads/{}"),
        methods: &[("GET", Route::Download)],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/analytics/events"),
        methods: &[("POST", Route::IngestAnalytics)],
    },
    Entry {
        pattern: Pattern::Path("/api/v1/analytics/sales"),
        methods: &[("GET", Route::SalesReport)],
    },
];

impl Pattern {
    /// The captured segments when `path` matches.
    fn captures(&self, path: &str) -> Option<Vec<String>> {
        match self {
            Pattern::Prefix(p) => path
                .strip_prefix(p)
                .filter(|rest| rest.is_empty() || rest.starts_with('/'))
                .map(|_| Vec::new()),
            Pattern::Path(p) => {
                let (want, got): (Vec<&str>, Vec<&str>) =
                    (p.split('/').collect(), path.split('/').collect());
                if want.len() != got.len() {
                    return None;
                }
                let mut params = Vec::new();
                for (w, g) in want.iter().zip(&got) {
                    match *w {
                        "{}" if !g.is_empty() => params.push((*g).to_owned()),
                        literal if literal == *g => {}
                        _ => return None,
                    }
                }
                Some(params)
            }
        }
    }
}

fn entry_for(path: &str) -> Option<(&'static Entry, Vec<String>)> {
    // `/health/` is `/health`; `/` stays `/`.
    let normalized = match path.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    };
    ROUTES
        .iter()
        .find_map(|e| e.pattern.captures(normalized).map(|params| (e, params)))
}

/// The methods served at `path`, `None` when nothing is (what a CORS preflight asks).
pub fn methods_at(path: &str) -> Option<Vec<&'static str>> {
    entry_for(path).map(|(entry, _)| entry.methods.iter().map(|(m, _)| *m).collect())
}

/// Every `(method, path pattern)` the router serves under `prefix`, with each path
/// parameter written `{}` (what the OpenAPI check compares against the document).
pub fn served_under(prefix: &str) -> Vec<(&'static str, &'static str)> {
    ROUTES
        .iter()
        .filter_map(|e| match e.pattern {
            Pattern::Path(p) if p.starts_with(prefix) => Some((p, e.methods)),
            _ => None,
        })
        .flat_map(|(p, methods)| methods.iter().map(move |(m, _)| (*m, p)))
        .collect()
}

/// Finds the route for `method` and `path`: 404 when no route has the path, 405 with
/// the allowed methods when the path exists for other methods.
pub fn resolve(method: &str, path: &str) -> Result<Matched, AppError> {
    let (entry, params) = entry_for(path).ok_or_else(|| AppError::NoRoute {
        path: path.to_owned(),
    })?;
    match entry.methods.iter().find(|(m, _)| *m == method) {
        Some((_, route)) => Ok(Matched {
            route: *route,
            params,
        }),
        None => Err(AppError::MethodNotAllowed {
            method: method.to_owned(),
            allow: entry
                .methods
                .iter()
                .map(|(m, _)| *m)
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
            "/rest/v1/rpc/create_order",
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
