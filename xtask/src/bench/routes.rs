//! Upstream calls per `/api/v1` route, on the WAN topology: a customer, a merchant and a
//! buyer of a digital product walk every route the router serves through one city's
//! edge, as a storefront would (each session presenting its last consistency token),
//! and each answer's `x-payhuk-upstream-calls`, who served it and its time to first
//! byte are kept. Every upstream call from a far city is an ocean crossing, so a route
//! that takes more than one is a route to look at. The walk fails when a route answers
//! an error or when the router serves a route the walk does not take.

use std::collections::BTreeSet;
use std::time::Instant;

use anyhow::{Context, bail};
use payhuk_edge::router;
use payhuk_edge::services::payments::webhook::sign;
use serde_json::{Value, json};

use crate::topology::{self, DEMO_CUSTOMER_EMAIL, DEMO_PASSWORD, DEMO_PRODUCT};
use crate::wan::{self, City};

const MERCHANT_EMAIL: &str = "kofi@payhuk.test";
const MERCHANT_STORE: &str = "33333333-3333-4333-8333-000000000002";
/// Aminata bought Awa's guide (the seed's paid digital order).
const BUYER_EMAIL: &str = "aminata@payhuk.test";
const BUYER_ORDER: &str = "77777777-7777-4777-8777-000000000001";

/// One route's answer.
#[derive(Debug, Clone)]
pub struct RouteCall {
    pub method: &'static str,
    pub pattern: &'static str,
    pub who: &'static str,
    pub status: u16,
    pub calls: Option<u32>,
    pub upstream: Option<String>,
    pub ttfb_ms: f64,
}

/// A signed-in account and the consistency token of its last write.
struct Session {
    who: &'static str,
    bearer: String,
    refresh_token: String,
    consistency: Option<String>,
}

struct Walk {
    agent: ureq::Agent,
    base: String,
    anon: String,
    walked: Vec<RouteCall>,
}

/// What one step sends: `pattern` with `{}` filled from `params` in order.
struct Step<'a> {
    method: &'static str,
    pattern: &'static str,
    params: &'a [&'a str],
    query: Option<&'a str>,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
}

impl<'a> Step<'a> {
    fn new(method: &'static str, pattern: &'static str) -> Step<'a> {
        Step {
            method,
            pattern,
            params: &[],
            query: None,
            body: None,
            headers: Vec::new(),
        }
    }

    fn params(mut self, params: &'a [&'a str]) -> Self {
        self.params = params;
        self
    }

    fn query(mut self, query: &'a str) -> Self {
        self.query = Some(query);
        self
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    fn path(&self) -> anyhow::Result<String> {
        let mut path = String::new();
        let mut params = self.params.iter();
        for (i, piece) in self.pattern.split("{}").enumerate() {
            if i > 0 {
                path.push_str(params.next().context("a {} without its value")?);
            }
            path.push_str(piece);
        }
        if params.next().is_some() {
            bail!("{}: more values than {{}}", self.pattern);
        }
        Ok(path)
    }
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}-{nanos}")
}

