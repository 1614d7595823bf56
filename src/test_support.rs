//! Shared test fixtures: a valid configuration and a scripted database.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::auth::jwt::{Claims, sign_hs256};
use crate::auth::request::Caller;
use crate::config::Config;
use crate::db::{Db, DbReply, DbRequest};
use crate::error::AppError;
use crate::region::HeaderLookup;
use crate::services::request::ApiRequest;

impl HeaderLookup for HashMap<&'static str, String> {
    fn header(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl HeaderLookup for HashMap<&'static str, &'static str> {
    fn header(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| (*v).to_owned())
    }
}

/// The `content-type` every JSON body is sent with.
pub fn json_content_type() -> Vec<(String, String)> {
    vec![("content-type".into(), "application/json".into())]
}

/// A request from the signed-in user `sub`, with a JSON body and path parameters.
pub fn signed_in(sub: &str, body: serde_json::Value, params: &[&str]) -> ApiRequest {
    let mut claims = Claims::new("authenticated", "t", 0, 10);
    claims.sub = Some(sub.to_owned());
    ApiRequest {
        params: params.iter().map(|p| (*p).to_owned()).collect(),
        body: body.to_string().into_bytes(),
        headers: json_content_type(),
        caller: Some(Caller {
            token: Some("t".into()),
            claims: Some(claims),
        }),
        ..Default::default()
    }
}

/// The fields a validation error names, in order.
pub fn problem_fields(err: &AppError) -> Vec<String> {
    let details = err.body().details.expect("a validation error has details");
    let problems: serde_json::Value = serde_json::from_str(&details).expect("details are JSON");
    problems
        .as_array()
        .expect("a list of problems")
        .iter()
        .map(|p| {
            p["field"]
                .as_str()
                .expect("each names its field")
                .to_owned()
        })
        .collect()
}

pub const SECRET: &str = "test-support-secret-that-is-long-enough-0000";

/// A valid three-region configuration, with `overrides` applied.
pub fn config_with(overrides: &[(&str, &str)]) -> Config {
    let key = sign_hs256(
        &Claims::new("service_role", "t", 0, i64::MAX),
        SECRET.as_bytes(),
    );
    let mut vars: HashMap<String, String> = [
        ("REGIONS", "iad1,sfo1,fra1"),
        ("REGION_IAD1_POSTGREST_URL", "http://127.0.0.1:3001"),
        ("REGION_SFO1_POSTGREST_URL", "http://127.0.0.1:3002"),
        ("REGION_FRA1_POSTGREST_URL", "http://127.0.0.1:3003"),
        ("JWT_SECRET", SECRET),
        ("JWT_SIGNING_KEY", crate::auth::crypto::tests::EC_KEY),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    vars.insert("SERVICE_ROLE_KEY".into(), key);
    for (k, v) in overrides {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    Config::from_source(&vars).expect("test configuration is valid")
}

pub fn config() -> Config {
    config_with(&[])
}

/// Answers requests from a script keyed by `path_and_query` prefix, and records them.
#[derive(Default)]
pub struct ScriptedDb {
    pub answers: Vec<(&'static str, u16, String)>,
    pub seen: RefCell<Vec<DbRequest>>,
}

impl ScriptedDb {
    pub fn answer(
        mut self,
        path_prefix: &'static str,
        status: u16,
        body: serde_json::Value,
    ) -> Self {
        self.answers.push((path_prefix, status, body.to_string()));
        self
    }
}

impl Db for ScriptedDb {
    async fn send(&self, request: DbRequest) -> Result<DbReply, AppError> {
        let answer = self
            .answers
            .iter()
            .find(|(prefix, _, _)| request.path_and_query.starts_with(prefix))
            .unwrap_or_else(|| panic!("no scripted answer for {}", request.path_and_query));
        self.seen.borrow_mut().push(request);
        Ok(DbReply {
            status: answer.1,
            headers: vec![],
            body: answer.2.clone().into_bytes(),
        })
    }
}
