//! `cargo xtask keys`: the local stack's API keys, shell-sourceable.

use payhuk_edge::auth::crypto::native::new_es256_key;
use payhuk_edge::auth::jwks::KeySet;

use crate::topology;

pub fn render() -> String {
    format!(
        "# Local stack keys: the legacy ones, HS256 JWTs signed with the local JWT secret\n\
         # shared by PostgREST and the gateway, and Supabase's new API keys (publishable:\n\
         # anon; secret: service role, refused from browsers), and the operators' token\n\
         # for /health's details and /status. Load them with:\n\
         # eval \"$(cargo xtask keys)\"\n\
         ANON_KEY={}\n\
         SERVICE_ROLE_KEY={}\n\
         PUBLISHABLE_KEY={}\n\
         SECRET_KEY={}\n\
         STATUS_TOKEN={}\n",
        topology::anon_key(),
        topology::service_role_key(),
        topology::PUBLISHABLE_KEY,
        topology::SECRET_KEY,
        topology::STATUS_TOKEN,
    )
}

/// A new ES256 signing key named `kid`: the private JWK for the gateway's
/// `JWT_SIGNING_KEY` secret, and the public set to add to PostgREST's `jwt-secret`.
pub fn new_signing_key(kid: &str) -> anyhow::Result<String> {
    let key = new_es256_key(kid).map_err(anyhow::Error::msg)?;
    let public = KeySet {
        keys: key.public().into_iter().collect(),
    };
    Ok(format!(
        "# A new ES256 signing key `{kid}`. Keep the first line secret:\n\
         #   npx wrangler secret put JWT_SIGNING_KEY --env production   (paste the JSON)\n\
         # Publish the second before signing with it (docs/KEYS.md): PostgREST's jwt-secret\n\
         # and the gateway's JWT_JWKS carry it beside the keys in use.\n\
         JWT_SIGNING_KEY='{}'\n\
         PUBLIC_JWKS='{}'\n",
        serde_json::to_string(&key)?,
        serde_json::to_string(&public)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_signing_key_is_a_valid_gateway_signing_key_and_differs_each_time() {
        let text = new_signing_key("k-2026-12").unwrap();
        let value = |name: &str| -> String {
            let line = text.lines().find(|l| l.starts_with(name)).unwrap();
            line.split_once('=')
                .unwrap()
                .1
                .trim_matches('\'')
                .to_owned()
        };
        let mut vars: std::collections::HashMap<String, String> = topology::gateway_env()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        vars.insert("JWT_SIGNING_KEY".into(), value("JWT_SIGNING_KEY"));
        let config = payhuk_edge::config::Config::from_source(&vars).unwrap();
        assert_eq!(config.signing_key.kid.as_deref(), Some("k-2026-12"));
        assert_eq!(
            KeySet::parse(&value("PUBLIC_JWKS")).unwrap(),
            config.published_keys
        );
        assert_ne!(value("JWT_SIGNING_KEY"), {
            let again = new_signing_key("k-2026-12").unwrap();
            let line = again
                .lines()
                .find(|l| l.starts_with("JWT_SIGNING_KEY"))
                .unwrap()
                .to_owned();
            line.split_once('=')
                .unwrap()
                .1
                .trim_matches('\'')
                .to_owned()
        });
    }

    #[test]
    fn output_is_sourceable_assignments() {
        let text = render();
        let assignments: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(assignments.len(), 5);
        for line in assignments {
            let (name, value) = line.split_once('=').unwrap();
            assert!(
                [
                    "ANON_KEY",
                    "SERVICE_ROLE_KEY",
                    "PUBLISHABLE_KEY",
                    "SECRET_KEY",
                    "STATUS_TOKEN"
                ]
                .contains(&name)
            );
            // JWT characters need no shell quoting.
            assert!(
                value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            );
        }
    }
}
