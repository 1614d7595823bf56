//! Where a provider may send the customer back after paying: on this deployment's own
//! origins (`PUBLIC_URL` and `ALLOWED_ORIGINS`), so a payment page never becomes an
//! open redirect. One rule, read two ways: the handler applies [`Rule::problem`], the
//! OpenAPI document states [`Rule::pattern`], and a property test keeps them equal.

use crate::config::{AllowedOrigins, Config};

pub const MAX_LEN: usize = 2000;

/// Characters RFC 3986 allows in a path, query or fragment, besides `%XX`.
const URI_CHARS: &str = "-._~:/?#[]@!$&'()*+,;=";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Exactly one of these origins (`scheme://host[:port]`, as configured).
    Origins(Vec<String>),
    /// `ALLOWED_ORIGINS=*`: any http(s) host, with a port of at most four digits.
    AnyHttp,
}

impl Rule {
    pub fn from_config(config: &Config) -> Rule {
        let mut origins: Vec<String> = config
            .public_url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .map(|u| u.origin().ascii_serialization())
            .into_iter()
            .collect();
        match &config.allowed_origins {
            AllowedOrigins::Any => return Rule::AnyHttp,
            AllowedOrigins::List(list) => {
                origins.extend(list.iter().map(|o| o.trim_end_matches('/').to_owned()));
            }
        }
        origins.sort();
        origins.dedup();
        Rule::Origins(origins)
    }

    /// Why `url` may not be a return URL, if it may not.
    pub fn problem(&self, url: &str) -> Option<String> {
        if url.chars().count() > MAX_LEN {
            return Some(format!("must be at most {MAX_LEN} characters"));
        }
        let rest = match self {
            Rule::Origins(origins) => origins.iter().find_map(|o| url.strip_prefix(o.as_str())),
            Rule::AnyHttp => any_http_origin(url),
        };
        let ours = rest.is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#']));
        if !ours {
            return Some(match self {
                Rule::Origins(_) => format!(
                    "must start with PUBLIC_URL or one of ALLOWED_ORIGINS ({})",
                    self.origins_text()
                ),
                Rule::AnyHttp => "must be an http:// or https:// URL".into(),
            });
        }
        let tail = rest.unwrap_or_default();
        if !uri_text(tail) {
            return Some("may hold only URI characters and %XX escapes".into());
        }
        // Defensive: anything the rule admits is a URL a browser can follow.
        url::Url::parse(url)
            .is_err()
            .then(|| "must be an absolute URL".into())
    }

    /// The same rule as an ECMA-262 pattern, for the document.
    pub fn pattern(&self) -> String {
        let head = match self {
            Rule::Origins(origins) if origins.is_empty() => "(?!)".to_owned(),
            Rule::Origins(origins) => format!(
                "(?:{})",
                origins
                    .iter()
                    .map(|o| escape(o))
                    .collect::<Vec<_>>()
                    .join("|")
            ),
            Rule::AnyHttp => {
                let label = "[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*";
                format!(
                    "https?://(?:{label}\\.)*[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*(?::[0-9]{{1,4}})?"
                )
            }
        };
        let chars = format!("A-Za-z0-9{}", escape(URI_CHARS));
        format!("^{head}(?:[/?#](?:%[0-9A-Fa-f]{{2}}|[{chars}])*)?$")
    }

    fn origins_text(&self) -> String {
        match self {
            Rule::Origins(o) if o.is_empty() => "none configured".into(),
            Rule::Origins(o) => o.join(", "),
            Rule::AnyHttp => "any".into(),
        }
    }
}

/// What follows `http(s)://host[:port]` in `url`, if it starts so: a host name of
/// dot-separated labels (letters and digits, single hyphens inside), the last one
/// starting with a letter (so it is never read as an IPv4 address), and a port of one to
/// four digits.
fn any_http_origin(url: &str) -> Option<&str> {
    let after = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let label_ok = |label: &str| {
        label
            .split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()))
    };
    let host_ok = host.split('.').all(label_ok)
        && host
            .rsplit('.')
            .next()
            .is_some_and(|last| last.starts_with(|c: char| c.is_ascii_alphabetic()));
    let port_ok =
        port.is_none_or(|p| (1..=4).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    (host_ok && port_ok).then_some(rest)
}

