//! An isolate's own memory in front of the Workers Cache API, for anonymous catalogue
//! reads: a hit there costs neither an upstream call nor a cache lookup. Entries follow
//! the same clock as the Cache API (fresh, then served stale while one caller
//! refreshes), and the whole cache is bounded in bytes. A miss is computed once: the
//! first caller claims the fill and the others wait for its entry instead of going
//! upstream too (a cold isolate's first thousand listings are one upstream call).

use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// Served as is this long after it was computed.
    pub fresh_ms: u64,
    /// Then served stale (and refreshed) this much longer; gone after.
    pub stale_ms: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Lookup<T> {
    Fresh(T),
    /// Too old to be fresh; `refresh` is true for exactly one caller per stale period,
    /// the one that should recompute it.
    Stale {
        value: T,
        refresh: bool,
    },
    /// Another caller claimed this miss and is computing it, until `until_ms` at most.
    Filling {
        until_ms: u64,
    },
    Miss,
}

#[derive(Debug)]
struct Entry<T> {
    value: T,
    size: usize,
    computed_at_ms: u64,
    refresh_claimed: bool,
}

#[derive(Debug)]
pub struct MemoryCache<T> {
    entries: HashMap<String, Entry<T>>,
    /// Misses being computed, and until when their callers may take.
    filling: HashMap<String, u64>,
    bytes: usize,
    budget_bytes: usize,
    freshness: Freshness,
}

impl<T: Clone> MemoryCache<T> {
    pub fn new(budget_bytes: usize, freshness: Freshness) -> Self {
        MemoryCache {
            entries: HashMap::new(),
            filling: HashMap::new(),
            bytes: 0,
            budget_bytes,
            freshness,
        }
    }

    pub fn get(&mut self, key: &str, now_ms: u64) -> Lookup<T> {
        let Some(entry) = self.entries.get_mut(key) else {
            return self.filling_or_miss(key, now_ms);
        };
        let age = now_ms.saturating_sub(entry.computed_at_ms);
        if age <= self.freshness.fresh_ms {
            return Lookup::Fresh(entry.value.clone());
        }
        if age <= self.freshness.fresh_ms + self.freshness.stale_ms {
            let refresh = !entry.refresh_claimed;
            entry.refresh_claimed = true;
            return Lookup::Stale {
                value: entry.value.clone(),
                refresh,
            };
        }
        self.remove(key);
        self.filling_or_miss(key, now_ms)
    }

    /// The caller that was told `Miss` computes `key` and lets others wait for it until
    /// `until_ms`; a claim that outlives it no longer holds anyone.
    pub fn claim_fill(&mut self, key: &str, now_ms: u64, until_ms: u64) {
        self.filling.retain(|_, until| *until > now_ms);
        self.filling.insert(key.to_owned(), until_ms);
    }

    /// The claimed fill ended without an entry (an error, a non-cacheable answer): the
    /// waiters compute it themselves.
    pub fn release_fill(&mut self, key: &str) {
        self.filling.remove(key);
    }

    fn filling_or_miss(&self, key: &str, now_ms: u64) -> Lookup<T> {
        match self.filling.get(key) {
            Some(&until_ms) if until_ms > now_ms => Lookup::Filling { until_ms },
            _ => Lookup::Miss,
        }
    }

