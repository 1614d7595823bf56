//! Admission control: how many requests this isolate keeps in flight to each node.
//! The limit follows measured latency, as the gradient2 limiter of Netflix's
//! concurrency-limits does: while the recent latency stays within a tolerance of the
//! long-run latency, the limit grows; when it climbs past that (requests queue in
//! PostgREST's pool or in the database), the limit shrinks toward what the node serves
//! without queueing. Comparing two averages of the same traffic, rather than recent
//! latency with the fastest ever seen, keeps a mix of cheap reads and slow writes from
//! pinning the limit to its floor. What is over the limit waits in a queue bounded by
//! time, then is refused (a 503 with `Retry-After`, nothing sent); upstream sockets stay
//! bounded by the limit whatever the number of client connections.

use crate::region::RegionCode;

/// The limit never goes below this: a burst of a few dozen requests on a healthy node is
/// not overload, and a slow node still gets traffic, so its latency keeps being measured.
const MIN_LIMIT: f64 = 32.0;
const INITIAL_LIMIT: f64 = 64.0;
/// Recent latency may grow this much over the long-run latency before the limit shrinks.
const TOLERANCE: f64 = 1.5;
/// How much of each new estimate the limit takes.
const SMOOTHING: f64 = 0.2;
/// Samples the recent latency average spans.
const RECENT_SAMPLES: f64 = 10.0;
/// Samples the long-run latency average spans.
const LONG_RUN_SAMPLES: f64 = 600.0;
/// A request that found the node unreachable takes this share of the limit.
const BACKOFF: f64 = 0.9;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionSettings {
    /// The most requests in flight to one node, whatever the latency says.
    pub max_in_flight: u32,
    /// How long a request over the limit may wait for a slot.
    pub queue_ms: u32,
}

/// What a request arriving at a node is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Now,
    /// Queued: ask again ([`NodeLimit::retry`]) until admitted or out of time.
    Wait,
    /// No slot, and no time to wait for one.
    Refused,
}

/// How a request that held a slot ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// The node answered (any status) in this time, body included.
    Answered { latency_ms: f64 },
    /// Unreachable (refused, reset): the node is unwell, or worse.
    Dropped,
    /// Given up by the client before the end: says nothing about the node.
    Abandoned,
}

#[derive(Debug, Clone)]
pub struct NodeLimit {
    limit: f64,
    max: f64,
    in_flight: u32,
    waiting: u32,
    recent_latency: Option<f64>,
    long_run_latency: Option<f64>,
}

/// One step of an exponential moving average over about `samples` samples.
fn average(previous: Option<f64>, sample: f64, samples: f64) -> f64 {
    match previous {
        Some(previous) => previous + (sample - previous) * 2.0 / (samples + 1.0),
        None => sample,
    }
}

impl NodeLimit {
    pub fn new(max_in_flight: u32) -> Self {
        let max = f64::from(max_in_flight.max(1));
        NodeLimit {
            limit: INITIAL_LIMIT.min(max),
            max,
            in_flight: 0,
            waiting: 0,
            recent_latency: None,
            long_run_latency: None,
        }
    }

