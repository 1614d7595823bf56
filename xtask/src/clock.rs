//! The databases' clock, for tests that must run on chosen dates (month boundaries,
//! year end, leap days) whatever today is.
//!
//! libfaketime (Debian's `faketime`) is preloaded into the PostgreSQL servers and reads
//! an offset in seconds from a file. One file for the whole stack, so the primary and
//! its standbys share one clock, and a test can move it while the servers run: they
//! reread it within [`CACHE_SECONDS`]. Only PostgreSQL is moved; PostgREST is a static
//! binary (nothing to preload into) and the gateway keeps the real time, as a
//! production edge would beside a database whose date differs from the test's day.
//!
//! Without the file nothing is preloaded: a normal stack runs on the real clock.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};

use crate::paths::StackPaths;

/// How long a server keeps an offset before reading the file again.
const CACHE_SECONDS: u64 = 1;

/// Where Debian puts the library, per architecture.
const LIBRARY_DIRS: [&str; 2] = [
    "/usr/lib/x86_64-linux-gnu/faketime",
    "/usr/lib/aarch64-linux-gnu/faketime",
];

#[derive(Debug, Clone)]
pub struct DbClock {
    file: PathBuf,
}

impl DbClock {
    pub fn new(stack: &StackPaths) -> DbClock {
        DbClock {
            file: stack.pg().join("db-clock"),
        }
    }

    /// True when the stack's servers start on the moved clock.
    pub fn is_pinned(&self) -> bool {
        self.file.exists()
    }

    /// Makes the databases' clock read `instant` now; from there it runs at the real rate.
    /// Waits until running servers have read it.
    pub fn set(&self, instant: DateTime<Utc>) -> anyhow::Result<()> {
        library()?;
        let offset = instant.timestamp() - Utc::now().timestamp();
        // World-readable: the servers run as another user.
        fs::write(&self.file, format!("{offset:+}\n"))
            .with_context(|| format!("writing {}", self.file.display()))?;
        sleep(Duration::from_millis(CACHE_SECONDS * 1000 + 300));
        Ok(())
    }

    /// The environment a server starts with: the preload when the clock is pinned.
    pub fn server_env(&self) -> anyhow::Result<Vec<(&'static str, OsString)>> {
        if !self.is_pinned() {
            return Ok(Vec::new());
        }
        Ok(vec![
            ("LD_PRELOAD", library()?.into_os_string()),
            (
                "FAKETIME_TIMESTAMP_FILE",
                self.file.clone().into_os_string(),
            ),
            ("FAKETIME_CACHE_DURATION", CACHE_SECONDS.to_string().into()),
            // Timeouts and EXPLAIN timings measure with the monotonic clock: leave it
            // alone so that moving the date never makes an interval negative.
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1".into()),
        ])
    }
}

/// `2027-03-01T00:05:00Z` (RFC 3339, any offset).
pub fn parse_instant(text: &str) -> anyhow::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .with_context(|| {
            format!("`{text}` is not an RFC 3339 instant such as 2027-03-01T00:05:00Z")
        })
}

fn library() -> anyhow::Result<PathBuf> {
    LIBRARY_DIRS
        .iter()
        .map(|dir| Path::new(dir).join("libfaketime.so.1"))
        .find(|path| path.exists())
        .map_or_else(
            || {
                bail!(
                    "libfaketime is not installed (Debian package `faketime`); run `cargo xtask setup`"
                )
            },
            Ok,
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_read_in_any_offset_and_kept_in_utc() {
        let instant = parse_instant("2028-02-29T13:00:00+01:00").unwrap();
        assert_eq!(instant.to_rfc3339(), "2028-02-29T12:00:00+00:00");
        let err = parse_instant("2027-02-29T00:00:00Z").unwrap_err();
        assert!(format!("{err:#}").contains("RFC 3339"), "{err:#}");
    }

    #[test]
    fn an_unpinned_stack_preloads_nothing() {
        let dir = std::env::temp_dir().join(format!("xtask-clock-{}", std::process::id()));
        let clock = DbClock {
            file: dir.join("db-clock"),
        };
        assert!(!clock.is_pinned());
        assert!(clock.server_env().unwrap().is_empty());
    }
}
