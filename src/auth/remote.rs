//! Keys fetched from a JWKS URL (`JWT_JWKS_URL`, e.g. a Supabase project's
//! `/auth/v1/.well-known/jwks.json`), kept per isolate: fetched when first needed, again
//! once they are older than the TTL, and at once for a token naming a `kid` they lack,
//! so a key rotation there needs no redeploy here. One fetch at a time (the others use
//! what is known, or wait for it when nothing is), and at most one per
//! [`MIN_FETCH_INTERVAL_MS`], so tokens with made-up `kid`s cannot drive fetches.
//! A failed fetch keeps the keys already known.

use super::jwks::KeySet;

/// The least time between two fetches, whatever asks for them.
pub const MIN_FETCH_INTERVAL_MS: u64 = 5_000;

#[derive(Debug, Default)]
pub struct RemoteKeys {
    keys: Option<KeySet>,
    fetched_at_ms: Option<u64>,
    last_attempt_ms: Option<u64>,
    /// A fetch is under way and counts as given up at this time.
    in_flight_until_ms: Option<u64>,
    last_error: Option<String>,
}

/// What a request should do about the remote keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchPlan {
    /// Use what is known.
    Use,
    /// Fetch now (this request was chosen to).
    Fetch,
    /// Another request is fetching and nothing is known yet: wait for it until then.
    Await { until_ms: u64 },
}

impl RemoteKeys {
    /// Whether to fetch for a token naming `kid` (or for none), at `now_ms`; a `Fetch`
    /// answer marks the fetch as under way until `now_ms + timeout_ms`.
    pub fn plan(
        &mut self,
        now_ms: u64,
        ttl_ms: u64,
        timeout_ms: u64,
        kid: Option<&str>,
    ) -> FetchPlan {
        if let Some(until_ms) = self.in_flight_until_ms.filter(|until| *until > now_ms) {
            return match &self.keys {
                None => FetchPlan::Await { until_ms },
                Some(_) => FetchPlan::Use,
            };
        }
        let stale = self
            .fetched_at_ms
            .is_none_or(|at| now_ms.saturating_sub(at) >= ttl_ms);
        let unknown = kid.is_some_and(|kid| !self.knows(kid));
        let allowed = self
            .last_attempt_ms
            .is_none_or(|at| now_ms.saturating_sub(at) >= MIN_FETCH_INTERVAL_MS);
        if (stale || unknown) && allowed {
            self.last_attempt_ms = Some(now_ms);
            self.in_flight_until_ms = Some(now_ms + timeout_ms);
            FetchPlan::Fetch
        } else {
            FetchPlan::Use
        }
    }

    /// A fetch ended.
    pub fn ingest(&mut self, now_ms: u64, outcome: Result<KeySet, String>) {
        self.in_flight_until_ms = None;
        match outcome {
            Ok(keys) => {
                self.keys = Some(keys);
                self.fetched_at_ms = Some(now_ms);
                self.last_error = None;
            }
            Err(why) => self.last_error = Some(why),
        }
    }

    pub fn keys(&self) -> Option<&KeySet> {
        self.keys.as_ref()
    }

    pub fn knows(&self, kid: &str) -> bool {
        self.keys
            .as_ref()
            .is_some_and(|set| set.keys.iter().any(|k| k.kid.as_deref() == Some(kid)))
    }

    /// Why the last fetch failed, if it did.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::auth::jwks::Jwk;

    const TTL: u64 = 600_000;
    const TIMEOUT: u64 = 2_000;

    fn set(kids: &[&str]) -> KeySet {
        KeySet {
            keys: kids.iter().map(|k| Jwk::hs256(&[1; 32], Some(k))).collect(),
        }
    }

    #[test]
    fn fetched_when_first_needed_then_kept_for_the_ttl() {
        let mut remote = RemoteKeys::default();
        assert_eq!(remote.plan(0, TTL, TIMEOUT, None), FetchPlan::Fetch);
        assert_eq!(
            remote.plan(10, TTL, TIMEOUT, None),
            FetchPlan::Await { until_ms: TIMEOUT },
            "nothing known yet: the others wait"
        );
        remote.ingest(100, Ok(set(&["a"])));
        assert_eq!(remote.plan(200, TTL, TIMEOUT, Some("a")), FetchPlan::Use);
        assert_eq!(remote.plan(TTL + 100, TTL, TIMEOUT, None), FetchPlan::Fetch);
        assert_eq!(
            remote.plan(TTL + 110, TTL, TIMEOUT, None),
            FetchPlan::Use,
            "the old keys meanwhile"
        );
    }

    #[test]
    fn an_unknown_kid_fetches_at_once_but_not_more_often_than_the_interval() {
        let mut remote = RemoteKeys::default();
        assert_eq!(remote.plan(0, TTL, TIMEOUT, Some("a")), FetchPlan::Fetch);
        remote.ingest(50, Ok(set(&["a"])));
        let soon = MIN_FETCH_INTERVAL_MS - 1;
        assert_eq!(remote.plan(soon, TTL, TIMEOUT, Some("b")), FetchPlan::Use);
        let later = MIN_FETCH_INTERVAL_MS;
        assert_eq!(
            remote.plan(later, TTL, TIMEOUT, Some("b")),
            FetchPlan::Fetch
        );
        remote.ingest(later + 10, Ok(set(&["a", "b"])));
        assert!(remote.knows("b"));
    }

    #[test]
    fn a_failed_fetch_keeps_the_known_keys_and_a_stuck_one_is_given_up() {
        let mut remote = RemoteKeys::default();
        assert_eq!(remote.plan(0, TTL, TIMEOUT, None), FetchPlan::Fetch);
        remote.ingest(10, Ok(set(&["a"])));
        assert_eq!(remote.plan(TTL + 10, TTL, TIMEOUT, None), FetchPlan::Fetch);
        remote.ingest(TTL + 20, Err("503".into()));
        assert!(remote.knows("a"));
        assert_eq!(remote.last_error(), Some("503"));

        // A fetch that never reports back stops counting at its deadline.
        let mut stuck = RemoteKeys::default();
        assert_eq!(stuck.plan(0, TTL, TIMEOUT, None), FetchPlan::Fetch);
        assert_eq!(
            stuck.plan(MIN_FETCH_INTERVAL_MS.max(TIMEOUT), TTL, TIMEOUT, None),
            FetchPlan::Fetch
        );
    }

    proptest! {
        /// Whatever the requests ask, two fetches never start less than the interval
        /// apart, and none starts while another is under way.
        #[test]
        fn fetches_are_bounded(steps in proptest::collection::vec(
            (0u64..3_000, proptest::option::of("[ab]"), any::<bool>(), any::<bool>()), 1..60)
        ) {
            let mut remote = RemoteKeys::default();
            let mut now = 0;
            let mut started: Vec<u64> = Vec::new();
            let mut in_flight: Option<u64> = None;
            for (gap, kid, finish, ok) in steps {
                now += gap;
                if finish && let Some(_) = in_flight.take() {
                    remote.ingest(now, if ok { Ok(set(&["a"])) } else { Err("x".into()) });
                }
                if remote.plan(now, TTL, TIMEOUT, kid.as_deref()) == FetchPlan::Fetch {
                    if let Some(until) = in_flight {
                        prop_assert!(now >= until, "a second fetch while one is under way");
                    }
                    if let Some(last) = started.last() {
                        prop_assert!(now - last >= MIN_FETCH_INTERVAL_MS);
                    }
                    started.push(now);
                    in_flight = Some(now + TIMEOUT);
                }
            }
        }
    }
}
