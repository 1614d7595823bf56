//! `GET /status`: the operators' page over `/health`. One self-contained HTML file
//! (inline style and script, no external asset) that polls `/health` every 5 s.
//!
//! Its content security policy allows exactly the page's own inline `<script>` and
//! `<style>` by their SHA-256 (computed from the page as served), so no other script can
//! run on it, and it can only talk to its own origin. The bundle serves the page from a
//! static asset ([`ASSET`]), not from the wasm.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::http::ApiResponse;
use crate::observe::history::HistoryReport;
use crate::services::health::api::Audience;

pub const PAGE: &str = include_str!("status.html");

/// The static asset the bundle serves [`PAGE`] from (`cargo xtask build` writes it to
/// `build/assets`): 10 KB gzipped, kept out of the wasm bundle.
pub const ASSET: &str = "status.html";

/// The text between `<{tag}>` and `</{tag}>`: what a CSP hash source covers.
fn inline_block<'a>(page: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = page.find(&open)? + open.len();
    let len = page[start..].find(&close)?;
    Some(&page[start..start + len])
}

fn csp_hash(block: &str) -> String {
    format!(
        "'sha256-{}'",
        STANDARD.encode(Sha256::digest(block.as_bytes()))
    )
}

/// The page's `content-security-policy`: its own inline `<script>` and `<style>`, by hash.
pub fn content_security_policy(page: &str) -> Result<String, AppError> {
    let block = |tag: &str| {
        inline_block(page, tag)
            .ok_or_else(|| AppError::Internal(format!("{ASSET} has no inline <{tag}>")))
    };
    Ok(format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; \
         img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        csp_hash(block("script")?),
        csp_hash(block("style")?),
    ))
}

/// 200 with `page` ([`PAGE`], as served from [`ASSET`]).
pub fn page(page: &str) -> Result<ApiResponse, AppError> {
    Ok(ApiResponse {
        status: 200,
        headers: vec![
            ("content-type".into(), "text/html; charset=utf-8".into()),
            ("cache-control".into(), "no-store".into()),
            (
                "content-security-policy".into(),
                content_security_policy(page)?,
            ),
            ("x-content-type-options".into(), "nosniff".into()),
            ("referrer-policy".into(), "no-referrer".into()),
        ],
        body: page.as_bytes().to_vec(),
    })
}

/// `GET /status/history`: the charts' data, for operators only (it names roles and
/// lag, as `/health`'s details do).
pub fn history(audience: Audience, report: &HistoryReport) -> Result<ApiResponse, AppError> {
    if audience != Audience::Operator {
        return Err(AppError::Unauthorized {
            reason: "the history is for operators: present STATUS_TOKEN or the service role \
                     as the bearer"
                .into(),
        });
    }
    Ok(ApiResponse::json(200, report)?.with_header("cache-control", "no-store"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lower() -> String {
        PAGE.to_ascii_lowercase()
    }

    #[test]
    fn status_page_references_no_external_asset() {
        let page = lower();
        for forbidden in [
            "src=\"http://",
            "src=\"https://",
            "src='http",
            "href=\"http://",
            "href=\"https://",
            "href='http",
            "<script src",
            "<link",
            "@import",
            "url(",
        ] {
            assert!(
                !page.contains(forbidden),
                "status.html contains `{forbidden}`"
            );
        }
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "status.html names no absolute URL at all"
        );
        assert_eq!(page.matches("<script").count(), 1, "one inline script");
        assert_eq!(page.matches("<style").count(), 1, "one inline style");
        assert!(
            !page.contains(" style=\""),
            "no style attributes: the CSP hash does not cover them"
        );
    }

    #[test]
    fn status_page_polls_health_without_cache() {
        for path in ["/health", "/status/history"] {
            assert!(
                PAGE.contains(&format!("getJson(\"{path}\"")),
                "fetches {path}, same origin"
            );
        }
        assert!(PAGE.contains("fetch(path, { cache: \"no-store\""));
        assert!(PAGE.contains("data-region") || PAGE.contains("dataset.region"));
        for hook in ["id=\"overall\"", "id=\"served-by\"", "id=\"error\""] {
            assert!(PAGE.contains(hook), "missing test hook {hook}");
        }
    }

    #[test]
    fn status_page_lists_warnings_as_text_and_hides_them_when_none() {
        for hook in [
            "id=\"warnings-section\"",
            "id=\"warnings\"",
            "<h2>Warnings</h2>",
        ] {
            assert!(PAGE.contains(hook), "missing warnings hook {hook}");
        }
        let script = inline_block(PAGE, "script").unwrap();
        assert!(script.contains("report.warnings"));
        assert!(script.contains("$(\"warnings-section\").hidden = warnings.length === 0"));
        assert!(
            !script.contains("innerHTML") && !script.contains("insertAdjacentHTML"),
            "data reaches the page as text only"
        );
    }

    #[test]
    fn status_response_is_html_no_store_with_a_strict_policy() {
        let response = page(PAGE).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(
            response.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(response.header("cache-control"), Some("no-store"));
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(response.body, PAGE.as_bytes());
        let csp = response.header("content-security-policy").unwrap();
        for directive in [
            "default-src 'none'",
            "connect-src 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{csp} lacks {directive}");
        }
        assert!(!csp.contains("unsafe"), "{csp}");
        let script = inline_block(PAGE, "script").unwrap();
        assert!(
            script.contains("refresh"),
            "the hashed block is the page's script"
        );
        assert!(csp.contains(&format!("script-src {}", csp_hash(script))));
    }

    #[test]
    fn a_page_without_its_inline_blocks_is_an_error_not_a_panic() {
        assert!(matches!(
            page("<p>no script</p>"),
            Err(AppError::Internal(_))
        ));
    }

    #[test]
    fn csp_hash_matches_a_known_value() {
        // `echo -n 'alert(1)' | openssl dgst -sha256 -binary | base64`
        assert_eq!(
            csp_hash("alert(1)"),
            "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"
        );
    }
}
