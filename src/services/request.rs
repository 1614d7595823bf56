//! The HTTP request as the services see it: plain data, so they are tested natively.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::auth::request::Caller;
use crate::error::{AppError, FieldProblem};

#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    /// The `{param}` segments of the route, in order.
    pub params: Vec<String>,
    pub query: Vec<(String, String)>,
    /// Names in lowercase.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub caller: Option<Caller>,
    /// Unix seconds.
    pub now: i64,
}

impl ApiRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, or a 400 saying what is wrong with it.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, AppError> {
        if self.body.is_empty() {
            return Err(AppError::BadRequest {
                message: "a JSON body is required".into(),
                details: None,
            });
        }
        // A browser sends text/plain and form bodies cross-origin without a preflight:
        // refusing them keeps hostile pages from driving these endpoints.
        let media_type = self.header("content-type").map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        if !media_type
            .as_deref()
            .is_some_and(|m| m == "application/json" || m.ends_with("+json"))
        {
            return Err(AppError::UnsupportedMediaType {
                got: self.header("content-type").map(str::to_owned),
            });
        }
        serde_json::from_slice(&self.body).map_err(|e| AppError::BadRequest {
            message: "the body is not the JSON this endpoint takes".into(),
            details: Some(e.to_string()),
        })
    }

    /// The signed-in user's id (the JWT's `sub`), or 401.
    pub fn user_id(&self) -> Result<Uuid, AppError> {
        self.caller
            .as_ref()
            .and_then(|c| c.claims.as_ref())
            .and_then(|claims| claims.sub.as_deref())
            .and_then(|sub| Uuid::parse_str(sub).ok())
            .ok_or_else(|| AppError::Unauthorized {
                reason: "sign in first: this needs a user's access token".into(),
            })
    }

    /// The uuid in path parameter `index`, or 404 (a malformed id names nothing).
    pub fn id_param(&self, index: usize, path: &str) -> Result<Uuid, AppError> {
        self.params
            .get(index)
            .and_then(|raw| Uuid::parse_str(raw).ok())
            .ok_or_else(|| AppError::NotFound {
                path: path.to_owned(),
            })
    }

    /// The client's IP address: the peer Cloudflare saw (`cf-connecting-ip`, which a
    /// client cannot set); when that peer is one of the `trusted` proxies (the
    /// storefront's Vercel rewrite), the nearest address in `x-forwarded-for` that is
    /// not a trusted proxy. A forwarded address from anyone else is ignored: trusting
    /// it would let a client choose whose login failures it adds to. None without a
    /// valid address (outside Cloudflare).
    pub fn client_ip(&self, trusted: &[IpNet]) -> Option<IpAddr> {
        let peer: IpAddr = self.header("cf-connecting-ip")?.trim().parse().ok()?;
        if !trusted.iter().any(|net| net.contains(&peer)) {
            return Some(peer);
        }
        let forwarded = self.header("x-forwarded-for").unwrap_or("");
        let mut hops = forwarded
            .rsplit(',')
            .map(|hop| hop.trim().parse::<IpAddr>());
        for hop in hops.by_ref() {
            match hop {
                Ok(ip) if trusted.iter().any(|net| net.contains(&ip)) => continue,
                Ok(ip) => return Some(ip),
                // A malformed hop: what lies beyond it cannot be trusted either.
                Err(_) => return Some(peer),
            }
        }
        Some(peer)
    }

    /// The client's address for per-client login limits: every client without one
    /// shares the bucket `unknown`.
    pub fn client_address(&self, trusted: &[IpNet]) -> String {
        self.client_ip(trusted)
            .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    }
}

impl crate::region::HeaderLookup for ApiRequest {
    fn header(&self, name: &str) -> Option<String> {
        ApiRequest::header(self, name).map(str::to_owned)
    }
}

/// A JSON number that is a whole number, as JSON Schema's `integer` counts them: `2`
/// and `2.0` (and `2e0`) alike, so a client's serializer may write either.
pub fn whole_number(value: &serde_json::Value) -> Option<i64> {
    if let Some(n) = value.as_i64() {
        return Some(n);
    }
    let f = value.as_f64()?;
    // Beyond 2^53 a float is no longer an exact whole number of anything.
    (f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0).then_some(f as i64)
}

/// Text of 1 to `max` characters (Unicode scalar values, as JSON Schema's
/// `minLength`/`maxLength` count them) that is not blank: the document states it as
/// those lengths and the pattern `\S`. Blank is what `\s` means in JSON Schema's
/// (ECMA-262) patterns: Rust's `is_whitespace` without U+0085, with U+FEFF.
pub fn text_within(text: &str, max: usize) -> bool {
    let blank = |c: char| c == '\u{feff}' || (c.is_whitespace() && c != '\u{85}');
    (1..=max).contains(&text.chars().count()) && text.chars().any(|c| !blank(c))
}

/// Collects validation problems, so a client learns of all of them at once.
#[derive(Debug, Default)]
pub struct Problems(Vec<FieldProblem>);

