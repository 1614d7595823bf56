//! moneroo: not written yet.

use super::{
    ApiCall, ApiReply, Checkout, Intent, Notification, NotificationError, ProviderApi, Refund,
    Settings, Status,
};
use crate::error::AppError;
use crate::region::HeaderLookup;
use crate::services::payments::amount::Currency;

pub const CREDENTIALS: &[&str] = &[];
pub const API_BASE: &str = "";
pub const CURRENCIES: &[&str] = &[];

pub async fn checkout(
    _s: &Settings,
    _api: &impl ProviderApi,
    _intent: &Intent,
) -> Result<Checkout, AppError> {
    let _ = (
        ApiCall {
            method: "GET",
            url: String::new(),
            headers: vec![],
            body: vec![],
        },
        ApiReply {
            status: 0,
            body: vec![],
        },
    );
    Err(AppError::Internal("todo".into()))
}

pub fn notification(
    _s: &Settings,
    _h: &impl HeaderLookup,
    _body: &[u8],
) -> Result<Notification, NotificationError> {
    Err(NotificationError::BadSignature)
}

pub async fn status(
    _s: &Settings,
    _api: &impl ProviderApi,
    _r: &str,
    _c: Currency,
) -> Result<Status, AppError> {
    Err(AppError::Internal("todo".into()))
}

pub async fn refund(
    _s: &Settings,
    _api: &impl ProviderApi,
    _r: &str,
    _a: i64,
    _c: Currency,
) -> Result<Refund, AppError> {
    Ok(Refund::NotOffered)
}
