//! The files `cargo xtask build` writes to `build/assets` (the status page, the OpenAPI
//! document), kept out of the wasm bundle to hold it under its size budget. They are
//! read through the `ASSETS` binding (wrangler's `[assets]`; under plain workerd, a disk
//! service) once per isolate.

use std::cell::RefCell;
use std::rc::Rc;

use worker::{Env, Request, web_sys};

use crate::error::AppError;

const BINDING: &str = "ASSETS";

thread_local! {
    static READ: RefCell<Vec<(&'static str, Rc<str>)>> = const { RefCell::new(Vec::new()) };
}

/// The text of the asset `name`; a missing binding or file is the deployment's fault
/// (500, with the reason in the log).
pub async fn text(env: &Env, name: &'static str) -> Result<Rc<str>, AppError> {
    let known = READ.with(|read| {
        read.borrow()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| text.clone())
    });
    if let Some(text) = known {
        return Ok(text);
    }
    let missing = |why: String| AppError::Internal(format!("asset {name}: {why}"));
    let assets = env
        .assets(BINDING)
        .map_err(|e| missing(format!("no {BINDING} binding ({e})")))?;
    // The host is ignored: an assets binding and a disk service both serve by path.
    let request = web_sys::Request::new_with_str(&format!("https://assets.invalid/{name}"))
        .map_err(|e| missing(worker::Error::from(e).to_string()))?;
    let mut response = assets
        .fetch_request(Request::from(request))
        .await
        .map_err(|e| missing(e.to_string()))?;
    if response.status_code() != 200 {
        return Err(missing(format!("answered {}", response.status_code())));
    }
    let text: Rc<str> = response
        .text()
        .await
        .map_err(|e| missing(e.to_string()))?
        .into();
    READ.with(|read| read.borrow_mut().push((name, text.clone())));
    Ok(text)
}