    /// The requests that may be in flight now.
    pub fn limit(&self) -> u32 {
        self.limit as u32
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    pub fn waiting(&self) -> u32 {
        self.waiting
    }

    fn has_slot(&self) -> bool {
        self.in_flight < self.limit()
    }

    /// How long a request joining the queue now would wait: each slot frees about once
    /// per recent latency. Unknown (no answer measured yet) counts as no wait. It sets
    /// how often a waiter looks for a slot.
    pub fn expected_wait_ms(&self) -> f64 {
        let ahead = f64::from(self.waiting + 1);
        self.recent_latency
            .map_or(0.0, |latency| ahead / self.limit.max(1.0) * latency)
    }

    /// A new request that may wait up to `may_wait_ms` for a slot. A free slot goes to
    /// whoever asks first, a newcomer included: queued requests only find out by polling
    /// (they cannot be woken from another request's context), and a slot left idle until
    /// they look is capacity lost. Under overload that also serves the newest first, the
    /// ones with the most time left, as adaptive LIFO does.
    ///
    /// The queue is bounded by time, not by an estimate of the wait: refusing on
    /// arrival whoever the estimate says will not make it was measured to collapse a
    /// closed loop of 1,000 connections into instant 503s (each answered at once, its
    /// client asks again at once, and the isolate spends itself on refusals).
    pub fn arrive(&mut self, may_wait_ms: f64) -> Admit {
        if self.has_slot() {
            self.in_flight += 1;
            Admit::Now
        } else if may_wait_ms > 0.0 {
            self.waiting += 1;
            Admit::Wait
        } else {
            Admit::Refused
        }
    }

    /// A queued request asks again: true when it now holds a slot.
    pub fn retry(&mut self) -> bool {
        if self.has_slot() {
            self.waiting = self.waiting.saturating_sub(1);
            self.in_flight += 1;
            true
        } else {
            false
        }
    }

    /// A queued request stops waiting without a slot.
    pub fn give_up(&mut self) {
        self.waiting = self.waiting.saturating_sub(1);
    }

    /// A request that held a slot is over; its latency moves the limit.
    pub fn release(&mut self, outcome: Outcome) {
        let in_flight = self.in_flight;
        self.in_flight = self.in_flight.saturating_sub(1);
        match outcome {
            Outcome::Answered { latency_ms } => self.learn(latency_ms.max(0.1), in_flight),
            Outcome::Dropped => self.limit = (self.limit * BACKOFF).max(self.min()),
            Outcome::Abandoned => {}
        }
    }

    fn min(&self) -> f64 {
        MIN_LIMIT.min(self.max)
    }

    fn learn(&mut self, latency_ms: f64, in_flight: u32) {
        let recent = average(self.recent_latency, latency_ms, RECENT_SAMPLES);
        let mut long_run = average(self.long_run_latency, latency_ms, LONG_RUN_SAMPLES);
        // After a long stretch of load the long-run average lags far behind; let it
        // come back down quickly once the node is fast again.
        if long_run / recent > 2.0 {
            long_run *= 0.95;
        }
        self.recent_latency = Some(recent);
        self.long_run_latency = Some(long_run);
        // A node asked for less than half its limit says nothing about a larger one.
        if f64::from(in_flight) < self.limit / 2.0 {
            return;
        }
        let gradient = (TOLERANCE * long_run / recent).clamp(0.5, 1.0);
        let estimate = self.limit * gradient + self.limit.sqrt();
        self.limit =
            (self.limit * (1.0 - SMOOTHING) + estimate * SMOOTHING).clamp(self.min(), self.max);
    }
}

/// Every node's limit in this isolate.
#[derive(Debug, Clone)]
pub struct Admission {
    settings: AdmissionSettings,
    nodes: Vec<(RegionCode, NodeLimit)>,
}

impl Admission {
    pub fn new(settings: AdmissionSettings) -> Self {
        Admission {
            settings,
            nodes: Vec::new(),
        }
    }

    pub fn settings(&self) -> AdmissionSettings {
        self.settings
    }

