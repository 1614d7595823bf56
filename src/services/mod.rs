//! Per-service handlers. Each service has `api.rs` (HTTP in and out), `service.rs`
//! (its rules, pure) and `model.rs` (its types).

pub mod analytics;
pub mod auth;
pub mod downloads;
pub mod health;
pub mod openapi;
pub mod orders;
pub mod page;
pub mod payments;
pub mod products;
pub mod request;
pub mod rest;
pub mod shipping;
pub mod status;

use crate::auth::crypto::JwtCrypto;
use crate::config::Config;
use crate::db::Db;
use crate::error::AppError;
use crate::http::ApiResponse;
use crate::router::Route;
use payments::providers::ProviderApi;
use request::ApiRequest;

/// The handler of a service route: what `/api/v1` runs once the request is read.
pub async fn dispatch(
    route: Route,
    req: &ApiRequest,
    config: &Config,
    db: &impl Db,
    crypto: &impl JwtCrypto,
    providers: &impl ProviderApi,
) -> Result<ApiResponse, AppError> {
    match route {
        Route::AuthSignup => auth::api::signup(req, config, db, crypto).await,
        Route::AuthLogin => auth::api::login(req, config, db, crypto).await,
        Route::AuthRefresh => auth::api::refresh(req, config, db, crypto).await,
        Route::AuthLogout => auth::api::logout(req, db).await,
        Route::AuthMe => auth::api::me(req, db).await,
        Route::GoTrueSignup => auth::gotrue::signup(req, config, db, crypto).await,
        Route::GoTrueToken => auth::gotrue::token(req, config, db, crypto).await,
        Route::GoTrueUser => auth::gotrue::get_user(req, db).await,
        Route::GoTrueUpdateUser => auth::gotrue::update_user(req, db).await,
        Route::GoTrueLogout => auth::gotrue::logout(req, db).await,
        Route::ListProducts => products::api::list(req, db).await,
        Route::CreateProduct => products::api::create(req, db).await,
        Route::GetProduct => products::api::get(req, db).await,
        Route::UpdateProduct => products::api::update(req, db).await,
        Route::DeleteProduct => products::api::delete(req, db).await,
        Route::ListOrders => orders::api::list_mine(req, db).await,
        Route::PlaceOrder => orders::api::place(req, db).await,
        Route::GetOrder => orders::api::get(req, db).await,
        Route::ListStoreOrders => orders::api::list_for_store(req, db).await,
        Route::CreatePayment => payments::api::create(req, config, db, providers).await,
        Route::CancelPayment => payments::api::cancel(req, db).await,
        Route::GetPayment => payments::api::get(req, db).await,
        Route::RefundPayment => payments::api::refund(req, db).await,
        Route::PaymentWebhook => payments::api::webhook(req, config, db, providers).await,
        Route::PaymentWebhookPing => payments::api::webhook_ping(req, config),
        Route::ShippingQuote => shipping::api::quote(req, db).await,
        Route::CreateShipment => shipping::api::create(req, db).await,
        Route::GetShipment => shipping::api::get(req, db).await,
        Route::AddShipmentEvent => shipping::api::add_event(req, db).await,
        Route::CreateDownloadLink => downloads::api::create_link(req, config, db).await,
        Route::Download => downloads::api::download(req, config, db).await,
        Route::IngestAnalytics => analytics::api::ingest(req, db).await,
        Route::SalesReport => analytics::api::sales(req, db).await,
        Route::Health | Route::Rest | Route::Status | Route::OpenApi | Route::Jwks => Err(
            AppError::Internal(format!("{route:?} is not a service route")),
        ),
    }
}
