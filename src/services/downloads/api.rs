use serde_json::{Value, json};
use uuid::Uuid;

use super::link::{Link, LinkError, link_key};
use crate::config::Config;
use crate::db::{Db, Role, rpc};
use crate::error::AppError;
use crate::http::ApiResponse;
use crate::routing::Access;
use crate::services::request::{ApiRequest, Problems};

pub const PATH: &str = "/api/v1/downloads";

/// `POST /api/v1/downloads/links` `{order_id, product_id}` -> 201 with a signed link to
/// the file of a digital product in one of the caller's paid orders.
pub async fn create_link(
    req: &ApiRequest,
    config: &Config,
    db: &impl Db,
) -> Result<ApiResponse, AppError> {
    let customer = req.user_id()?;
    let body: Value = req.json()?;
    let mut p = Problems::default();
    let mut id = |field: &str| {
        let id = body
            .get(field)
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok());
        p.check(id.is_some(), field, "must be an id (uuid)");
        id
    };
    let (order, product) = (id("order_id"), id("product_id"));
    p.finish()?;
    // As the service role, for the customer the token names: the limits are the
    // deployment's, which no client may choose (the function is not theirs to call).
    let args = json!({
        "customer_id": customer,
        "order_id": order,
        "product_id": product,
        "ttl_seconds": config.download_link_ttl_seconds,
        "max_downloads": config.download_max_count,
    });
    let grant: Value = rpc(db, "grant_download", &args, Access::Write, Role::Service).await?;
    let grant_id = grant
        .get("id")
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| AppError::Internal("grant_download returned no id".into()))?;
    let expires_at = req.now + i64::from(config.download_link_ttl_seconds);
    let token = Link {
        grant_id,
        expires_at,
    }
    .encode(&link_key(config.jwt_secret.expose().as_bytes()));
    ApiResponse::json(
        201,
        &json!({
            "url": format!("{PATH}/{token}"),
            "expires_at": expires_at,
            "max_downloads": config.download_max_count,
        }),
    )
}

fn gone(message: &str, hint: &str) -> AppError {
    AppError::Rejected {
        status: 410,
        code: "PHK410".into(),
        message: message.into(),
        details: None,
        hint: Some(hint.into()),
    }
}

/// `GET /api/v1/downloads/{token}` -> 302 to the file, counting one download (on the
/// primary, atomically). 403 for a tampered link, 410 for an expired or used-up one.
pub async fn download(
    req: &ApiRequest,
    config: &Config,
    db: &impl Db,
) -> Result<ApiResponse, AppError> {
    let token = req.params.first().map_or("", String::as_str);
    let link = Link::decode(
        token,
        &link_key(config.jwt_secret.expose().as_bytes()),
        req.now,
    )
    .map_err(|e| match e {
        LinkError::Tampered => AppError::Rejected {
            status: 403,
            code: "PHK403".into(),
            message: "this download link is not valid".into(),
            details: None,
            hint: Some("tampered_link".into()),
        },
        LinkError::Expired => gone("this download link has expired", "link_expired"),
    })?;
    let args = json!({
        "grant_id": link.grant_id,
        "client_ip": req.client_ip(&config.trusted_proxies).map(|ip| ip.to_string()),
        "user_agent": req.header("user-agent"),
    });
    let claim: Value = rpc(db, "claim_download", &args, Access::Write, Role::Service).await?;
    match claim.get("status").and_then(Value::as_str) {
        Some("ok") => {
            let url = claim
                .get("storage_url")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    AppError::Internal("claim_download returned no storage_url".into())
                })?;
            Ok(ApiResponse {
                status: 302,
                headers: vec![
                    ("location".into(), url.to_owned()),
                    ("cache-control".into(), "no-store".into()),
                ],
                body: vec![],
            })
        }
        Some("exhausted") => Err(gone(
            "this download link has been used up",
            "link_exhausted",
        )),
        Some("expired") => Err(gone("this download link has expired", "link_expired")),
        _ => Err(AppError::NotFound {
            path: format!("{PATH}/{token}"),
        }),
    }
}