    pub fn node(&mut self, region: &RegionCode) -> &mut NodeLimit {
        let at = match self.nodes.iter().position(|(code, _)| code == region) {
            Some(at) => at,
            None => {
                let fresh = NodeLimit::new(self.settings.max_in_flight);
                self.nodes.push((region.clone(), fresh));
                self.nodes.len() - 1
            }
        };
        &mut self.nodes[at].1
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Keeps `limit` requests in flight for `rounds` rounds, each answered in
    /// `latency_ms(in flight)`.
    fn drive(node: &mut NodeLimit, rounds: usize, latency_ms: impl Fn(u32) -> f64) {
        for _ in 0..rounds {
            let admitted = (0..node.limit())
                .filter(|_| node.arrive(0.0) == Admit::Now)
                .count();
            let latency_ms = latency_ms(node.in_flight());
            for _ in 0..admitted {
                node.release(Outcome::Answered { latency_ms });
            }
        }
    }

    #[test]
    fn a_node_that_stays_fast_under_more_load_gets_a_higher_limit() {
        let mut node = NodeLimit::new(500);
        drive(&mut node, 200, |_| 5.0);
        assert!(node.limit() > 100, "limit {}", node.limit());
    }

    #[test]
    fn a_node_that_suddenly_slows_down_gets_a_lower_limit() {
        let mut node = NodeLimit::new(200);
        drive(&mut node, 100, |_| 5.0);
        assert_eq!(node.limit(), 200);
        // The database slows down tenfold: the limit drops while latency is news.
        let mut lowest = node.limit();
        for _ in 0..20 {
            drive(&mut node, 1, |_| 50.0);
            lowest = lowest.min(node.limit());
        }
        assert!(lowest < 50, "lowest limit {lowest}");
    }

    #[test]
    fn a_mix_of_cheap_reads_and_slow_writes_keeps_the_limit_off_its_floor() {
        // One request in five takes forty times as long, at every load.
        let mut node = NodeLimit::new(500);
        let mut served = 0u64;
        for _ in 0..2000 {
            let admitted = (0..node.limit())
                .filter(|_| node.arrive(0.0) == Admit::Now)
                .count();
            for _ in 0..admitted {
                served += 1;
                let latency_ms = if served.is_multiple_of(5) { 80.0 } else { 2.0 };
                node.release(Outcome::Answered { latency_ms });
            }
        }
        assert!(node.limit() > 100, "limit {}", node.limit());
    }

    #[test]
    fn unreachable_answers_shrink_the_limit_but_never_below_the_floor() {
        let mut node = NodeLimit::new(64);
        for _ in 0..100 {
            assert_eq!(node.arrive(0.0), Admit::Now);
            node.release(Outcome::Dropped);
        }
        assert_eq!(node.limit(), MIN_LIMIT as u32);
    }

    #[test]
    fn over_the_limit_a_request_waits_if_it_may_and_slots_go_to_whoever_asks() {
        let mut node = NodeLimit::new(2);
        assert_eq!(node.arrive(0.0), Admit::Now);
        assert_eq!(node.arrive(0.0), Admit::Now);
        assert_eq!(
            node.arrive(0.0),
            Admit::Refused,
            "no slot and no time to wait"
        );
        assert_eq!(node.arrive(5.0), Admit::Wait);
        assert_eq!(node.arrive(5.0), Admit::Wait);
        // Two slots, each freeing every 10 ms, two ahead: about 15 ms for the next.
        node.release(Outcome::Answered { latency_ms: 10.0 });
        assert_eq!(node.expected_wait_ms(), 15.0);
        assert_eq!(
            node.arrive(0.0),
            Admit::Now,
            "a free slot goes to whoever asks first"
        );
        assert!(!node.retry(), "so the queue still waits");
        node.release(Outcome::Abandoned);
        assert!(node.retry());
        node.give_up();
        assert_eq!((node.in_flight(), node.waiting()), (2, 0));
    }

    #[test]
    fn each_node_has_its_own_limit() {
        let mut admission = Admission::new(AdmissionSettings {
            max_in_flight: 1,
            queue_ms: 0,
        });
        let (iad1, fra1) = (
            RegionCode::parse("iad1").unwrap(),
            RegionCode::parse("fra1").unwrap(),
        );
        assert_eq!(admission.node(&iad1).arrive(0.0), Admit::Now);
        assert_eq!(admission.node(&iad1).arrive(0.0), Admit::Refused);
        assert_eq!(admission.node(&fra1).arrive(0.0), Admit::Now);
    }

    proptest! {
        #[test]
        fn the_limit_stays_within_its_bounds_and_counts_balance(
            max in 1u32..300,
            steps in prop::collection::vec((0u8..5, 0.0f64..5000.0), 1..400),
        ) {
            let mut node = NodeLimit::new(max);
            let (mut holding, mut queued) = (0u32, 0u32);
            for (step, latency_ms) in steps {
                match step {
                    0 | 1 => match node.arrive(latency_ms) {
                        Admit::Now => holding += 1,
                        Admit::Wait => queued += 1,
                        Admit::Refused => {}
                    },
                    2 if queued > 0 && node.retry() => {
                        queued -= 1;
                        holding += 1;
                    }
                    3 if holding > 0 => {
                        holding -= 1;
                        node.release(Outcome::Answered { latency_ms });
                    }
                    4 if holding > 0 => {
                        holding -= 1;
                        node.release(Outcome::Dropped);
                    }
                    _ => {}
                }
                prop_assert!(node.limit() >= 1 && node.limit() <= max);
                prop_assert_eq!(node.in_flight(), holding);
                prop_assert_eq!(node.waiting(), queued);
            }
        }
    }
}