    /// Stores `value` (of `size` bytes) computed at `computed_at_ms`, evicting expired
    /// entries, then the oldest, until it fits; a value over the whole budget is not kept.
    pub fn put(&mut self, key: &str, value: T, size: usize, computed_at_ms: u64, now_ms: u64) {
        self.release_fill(key);
        self.remove(key);
        if size > self.budget_bytes {
            return;
        }
        let lifetime = self.freshness.fresh_ms + self.freshness.stale_ms;
        let expired: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| now_ms.saturating_sub(e.computed_at_ms) > lifetime)
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            self.remove(&k);
        }
        while self.bytes + size > self.budget_bytes {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.computed_at_ms)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => self.remove(&k),
                None => break,
            }
        }
        self.bytes += size;
        self.entries.insert(
            key.to_owned(),
            Entry {
                value,
                size,
                computed_at_ms,
                refresh_claimed: false,
            },
        );
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn remove(&mut self, key: &str) {
        if let Some(old) = self.entries.remove(key) {
            self.bytes -= old.size;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CLOCK: Freshness = Freshness {
        fresh_ms: 30,
        stale_ms: 60,
    };

    #[test]
    fn fresh_then_stale_for_one_refresher_then_gone() {
        let mut cache = MemoryCache::new(100, CLOCK);
        cache.put("a", 1, 10, 0, 0);
        assert_eq!(cache.get("a", 30), Lookup::Fresh(1));
        assert_eq!(
            cache.get("a", 31),
            Lookup::Stale {
                value: 1,
                refresh: true
            }
        );
        assert_eq!(
            cache.get("a", 40),
            Lookup::Stale {
                value: 1,
                refresh: false
            }
        );
        assert_eq!(cache.get("a", 91), Lookup::Miss);
        assert_eq!(cache.bytes(), 0);
        // A refreshed value starts a new period.
        cache.put("a", 2, 10, 40, 40);
        assert_eq!(
            cache.get("a", 71),
            Lookup::Stale {
                value: 2,
                refresh: true
            }
        );
    }

    #[test]
    fn the_oldest_make_room_and_oversized_values_are_not_kept() {
        let mut cache = MemoryCache::new(100, CLOCK);
        cache.put("old", 1, 60, 0, 0);
        cache.put("new", 2, 30, 5, 5);
        cache.put("big", 3, 50, 6, 6);
        assert_eq!(cache.get("old", 7), Lookup::Miss);
        assert_eq!(cache.get("new", 7), Lookup::Fresh(2));
        assert_eq!(cache.get("big", 7), Lookup::Fresh(3));
        cache.put("huge", 4, 101, 8, 8);
        assert_eq!(cache.get("huge", 8), Lookup::Miss);
        assert_eq!(cache.bytes(), 80);
    }

    #[test]
    fn a_claimed_miss_makes_others_wait_until_filled_released_or_expired() {
        let mut cache = MemoryCache::new(100, CLOCK);
        assert_eq!(cache.get("a", 0), Lookup::Miss);
        cache.claim_fill("a", 0, 20);
        assert_eq!(cache.get("a", 5), Lookup::Filling { until_ms: 20 });
        assert_eq!(cache.get("b", 5), Lookup::Miss);
        cache.put("a", 1, 10, 6, 6);
        assert_eq!(cache.get("a", 7), Lookup::Fresh(1));

        cache.claim_fill("b", 7, 20);
        cache.release_fill("b");
        assert_eq!(cache.get("b", 8), Lookup::Miss);

        cache.claim_fill("c", 8, 20);
        assert_eq!(cache.get("c", 20), Lookup::Miss);
        // An expired entry with a live claim is being refilled.
        cache.claim_fill("a", 100, 120);
        assert_eq!(cache.get("a", 101), Lookup::Filling { until_ms: 120 });
        // Claims that have run out are dropped by the next one ("c" by "a"'s, "a" by "d"'s).
        cache.claim_fill("e", 101, 300);
        assert_eq!(cache.filling.len(), 2);
        cache.claim_fill("d", 200, 220);
        let mut live: Vec<&String> = cache.filling.keys().collect();
        live.sort();
        assert_eq!(live, ["d", "e"]);
    }

    proptest! {
        #[test]
        fn never_over_budget_and_bytes_add_up(
            puts in prop::collection::vec((0u8..8, 0usize..70, 0u64..200), 1..60)
        ) {
            let mut cache = MemoryCache::new(100, CLOCK);
            let mut now = 0;
            for (key, size, step) in puts {
                now += step;
                cache.put(&key.to_string(), key, size, now, now);
                prop_assert!(cache.bytes() <= 100);
                let counted: usize = cache.entries.values().map(|e| e.size).sum();
                prop_assert_eq!(counted, cache.bytes());
            }
        }
    }
}
