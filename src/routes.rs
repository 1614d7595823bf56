//! The route table: every path the gateway serves, and for each of its methods the
//! route, the OpenAPI operation and the handler. It is the single source of the router
//! ([`crate::router`]), the service dispatch ([`dispatch`]), the OpenAPI `paths`
//! ([`crate::services::openapi`]) and the route lists the stack tests and the bench
//! walk (they read [`crate::router::served_under`]). Adding a route is one line here
//! plus its handler (and its operation in `openapi.json`, which the tests demand).
//!
//! A line is `Route: METHOD ["operationId"] | ... [=> handler];`. A pattern's `{name}`
//! segment matches any one non-empty segment; a pattern ending `/**` is the path and
//! everything below it. Routes without a handler are served by the edge itself
//! (`crate::edge`), before any service runs.

use crate::auth::crypto::JwtCrypto;
use crate::config::Config;
use crate::db::Db;
use crate::error::AppError;
use crate::http::ApiResponse;
use crate::router::{Entry, Operation};
use crate::services::payments::providers::ProviderApi;
use crate::services::request::ApiRequest;
use crate::services::{analytics, auth, downloads, orders, payments, products, shipping};

macro_rules! route_table {
    (
        dispatch($req:ident, $config:ident, $db:ident, $crypto:ident, $providers:ident);
        $(
            $pattern:literal {
                $( $route:ident: $($method:ident $($id:literal)?)|+ $(=> $handler:expr)?; )+
            }
        )+
    ) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Route {
            $($($route,)+)+
        }

        /// In match order: the first pattern that matches a path is its entry.
        pub const ROUTES: &[Entry] = &[
            $(Entry {
                pattern: $pattern,
                methods: &[$($(Operation {
                    method: stringify!($method),
                    route: Route::$route,
                    operation_id: route_table!(@id $($id)?),
                },)+)+],
            },)+
        ];

        /// The handler of a service route: what `/api/v1` and `/auth/v1` run once the
        /// request is read.
        pub async fn dispatch(
            route: Route,
            $req: &ApiRequest,
            $config: &Config,
            $db: &impl Db,
            $crypto: &impl JwtCrypto,
            $providers: &impl ProviderApi,
        ) -> Result<ApiResponse, AppError> {
            match route {
                $($(Route::$route => route_table!(@handler route $($handler)?),)+)+
            }
        }
    };
    (@id) => { None };
    (@id $id:literal) => { Some($id) };
    (@handler $route:ident) => {
        Err(AppError::Internal(format!("{:?} is served by the edge, not a service", $route)))
    };
    (@handler $route:ident $handler:expr) => { $handler };
}