/// Whether `text` is only RFC 3986 characters and well-formed `%XX` escapes.
fn uri_text(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            if !(i + 2 < bytes.len()
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit())
            {
                return false;
            }
            i += 3;
        } else if b.is_ascii_alphanumeric() || URI_CHARS.as_bytes().contains(&b) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// `text` with every character that means something in a pattern escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if "\\^$.|?*+()[]{}/-".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::test_support::config_with;

    fn ours() -> Rule {
        Rule::from_config(&config_with(&[
            ("PUBLIC_URL", "https://edge.payhuk.test"),
            (
                "ALLOWED_ORIGINS",
                "https://shop.payhuk.test,http://localhost:8790",
            ),
        ]))
    }

    #[test]
    fn return_urls_stay_on_our_origins() {
        let rule = ours();
        for fine in [
            "https://shop.payhuk.test/orders/1",
            "https://shop.payhuk.test",
            "https://edge.payhuk.test/x?y=1#z",
            "http://localhost:8790/?paid=%C3%A9",
        ] {
            assert_eq!(rule.problem(fine), None, "{fine}");
        }
        for refused in [
            "https://evil.test/",
            "javascript:alert(1)",
            "/relative",
            "https://shop.payhuk.test.evil.test/",
            "https://shop.payhuk.test@evil.test/",
            "https://shop.payhuk.test:8443/",
            "https://shop.payhuk.test/a b",
            "https://shop.payhuk.test/%zz",
            "HTTPS://SHOP.payhuk.test/",
        ] {
            assert!(rule.problem(refused).is_some(), "{refused}");
        }
        let long = format!("https://shop.payhuk.test/{}", "a".repeat(MAX_LEN));
        assert!(rule.problem(&long).is_some());
    }

    #[test]
    fn any_origin_still_means_an_http_url() {
        let rule = Rule::from_config(&config_with(&[("ALLOWED_ORIGINS", "*")]));
        assert_eq!(rule, Rule::AnyHttp);
        assert_eq!(rule.problem("https://anywhere.test:8080/back"), None);
        assert!(rule.problem("ftp://anywhere.test/").is_some());
        assert!(rule.problem("https://:80/").is_some());
    }

    fn candidate() -> impl Strategy<Value = String> {
        let head = prop_oneof![
            Just("https://shop.payhuk.test".to_owned()),
            Just("https://edge.payhuk.test".to_owned()),
            Just("http://localhost:8790".to_owned()),
            Just("https://shop.payhuk.tes".to_owned()),
            Just("http://a-b.example:123".to_owned()),
            Just("https://x".to_owned()),
            Just("https://1.2.3.4".to_owned()),
            Just("http://xn--a.test".to_owned()),
            Just("https://a.0x1".to_owned()),
            "https?://[a-z0-9.-]{1,10}(:[0-9]{1,6})?",
            "[a-z:/.]{0,12}",
        ];
        let tail = prop_oneof![
            Just(String::new()),
            "[/?#][ -~]{0,20}",
            "[/?#](%[0-9a-fA-F]{2}|[a-z]){0,6}",
            "[ -~]{0,8}",
            "\\PC{0,6}",
        ];
        (head, tail).prop_map(|(h, t)| h + &t)
    }

    proptest! {
        /// What the document tells a client is exactly what the handler accepts.
        #[test]
        fn the_pattern_and_the_handler_agree(url in candidate()) {
            for rule in [ours(), Rule::AnyHttp] {
                let pattern = regex::Regex::new(&rule.pattern()).unwrap();
                prop_assert_eq!(
                    pattern.is_match(&url),
                    rule.problem(&url).is_none(),
                    "{} against {}", url, rule.pattern()
                );
            }
        }
    }
}