impl Problems {
    pub fn add(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.0.push(FieldProblem::new(field, problem));
    }

    pub fn check(&mut self, ok: bool, field: impl Into<String>, problem: impl Into<String>) {
        if !ok {
            self.add(field, problem);
        }
    }

    pub fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_within_counts_characters_as_sent_and_refuses_blank_text() {
        assert!(text_within("Mug", 3));
        assert!(text_within(" Mug ", 5));
        assert!(!text_within(" Mug ", 4), "counted as sent, not trimmed");
        assert!(!text_within("", 5));
        assert!(
            !text_within("\t \u{feff}", 5),
            "blank to a JSON Schema `\\S`"
        );
        assert!(text_within("\u{1d}", 1), "not blank to ECMA-262");
        assert!(text_within("\u{85}", 1), "not blank to ECMA-262");
        assert!(text_within("é", 1));
    }

    #[test]
    fn whole_numbers_as_json_schema_counts_them() {
        use serde_json::json;
        assert_eq!(whole_number(&json!(7)), Some(7));
        assert_eq!(whole_number(&json!(7.0)), Some(7));
        assert_eq!(whole_number(&json!(7.5)), None);
        assert_eq!(whole_number(&json!(1e300)), None);
        assert_eq!(whole_number(&json!("7")), None);
    }
    use crate::auth::jwt::Claims;

    #[test]
    fn json_bodies_and_users() {
        let mut req = ApiRequest {
            body: br#"{"a": 1}"#.to_vec(),
            ..Default::default()
        };
        // Only a body declared JSON is read as JSON.
        for (content_type, status) in [
            (None, Some(415)),
            (Some("text/plain"), Some(415)),
            (Some("application/x-www-form-urlencoded"), Some(415)),
            (Some("application/json"), None),
            (Some("Application/JSON; charset=utf-8"), None),
            (Some("application/merge-patch+json"), None),
        ] {
            req.headers = content_type
                .map(|ct| vec![("content-type".to_owned(), ct.to_owned())])
                .unwrap_or_default();
            let got = req.json::<serde_json::Value>();
            assert_eq!(
                got.as_ref().err().map(AppError::status),
                status,
                "{content_type:?}"
            );
        }
        assert_eq!(req.json::<serde_json::Value>().unwrap()["a"], 1);
        req.body = b"{not json".to_vec();
        assert_eq!(req.json::<serde_json::Value>().unwrap_err().status(), 400);
        assert_eq!(req.user_id().unwrap_err().status(), 401);

        let mut claims = Claims::new("authenticated", "t", 0, 10);
        claims.sub = Some("22222222-2222-4222-8222-000000000001".into());
        req.caller = Some(Caller {
            token: Some("t".into()),
            claims: Some(claims),
        });
        assert_eq!(
            req.user_id().unwrap().to_string(),
            "22222222-2222-4222-8222-000000000001"
        );
    }

    #[test]
    fn the_client_is_the_peer_unless_a_trusted_proxy_forwards_it() {
        let vercel: Vec<IpNet> = vec![
            "76.76.21.0/24".parse().unwrap(),
            "64:ff9b::/96".parse().unwrap(),
        ];
        let mut req = ApiRequest::default();
        assert_eq!(req.client_address(&vercel), "unknown");
        req.headers
            .push(("x-forwarded-for".into(), "203.0.113.9".into()));
        req.headers.push(("x-real-ip".into(), "203.0.113.9".into()));
        assert_eq!(
            req.client_ip(&vercel),
            None,
            "outside Cloudflare, headers are not an address"
        );
        req.headers
            .push(("cf-connecting-ip".into(), " 198.51.100.7 ".into()));
        assert_eq!(
            req.client_address(&vercel),
            "198.51.100.7",
            "an untrusted peer's forwarded address is its own choice: ignored"
        );
        // Through the storefront's rewrite: the peer is Vercel, the client before it.
        req.headers[2].1 = "76.76.21.21".into();
        req.headers[0].1 = "192.0.2.66, 203.0.113.9, 76.76.21.5".into();
        assert_eq!(
            req.client_address(&vercel),
            "203.0.113.9",
            "the nearest untrusted hop; what the client wrote before it is not"
        );
        req.headers[0].1 = "garbage, 76.76.21.5".into();
        assert_eq!(
            req.client_address(&vercel),
            "76.76.21.21",
            "a malformed hop stops the walk"
        );
        req.headers[0].1 = String::new();
        assert_eq!(req.client_address(&vercel), "76.76.21.21");
        req.headers[2].1 = "not an address".into();
        assert_eq!(req.client_ip(&vercel), None, "malformed is none");
    }

    #[test]
    fn problems_are_reported_together() {
        let mut p = Problems::default();
        p.check(true, "a", "fine");
        assert!(Problems::default().finish().is_ok());
        p.check(false, "email", "is required");
        p.add("password", "is too short");
        let err = p.finish().unwrap_err();
        assert_eq!(err.status(), 422);
        assert_eq!(err.body().message, "2 fields are invalid");
    }
}