route_table! {
    // The names the handlers below are written with.
    dispatch(req, config, db, crypto, providers);
    "/health" {
        Health: GET | HEAD;
    }
    "/status" {
        // The operators' page over `/health`.
        Status: GET | HEAD;
    }
    "/status/history" {
        // What the page charts: the last hour as this isolate saw it (operators only).
        StatusHistory: GET | HEAD;
    }
    "/api/v1/openapi.json" {
        OpenApi: GET "getOpenApi" | HEAD "headOpenApi";
    }
    // GoTrue's API, as supabase-js calls it (`services::auth::gotrue`).
    "/auth/v1/signup" {
        GoTrueSignup: POST => auth::gotrue::signup(req, config, db, crypto).await;
    }
    "/auth/v1/token" {
        GoTrueToken: POST => auth::gotrue::token(req, config, db, crypto).await;
    }
    "/auth/v1/user" {
        GoTrueUser: GET => auth::gotrue::get_user(req, db).await;
        GoTrueUpdateUser: PUT => auth::gotrue::update_user(req, db).await;
    }
    "/auth/v1/logout" {
        GoTrueLogout: POST => auth::gotrue::logout(req, db).await;
    }
    // The public keys the gateway's tokens are signed with, where Supabase publishes them.
    "/auth/v1/.well-known/jwks.json" {
        Jwks: GET | HEAD;
    }
    "/rest/v1/**" {
        Rest: GET | HEAD | POST | PATCH | PUT | DELETE;
    }
    "/api/v1/auth/signup" {
        AuthSignup: POST "authSignup" => auth::api::signup(req, config, db, crypto).await;
    }
    "/api/v1/auth/login" {
        AuthLogin: POST "authLogin" => auth::api::login(req, config, db, crypto).await;
    }
    "/api/v1/auth/refresh" {
        AuthRefresh: POST "authRefresh" => auth::api::refresh(req, config, db, crypto).await;
    }
    "/api/v1/auth/logout" {
        AuthLogout: POST "authLogout" => auth::api::logout(req, db).await;
    }
    "/api/v1/auth/me" {
        AuthMe: GET "authMe" => auth::api::me(req, db).await;
    }
    "/api/v1/products" {
        ListProducts: GET "listProducts" => products::api::list(req, db).await;
        CreateProduct: POST "createProduct" => products::api::create(req, db).await;
    }
    "/api/v1/products/{id}" {
        GetProduct: GET "getProduct" => products::api::get(req, db).await;
        UpdateProduct: PATCH "updateProduct" => products::api::update(req, db).await;
        DeleteProduct: DELETE "deleteProduct" => products::api::delete(req, db).await;
    }
    "/api/v1/orders" {
        ListOrders: GET "listMyOrders" => orders::api::list_mine(req, db).await;
        PlaceOrder: POST "placeOrder" => orders::api::place(req, db).await;
    }
    "/api/v1/orders/{id}" {
        GetOrder: GET "getOrder" => orders::api::get(req, db).await;
    }
    "/api/v1/stores/{id}/orders" {
        ListStoreOrders: GET "listStoreOrders" => orders::api::list_for_store(req, db).await;
    }
    "/api/v1/payments" {
        CreatePayment: POST "createPayment" => payments::api::create(req, config, db, providers).await;
    }
    // Before `/api/v1/payments/{id}`: the literal segment wins.
    "/api/v1/payments/webhooks/{provider}" {
        PaymentWebhook: POST "receivePaymentWebhook"
            => payments::api::webhook(req, config, db, providers).await;
        // Providers (CinetPay) ping a notification URL before they post to it.
        PaymentWebhookPing: GET "pingPaymentWebhook" => payments::api::webhook_ping(req, config);
    }
    "/api/v1/payments/{id}" {
        GetPayment: GET "getPayment" => payments::api::get(req, db).await;
    }
    "/api/v1/payments/{id}/refunds" {
        RefundPayment: POST "refundPayment" => payments::api::refund(req, db).await;
    }
    "/api/v1/payments/{id}/cancel" {
        CancelPayment: POST "cancelPayment" => payments::api::cancel(req, db).await;
    }
    "/api/v1/shipping/quote" {
        ShippingQuote: POST "quoteShipping" => shipping::api::quote(req, db).await;
    }
    "/api/v1/shipments" {
        CreateShipment: POST "createShipment" => shipping::api::create(req, db).await;
    }
    "/api/v1/shipments/{id}" {
        GetShipment: GET "getShipment" => shipping::api::get(req, db).await;
    }
    "/api/v1/shipments/{id}/events" {
        AddShipmentEvent: POST "addShipmentEvent" => shipping::api::add_event(req, db).await;
    }
    // Before `/api/v1/downloads/{token}`.
    "/api/v1/downloads/links" {
        CreateDownloadLink: POST "createDownloadLink"
            => downloads::api::create_link(req, config, db).await;
    }
    "/api/v1/downloads/{token}" {
        Download: GET "download" => downloads::api::download(req, config, db).await;
    }
    "/api/v1/analytics/events" {
        IngestAnalytics: POST "ingestAnalyticsEvents" => analytics::api::ingest(req, config, db).await;
    }
    "/api/v1/analytics/sales" {
        SalesReport: GET "getSalesReport" => analytics::api::sales(req, db).await;
    }
}

impl Route {
    /// GoTrue's API: errors are answered in GoTrue's shape.
    pub fn is_gotrue(self) -> bool {
        crate::router::pattern_of(self).is_some_and(|p| p.starts_with("/auth/v1/"))
    }
}
