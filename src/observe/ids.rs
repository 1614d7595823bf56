//! Who a request is: its `x-request-id` (the caller's when it is a sane one, else a new
//! one) and its W3C trace context (<https://www.w3.org/TR/trace-context/>), continued
//! from the caller's `traceparent` or started here.

pub const REQUEST_ID_HEADER: &str = "x-request-id";
pub const TRACEPARENT_HEADER: &str = "traceparent";
/// Longer incoming ids are replaced: they end up in every log line of the request.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The caller's request id, if it is one a log can carry as is: 1 to 128 characters of
/// ASCII letters, digits and `-_.:` (a uuid, a ULID, a `cf-ray`, a Vercel id).
pub fn accepted_request_id(raw: &str) -> Option<&str> {
    let id = raw.trim();
    let valid = !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    valid.then_some(id)
}

/// `n` random bytes as lowercase hex. The runtime's CSPRNG cannot fail in Workers; were
/// it missing, ids would still be unique enough from the clock and a counter.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    if getrandom::getrandom(&mut bytes).is_err() || bytes.iter().all(|b| *b == 0) {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(1);
        let seed = COUNTER.fetch_add(1, Ordering::Relaxed);
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (seed >> ((i % 8) * 8)) as u8 ^ (i as u8).wrapping_mul(151) | 1;
        }
    }
    hex::encode(bytes)
}

/// This request's place in a trace: the trace it belongs to, and the gateway's own span,
/// the parent of every upstream call it makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: String,
    pub span_id: String,
    /// The caller's span, when the caller sent a valid `traceparent`.
    pub parent_id: Option<String>,
    pub flags: u8,
}

impl TraceContext {
    /// Continues the caller's trace when `incoming` is a valid `traceparent`, else
    /// starts one (sampled); either way with a new span for the gateway.
    pub fn continue_or_start(incoming: Option<&str>) -> TraceContext {
        let span_id = random_hex(8);
        match incoming.and_then(parse_traceparent) {
            Some((trace_id, parent_id, flags)) => TraceContext {
                trace_id,
                span_id,
                parent_id: Some(parent_id),
                flags,
            },
            None => TraceContext {
                trace_id: random_hex(16),
                span_id,
                parent_id: None,
                flags: 1,
            },
        }
    }

    /// The `traceparent` the gateway sends upstream: its span is the parent.
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-{:02x}", self.trace_id, self.span_id, self.flags)
    }
}

/// `(trace-id, parent-id, flags)` of a `traceparent` as the spec's parsing rules take
/// it: version `ff` and all-zero ids are invalid; a later version may append fields
/// after the four it shares with version 00.
pub fn parse_traceparent(header: &str) -> Option<(String, String, u8)> {
    let header = header.trim();
    let is_hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let mut parts = header.splitn(5, '-');
    let (version, trace_id, parent_id, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let rest = parts.next();
    let valid = is_hex(version, 2)
        && version != "ff"
        && (version != "00" || rest.is_none())
        && is_hex(trace_id, 32)
        && trace_id.bytes().any(|b| b != b'0')
        && is_hex(parent_id, 16)
        && parent_id.bytes().any(|b| b != b'0')
        && is_hex(flags, 2);
    if !valid {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some((trace_id.to_owned(), parent_id.to_owned(), flags))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sane_incoming_id_is_kept_anything_else_replaced() {
        assert_eq!(
            accepted_request_id(" 8f1c-42.a_b:c "),
            Some("8f1c-42.a_b:c")
        );
        assert_eq!(
            accepted_request_id("8d3c1b2a5e6f7a8b-CDG"),
            Some("8d3c1b2a5e6f7a8b-CDG")
        );
        for bad in ["", "  ", "a b", "id\"quoted", "é", "a\nb", &"x".repeat(129)] {
            assert_eq!(accepted_request_id(bad), None, "{bad:?}");
        }
        assert!(accepted_request_id(&"x".repeat(128)).is_some());
    }

    #[test]
    fn random_ids_are_hex_of_the_asked_length_and_differ() {
        let (a, b) = (random_hex(16), random_hex(16));
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn traceparent_parsing_follows_the_spec() {
        let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            parse_traceparent(valid),
            Some((
                "4bf92f3577b34da6a3ce929d0e0e4736".into(),
                "00f067aa0ba902b7".into(),
                1
            ))
        );
        // A future version may add fields; version 00 may not.
        assert!(parse_traceparent(&format!("cc{}-what-ever", &valid[2..])).is_some());
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "",
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_gateway_continues_a_callers_trace_under_its_own_span() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
        let trace = TraceContext::continue_or_start(Some(incoming));
        assert_eq!(trace.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(trace.parent_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_ne!(trace.span_id, "00f067aa0ba902b7");
        assert_eq!(
            trace.traceparent(),
            format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{}-00", trace.span_id)
        );
        let started = TraceContext::continue_or_start(Some("garbage"));
        assert_eq!(started.parent_id, None);
        let (trace_id, span_id, flags) = parse_traceparent(&started.traceparent()).unwrap();
        assert_eq!(
            (trace_id, span_id, flags),
            (started.trace_id, started.span_id, 1)
        );
    }
}
