use worker::Env;

use crate::config::ConfigSource;

/// Reads configuration from the Worker's vars and secrets (both are plain strings).
pub struct EnvSource<'a>(pub &'a Env);

impl ConfigSource for EnvSource<'_> {
    fn get(&self, key: &str) -> Option<String> {
        self.0
            .var(key)
            .map(|v| v.to_string())
            .or_else(|_| self.0.secret(key).map(|s| s.to_string()))
            .ok()
    }
}
