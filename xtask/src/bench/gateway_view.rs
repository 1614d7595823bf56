//! The gateway's own figures beside the load generator's: what `/status/history` (the
//! isolate's last hour, `src/observe/history.rs`) says each route took, measured
//! inside the gateway from arrival to response. The difference from what the client
//! saw is the runtime's and the network's share.

use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

use crate::topology;

/// `/status/history` of the gateway at `base`, as an operator.
pub fn fetch(base: &str) -> anyhow::Result<Value> {
    let url = format!("{base}/status/history");
    ureq::get(&url)
        .set(
            "authorization",
            &format!("Bearer {}", topology::STATUS_TOKEN),
        )
        .timeout(Duration::from_secs(10))
        .call()
        .with_context(|| format!("GET {url}"))?
        .into_json()
        .with_context(|| format!("{url}: not JSON"))
}

/// One table of the routes each gateway served over its last hour, busiest first.
pub fn markdown(views: &[(&str, Value)]) -> String {
    let mut out = String::from(
        "| gateway | route | requests | 5xx | p50 | p99 |\n|---|---|---:|---:|---:|---:|\n",
    );
    for (gateway, history) in views {
        let routes = history["routes"].as_array().cloned().unwrap_or_default();
        for route in routes {
            let n = |key: &str| route[key].as_u64().unwrap_or(0);
            out.push_str(&format!(
                "| {gateway} | `{}` | {} | {} | {} ms | {} ms |\n",
                route["route"].as_str().unwrap_or("?"),
                n("count"),
                n("errors"),
                n("p50_ms"),
                n("p99_ms"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_become_rows_per_gateway() {
        let history = serde_json::json!({"routes": [
            {"route": "GET /rest/v1/**", "count": 1200, "errors": 0, "p50_ms": 3, "p99_ms": 11},
            {"route": "POST /rest/v1/**", "count": 40, "errors": 2, "p50_ms": 9, "p99_ms": 30},
        ]});
        let table = markdown(&[("plain workerd", history)]);
        assert!(table.contains("| plain workerd | `GET /rest/v1/**` | 1200 | 0 | 3 ms | 11 ms |"));
        assert!(table.contains("| plain workerd | `POST /rest/v1/**` | 40 | 2 | 9 ms | 30 ms |"));
    }
}