impl Walk {
    /// Sends `step` as `session` (or anonymously with the anon key); fails on an error
    /// status. The body parsed as JSON (null when it is not).
    fn send(&mut self, session: Option<&mut Session>, step: Step) -> anyhow::Result<Value> {
        let path = step.path()?;
        // The declared pattern is the route the router finds for the path.
        let declared = router::resolve(step.method, &step.pattern.replace("{}", "x"))
            .map(|m| m.route)
            .map_err(|e| anyhow::anyhow!("{} {}: {e}", step.method, step.pattern))?;
        let resolved = router::resolve(step.method, &path).map(|m| m.route).ok();
        if resolved != Some(declared) {
            bail!("{} {path} is not {}", step.method, step.pattern);
        }
        let url = match step.query {
            Some(q) => format!("{}{path}?{q}", self.base),
            None => format!("{}{path}", self.base),
        };
        let mut request = self
            .agent
            .request(step.method, &url)
            .set("apikey", &self.anon);
        for (name, value) in &step.headers {
            request = request.set(name, value);
        }
        let who = session.as_ref().map_or("anonymous", |s| s.who);
        if let Some(session) = &session {
            request = request.set("authorization", &session.bearer);
            if let Some(token) = &session.consistency {
                request = request.set("x-payhuk-consistency", token);
            }
        }
        let started = Instant::now();
        let answer = match &step.body {
            Some(body) => request
                .set("content-type", "application/json")
                .send_string(&body.to_string()),
            None => request.call(),
        };
        let ttfb_ms = started.elapsed().as_secs_f64() * 1000.0;
        let response = match answer {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => bail!("{} {path}: {e}", step.method),
        };
        let status = response.status();
        self.walked.push(RouteCall {
            method: step.method,
            pattern: step.pattern,
            who,
            status,
            calls: response
                .header("x-payhuk-upstream-calls")
                .and_then(|v| v.parse().ok()),
            upstream: response.header("x-payhuk-upstream").map(str::to_owned),
            ttfb_ms,
        });
        if let (Some(session), Some(token)) = (session, response.header("x-payhuk-consistency")) {
            session.consistency = Some(token.to_owned());
        }
        let text = response.into_string().unwrap_or_default();
        if status >= 400 {
            bail!("{} {path} as {who} answered {status}: {text}", step.method);
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn login(&mut self, who: &'static str, email: &str) -> anyhow::Result<Session> {
        let session = self.send(
            None,
            Step::new("POST", "/api/v1/auth/login")
                .body(json!({"email": email, "password": DEMO_PASSWORD})),
        )?;
        session_of(who, &session)
    }
}

fn session_of(who: &'static str, answer: &Value) -> anyhow::Result<Session> {
    let field = |name: &str| {
        answer[name]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("{who}'s session has no {name}: {answer}"))
    };
    Ok(Session {
        who,
        bearer: format!("Bearer {}", field("access_token")?),
        refresh_token: field("refresh_token")?,
        consistency: None,
    })
}

fn id(answer: &Value, what: &str) -> anyhow::Result<String> {
    answer["id"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("{what} has no id: {answer}"))
}

/// Every `/api/v1` route through `city`'s edge, in the order a customer's, a merchant's
/// and a buyer's sessions would take them.
pub fn walk(city: &City) -> anyhow::Result<Vec<RouteCall>> {
    let mut w = Walk {
        agent: crate::load::agent(),
        base: wan::edge_url(city),
        anon: topology::anon_key(),
        walked: Vec::new(),
    };
    w.send(None, Step::new("GET", "/api/v1/openapi.json"))?;
    let signed_up = w.send(
        None,
        Step::new("POST", "/api/v1/auth/signup").body(json!({
            "email": format!("{}@payhuk.test", unique("bench-routes")),
            "password": "bench routes password",
            "display_name": "Bench Routes",
        })),
    )?;
    session_of("new account", &signed_up)?;
    let mut customer = w.login("customer", DEMO_CUSTOMER_EMAIL)?;
    let refreshed = w.send(
        None,
        Step::new("POST", "/api/v1/auth/refresh")
            .body(json!({"refresh_token": customer.refresh_token})),
    )?;
    customer = session_of("customer", &refreshed)?;
    w.send(Some(&mut customer), Step::new("GET", "/api/v1/auth/me"))?;
    w.send(None, Step::new("GET", "/api/v1/products").query("limit=20"))?;
    w.send(
        Some(&mut customer),
        Step::new("GET", "/api/v1/products/{}").params(&[DEMO_PRODUCT]),
    )?;

    let mut merchant = w.login("merchant", MERCHANT_EMAIL)?;
    let product = |name: &str, published: bool| {
        json!({"store_id": MERCHANT_STORE, "kind": "physical", "name": name,
               "description": "bench --wan routes", "price_minor": 2500, "currency": "EUR",
               "stock": 100, "weight_grams": 200, "published": published})
    };
    let cloth = id(
        &w.send(
            Some(&mut merchant),
            Step::new("POST", "/api/v1/products").body(product(&unique("Bench cloth"), true)),
        )?,
        "the new product",
    )?;
    w.send(
        Some(&mut merchant),
        Step::new("PATCH", "/api/v1/products/{}")
            .params(&[&cloth])
            .body(json!({"price_minor": 2600})),
    )?;
    let draft = id(
        &w.send(
            Some(&mut merchant),
            Step::new("POST", "/api/v1/products").body(product(&unique("Bench draft"), false)),
        )?,
        "the draft",
    )?;
    w.send(
        Some(&mut merchant),
        Step::new("DELETE", "/api/v1/products/{}").params(&[&draft]),
    )?;

    let order = w.send(
        Some(&mut customer),
        Step::new("POST", "/api/v1/orders")
            .header("idempotency-key", unique("bench-routes-order"))
            .body(json!({"items": [{"product_id": cloth, "quantity": 1}]})),
    )?;
    let order_id = id(&order, "the order")?;
    w.send(
        Some(&mut customer),
        Step::new("GET", "/api/v1/orders").query("limit=5"),
    )?;
    w.send(
        Some(&mut customer),
        Step::new("GET", "/api/v1/orders/{}").params(&[&order_id]),
    )?;
    w.send(
        Some(&mut merchant),
        Step::new("GET", "/api/v1/stores/{}/orders")
            .params(&[MERCHANT_STORE])
            .query("limit=5"),
    )?;

    let payment = w.send(
        Some(&mut customer),
        Step::new("POST", "/api/v1/payments")
            .header("idempotency-key", unique("bench-routes-payment"))
            .body(json!({"order_id": order_id, "provider": "test"})),
    )?;
    let payment_id = id(&payment, "the payment")?;
    let event = json!({"event_id": unique("bench-routes-evt"), "status": "succeeded",
                       "payment_id": payment_id, "amount_minor": payment["amount_minor"]})
    .to_string();
    let now = chrono::Utc::now().timestamp();
    let secret = topology::webhook_secret("test");
    let (signature, value) = sign(event.as_bytes(), secret.as_bytes(), now);
    w.send(
        None,
        Step::new("POST", "/api/v1/payments/webhooks/{}")
            .params(&["test"])
            .header(signature, value)
            .body(serde_json::from_str(&event)?),
    )?;
    w.send(
        Some(&mut customer),
        Step::new("GET", "/api/v1/payments/{}").params(&[&payment_id]),
    )?;
    w.send(
        None,
        Step::new("GET", "/api/v1/payments/webhooks/{}").params(&["test"]),
    )?;
    // A second order's payment, given up by its customer.
    let second = w.send(
        Some(&mut customer),
        Step::new("POST", "/api/v1/orders")
            .header("idempotency-key", unique("bench-routes-order-2"))
            .body(json!({"items": [{"product_id": cloth, "quantity": 1}]})),
    )?;
    let abandoned = w.send(
        Some(&mut customer),
        Step::new("POST", "/api/v1/payments")
            .header("idempotency-key", unique("bench-routes-payment-2"))
            .body(json!({"order_id": id(&second, "the second order")?, "provider": "test"})),
    )?;
    w.send(
        Some(&mut customer),
        Step::new("POST", "/api/v1/payments/{}/cancel")
            .params(&[&id(&abandoned, "the second payment")?]),
    )?;

    w.send(
        None,
        Step::new("POST", "/api/v1/shipping/quote").body(json!({
            "store_id": MERCHANT_STORE, "country": "GH",
            "items": [{"product_id": cloth, "quantity": 1}],
        })),
    )?;
    let shipment = w.send(
        Some(&mut merchant),
        Step::new("POST", "/api/v1/shipments")
            .body(json!({"order_id": order_id, "carrier": "DHL"})),
    )?;
    let shipment_id = id(&shipment, "the shipment")?;
    w.send(
        Some(&mut merchant),
        Step::new("POST", "/api/v1/shipments/{}/events")
            .params(&[&shipment_id])
            .body(json!({"status": "in_transit", "location": "Accra"})),
    )?;
    w.send(
        Some(&mut customer),
        Step::new("GET", "/api/v1/shipments/{}").params(&[&shipment_id]),
    )?;
    w.send(
        Some(&mut merchant),
        Step::new("POST", "/api/v1/payments/{}/refunds")
            .params(&[&payment_id])
            .body(json!({"amount_minor": 100, "reason": "bench --wan routes"})),
    )?;

    let mut buyer = w.login("buyer", BUYER_EMAIL)?;
    let link = w.send(
        Some(&mut buyer),
        Step::new("POST", "/api/v1/downloads/links")
            .body(json!({"order_id": BUYER_ORDER, "product_id": DEMO_PRODUCT})),
    )?;
    let url = link["url"]
        .as_str()
        .with_context(|| format!("the download link has no url: {link}"))?;
    let token = url.rsplit('/').next().unwrap_or_default().to_owned();
    w.send(
        None,
        Step::new("GET", "/api/v1/downloads/{}").params(&[&token]),
    )?;

    w.send(
        None,
        Step::new("POST", "/api/v1/analytics/events").body(json!({"events": [
            {"name": "page_view", "session_id": unique("bench-routes"), "path": "/kofi-crafts",
             "store_id": MERCHANT_STORE}
        ]})),
    )?;
    w.send(
        Some(&mut merchant),
        Step::new("GET", "/api/v1/analytics/sales").query(&format!(
            "store={MERCHANT_STORE}&from=2026-01-01&to=2026-02-01&granularity=day"
        )),
    )?;
    let refresh_token = customer.refresh_token.clone();
    w.send(
        Some(&mut customer),
        Step::new("POST", "/api/v1/auth/logout").body(json!({"refresh_token": refresh_token})),
    )?;

    // One row per route: the second order and payment were only the way to a cancel.
    let mut seen = std::collections::HashSet::new();
    w.walked.retain(|c| seen.insert((c.method, c.pattern)));
    let missing = unwalked(&w.walked);
    if !missing.is_empty() {
        bail!(
            "the router serves routes the walk does not take: {}",
            missing.join(", ")
        );
    }
    Ok(w.walked)
}

/// `/api/v1` routes the router serves (HEAD aside) that `walked` does not include.
fn unwalked(walked: &[RouteCall]) -> Vec<String> {
    let taken: BTreeSet<(&str, &str)> = walked.iter().map(|c| (c.method, c.pattern)).collect();
    router::served_under("/api/v1")
        .into_iter()
        .filter(|(method, pattern)| {
            *method != "HEAD" && !taken.contains(&(*method, pattern.as_str()))
        })
        .map(|(method, pattern)| format!("{method} {pattern}"))
        .collect()
}

/// The table: one row per route, in the walk's order.
pub fn markdown(city: &City, walked: &[RouteCall]) -> String {
    let mut out = format!(
        "\n#### Upstream calls per `/api/v1` route, from {} (colo {})\n\n| route | as | status | upstream calls | served by | time to first byte |\n|---|---|---|---|---|---|\n",
        city.name, city.colo
    );
    for c in walked {
        out.push_str(&format!(
            "| `{} {}` | {} | {} | {} | {} | {:.0} ms |\n",
            c.method,
            c.pattern,
            c.who,
            c.status,
            c.calls.map_or("-".into(), |n| n.to_string()),
            c.upstream.as_deref().unwrap_or("-"),
            c.ttfb_ms
        ));
    }
    let several: Vec<String> = walked
        .iter()
        .filter(|c| c.calls.is_some_and(|n| n > 1))
        .map(|c| format!("`{} {}` ({})", c.method, c.pattern, c.calls.unwrap_or(0)))
        .collect();
    out.push_str(&if several.is_empty() {
        "\nEvery route took at most one upstream call.\n".to_owned()
    } else {
        format!(
            "\nRoutes that took more than one upstream call: {}.\n",
            several.join(", ")
        )
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(method: &'static str, pattern: &'static str, calls: u32) -> RouteCall {
        RouteCall {
            method,
            pattern,
            who: "customer",
            status: 200,
            calls: Some(calls),
            upstream: Some("replica:fra1".into()),
            ttfb_ms: 80.0,
        }
    }

    #[test]
    fn a_step_fills_its_pattern_and_refuses_a_wrong_count() {
        let step = Step::new("GET", "/api/v1/shipments/{}/events").params(&["s1"]);
        assert_eq!(step.path().unwrap(), "/api/v1/shipments/s1/events");
        assert!(Step::new("GET", "/api/v1/orders/{}").path().is_err());
        assert!(
            Step::new("GET", "/api/v1/orders")
                .params(&["x"])
                .path()
                .is_err()
        );
    }

    #[test]
    fn routes_not_walked_are_named_and_the_table_flags_several_calls() {
        let all: Vec<RouteCall> = router::served_under("/api/v1")
            .into_iter()
            .filter(|(m, _)| *m != "HEAD")
            .map(|(m, p)| call(m, p.leak(), 1))
            .collect();
        assert!(unwalked(&all).is_empty());
        let without_login: Vec<RouteCall> = all
            .iter()
            .filter(|c| c.pattern != "/api/v1/auth/login")
            .cloned()
            .collect();
        assert_eq!(unwalked(&without_login), ["POST /api/v1/auth/login"]);

        let lagos = City::find("Lagos").unwrap();
        let table = markdown(lagos, &[call("GET", "/api/v1/orders/{}", 2)]);
        assert!(
            table.contains(
                "| `GET /api/v1/orders/{}` | customer | 200 | 2 | replica:fra1 | 80 ms |"
            ),
            "{table}"
        );
        assert!(table.contains("more than one upstream call: `GET /api/v1/orders/{}` (2)"));
        assert!(markdown(lagos, &[call("GET", "/api/v1/auth/me", 1)]).contains("at most one"));
    }
}
