//! When each chunk a relay has read reaches the far end of a long link: serialised at the
//! link's bandwidth, then carried for its one-way delay give or take its jitter, and
//! never before the chunk ahead of it (a TCP byte stream does not reorder).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What one direction of a link does to the bytes it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Shape {
    /// One-way delay: half the round trip the link adds when both directions have it.
    #[serde(with = "humantime_serde")]
    pub delay: Duration,
    /// Each chunk's delay varies uniformly within plus or minus this.
    #[serde(with = "humantime_serde")]
    pub jitter: Duration,
    /// What the link carries per second; `None` for no cap.
    pub bytes_per_sec: Option<u64>,
}

/// One direction of one connection. Times are offsets from the connection's start.
#[derive(Debug, Default)]
pub struct Pacer {
    /// When the link has finished serialising everything it was given.
    busy_until: Duration,
    /// When the previous chunk arrives.
    last_arrival: Duration,
}

impl Pacer {
    /// When `len` bytes read at `read_at` arrive, under `shape`; `spread` (in -1..=1)
    /// places this chunk within the jitter.
    pub fn arrival(
        &mut self,
        shape: &Shape,
        read_at: Duration,
        len: usize,
        spread: f64,
    ) -> Duration {
        let start = read_at.max(self.busy_until);
        let sending = shape.bytes_per_sec.map_or(Duration::ZERO, |rate| {
            Duration::from_secs_f64(len as f64 / rate.max(1) as f64)
        });
        self.busy_until = start + sending;
        let jitter = shape.jitter.as_secs_f64() * spread.clamp(-1.0, 1.0);
        let carried = Duration::from_secs_f64((shape.delay.as_secs_f64() + jitter).max(0.0));
        self.last_arrival = (self.busy_until + carried).max(self.last_arrival);
        self.last_arrival
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_chunk_arrives_one_delay_after_it_was_read() {
        let shape = Shape {
            delay: 40 * MS,
            ..Shape::default()
        };
        let mut pacer = Pacer::default();
        assert_eq!(pacer.arrival(&shape, 5 * MS, 100, 0.0), 45 * MS);
        assert_eq!(pacer.arrival(&shape, 6 * MS, 100, 0.0), 46 * MS);
        // No shape: through as read.
        assert_eq!(
            Pacer::default().arrival(&Shape::default(), 7 * MS, 100, 1.0),
            7 * MS
        );
    }

    #[test]
    fn the_bandwidth_cap_queues_chunks_behind_each_other() {
        let shape = Shape {
            delay: 10 * MS,
            bytes_per_sec: Some(1_000_000),
            ..Shape::default()
        };
        let mut pacer = Pacer::default();
        // 50 kB take 50 ms to send at 1 MB/s; the second waits for the first.
        assert_eq!(pacer.arrival(&shape, Duration::ZERO, 50_000, 0.0), 60 * MS);
        assert_eq!(pacer.arrival(&shape, Duration::ZERO, 50_000, 0.0), 110 * MS);
        // An idle link starts sending at once.
        assert_eq!(pacer.arrival(&shape, 500 * MS, 1_000, 0.0), 511 * MS);
    }

    #[test]
    fn jitter_moves_a_chunk_within_its_bounds_but_never_below_zero() {
        let shape = Shape {
            delay: 10 * MS,
            jitter: 20 * MS,
            ..Shape::default()
        };
        assert_eq!(Pacer::default().arrival(&shape, 100 * MS, 1, 1.0), 130 * MS);
        assert_eq!(
            Pacer::default().arrival(&shape, 100 * MS, 1, -1.0),
            100 * MS
        );
        assert_eq!(
            Pacer::default().arrival(&shape, 100 * MS, 1, -0.25),
            105 * MS
        );
    }

    proptest! {
        #[test]
        fn chunks_arrive_in_order_and_never_early(
            delay_ms in 0u64..200,
            jitter_ms in 0u64..100,
            rate in prop::option::of(1_000u64..10_000_000),
            chunks in prop::collection::vec((0u64..50, 1usize..70_000, -1.0f64..=1.0), 1..40),
        ) {
            let shape = Shape {
                delay: Duration::from_millis(delay_ms),
                jitter: Duration::from_millis(jitter_ms),
                bytes_per_sec: rate,
            };
            let mut pacer = Pacer::default();
            let (mut read_at, mut last) = (Duration::ZERO, Duration::ZERO);
            for (gap, len, spread) in chunks {
                read_at += Duration::from_millis(gap);
                let at = pacer.arrival(&shape, read_at, len, spread);
                prop_assert!(at >= last);
                let least = Duration::from_millis(delay_ms.saturating_sub(jitter_ms));
                prop_assert!(at + Duration::from_micros(1) >= read_at + least);
                last = at;
            }
        }
    }
}
