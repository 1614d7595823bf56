//! An isolate's own memory in front of the Workers Cache API, for anonymous catalogue
//! reads: a hit there costs neither an upstream call nor a cache lookup. Entries follow
//! the same clock as the Cache API (fresh, then served stale while one caller
//! refreshes), and the whole cache is bounded in bytes.

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
    bytes: usize,
    budget_bytes: usize,
    freshness: Freshness,
}

impl<T: Clone> MemoryCache<T> {
    pub fn new(budget_bytes: usize, freshness: Freshness) -> Self {
        MemoryCache {
            entries: HashMap::new(),
            bytes: 0,
            budget_bytes,
            freshness,
        }
    }

    pub fn get(&mut self, key: &str, now_ms: u64) -> Lookup<T> {
        let Some(entry) = self.entries.get_mut(key) else {
            return Lookup::Miss;
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
        Lookup::Miss
    }

    /// Stores `value` (of `size` bytes) computed at `computed_at_ms`, evicting expired
    /// entries, then the oldest, until it fits; a value over the whole budget is not kept.
    pub fn put(&mut self, key: &str, value: T, size: usize, computed_at_ms: u64, now_ms: u64) {
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
