//! Admission control: how many requests this isolate keeps in flight to each node.
//! The limit follows measured latency, as the gradient2 limiter of Netflix's
//! concurrency-limits does: while the recent latency stays within a tolerance of the
//! long-run latency, the limit grows; when it climbs past that (requests queue in
//! PostgREST's pool or in the database), the limit shrinks toward what the node serves
//! without queueing. Comparing two averages of the same traffic, rather than recent
//! latency with the fastest ever seen, keeps a mix of cheap reads and slow writes from
//! pinning the limit to its floor. What is over the limit waits in line, served in order
//! and bounded by time, then is refused (a 503 with `Retry-After`, nothing sent);
//! upstream sockets stay bounded by the limit whatever the number of client connections.

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

/// The rate at which places leave the line is measured over windows this long.
const DEPARTURE_WINDOW_MS: u64 = 50;
/// Windows the departure rate's average spans.
const DEPARTURE_SAMPLES: f64 = 5.0;

/// A queued request's place, unique in the isolate.
pub type Ticket = u64;

/// A slot handed to a queued request that has not taken it this long after its own
/// deadline belongs to a request that is gone (its client hung up, its context was
/// cancelled before it could wake): the slot is taken back.
const UNCLAIMED_GRACE_MS: u64 = 1_000;

/// What a request arriving at a node is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Now,
    /// Queued: a slot will be handed to this ticket unless the request gives up first;
    /// it takes it with [`NodeLimit::claim`].
    Wait(Ticket),
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

/// A queued or handed-over place: whose, and until when it counts.
#[derive(Debug, Clone, Copy)]
struct Place {
    ticket: Ticket,
    until_ms: u64,
}

#[derive(Debug, Clone)]
pub struct NodeLimit {
    limit: f64,
    max: f64,
    /// Slots taken, handed-over ones not yet claimed included.
    in_flight: u32,
    /// First come, first served; sorted by ticket.
    queue: std::collections::VecDeque<Place>,
    /// Slots handed to queued requests that have not claimed them yet.
    handed: Vec<Place>,
    departures: Departures,
    recent_latency: Option<f64>,
    long_run_latency: Option<f64>,
}

/// How fast places leave a line: counted per window, averaged over windows.
#[derive(Debug, Clone, Default)]
struct Departures {
    window_start_ms: u64,
    in_window: u32,
    per_ms: Option<f64>,
}

impl Departures {
    fn record(&mut self, now_ms: u64) {
        self.in_window += 1;
        let span = now_ms.saturating_sub(self.window_start_ms);
        if span < DEPARTURE_WINDOW_MS {
            return;
        }
        // After a quiet spell the window says how quiet it was, not how fast a line
        // moves: start a new one.
        if span <= 20 * DEPARTURE_WINDOW_MS {
            let rate = f64::from(self.in_window) / span as f64;
            self.per_ms = Some(average(self.per_ms, rate, DEPARTURE_SAMPLES));
        }
        self.window_start_ms = now_ms;
        self.in_window = 0;
    }
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
            queue: Default::default(),
            handed: Vec::new(),
            departures: Departures::default(),
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
        self.queue.len() as u32
    }

    fn has_slot(&self) -> bool {
        self.in_flight < self.limit()
    }

    /// A new request that may wait up to `may_wait_ms` for a slot. The queue is served
    /// in order: each freed slot is handed to the next in line, which takes it when it
    /// next looks ([`NodeLimit::claim`]), and nobody overtakes the queue.
    ///
    /// The queue is bounded by time, not by an estimate of the wait: refusing on
    /// arrival whoever the estimate says will not make it was measured to collapse a
    /// closed loop of 1,000 connections into instant 503s (each answered at once, its
    /// client asks again at once, and the isolate spends itself on refusals).
    fn arrive(&mut self, ticket: Ticket, now_ms: u64, may_wait_ms: u64) -> Admit {
        self.hand_over(now_ms);
        if self.queue.is_empty() && self.has_slot() {
            self.in_flight += 1;
            Admit::Now
        } else if may_wait_ms > 0 {
            self.queue.push_back(Place {
                ticket,
                until_ms: now_ms + may_wait_ms,
            });
            Admit::Wait(ticket)
        } else {
            Admit::Refused
        }
    }

    /// How long `ticket`'s request can expect to wait still: its place in line over
    /// the rate places leave it (handed a slot, or given up when out of time: under
    /// overload the front mostly runs out of time, and the line moves much faster than
    /// slots free). Before any rate is measured, each slot frees about once per recent
    /// latency. Zero once handed a slot, or with nothing measured yet.
    pub fn expected_wait_ms(&self, ticket: Ticket) -> f64 {
        let Some(ahead) = self.place(ticket) else {
            return 0.0;
        };
        let places = (ahead + 1) as f64;
        match (self.departures.per_ms, self.recent_latency) {
            (Some(rate), _) if rate > 0.0 => places / rate,
            (_, Some(latency)) => places / self.limit.max(1.0) * latency,
            _ => 0.0,
        }
    }

    /// Where `ticket` is in line. Tickets are handed out in increasing order and join at
    /// the back, so the line is sorted by ticket: a search, not a scan, which with
    /// thousands queued and each polling was most of the isolate's CPU.
    fn place(&self, ticket: Ticket) -> Option<usize> {
        self.queue.binary_search_by_key(&ticket, |p| p.ticket).ok()
    }

    /// A queued request takes the slot handed to it: false when it has none (it was
    /// taken back, or never handed).
    pub fn claim(&mut self, ticket: Ticket) -> bool {
        match self.handed.iter().position(|p| p.ticket == ticket) {
            Some(at) => {
                self.handed.swap_remove(at);
                true
            }
            None => false,
        }
    }

    /// A queued request stops waiting without taking a slot; one handed to it already
    /// goes to the next in line.
    pub fn give_up(&mut self, ticket: Ticket, now_ms: u64) {
        if let Some(at) = self.place(ticket) {
            self.queue.remove(at);
            self.departures.record(now_ms);
        } else if self.claim(ticket) {
            self.in_flight = self.in_flight.saturating_sub(1);
            self.hand_over(now_ms);
        }
    }

    /// A request that held a slot is over; its latency moves the limit, and the slot
    /// goes to the next in line.
    pub fn release(&mut self, outcome: Outcome, now_ms: u64) {
        let in_flight = self.in_flight;
        self.in_flight = self.in_flight.saturating_sub(1);
        match outcome {
            Outcome::Answered { latency_ms } => self.learn(latency_ms.max(0.1), in_flight),
            Outcome::Dropped => self.limit = (self.limit * BACKOFF).max(self.min()),
            Outcome::Abandoned => {}
        }
        self.hand_over(now_ms);
    }

    /// Takes back slots nobody came for, drops places whose time is up (their requests
    /// give up on their own, or are gone), and hands free slots to the queue in order.
    fn hand_over(&mut self, now_ms: u64) {
        let before = self.handed.len();
        self.handed
            .retain(|p| now_ms <= p.until_ms.saturating_add(UNCLAIMED_GRACE_MS));
        self.in_flight = self
            .in_flight
            .saturating_sub((before - self.handed.len()) as u32);
        while self.has_slot() {
            let Some(place) = self.queue.pop_front() else {
                break;
            };
            self.departures.record(now_ms);
            if place.until_ms <= now_ms {
                continue;
            }
            self.in_flight += 1;
            self.handed.push(place);
        }
    }

    #[cfg(test)]
    fn handed(&self) -> Vec<Ticket> {
        self.handed.iter().map(|p| p.ticket).collect()
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
    next_ticket: Ticket,
}

impl Admission {
    pub fn new(settings: AdmissionSettings) -> Self {
        Admission {
            settings,
            nodes: Vec::new(),
            next_ticket: 0,
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

    /// A request for a slot at `region`'s node, which may wait up to `may_wait_ms`.
    pub fn arrive(&mut self, region: &RegionCode, now_ms: u64, may_wait_ms: u64) -> Admit {
        self.next_ticket += 1;
        let ticket = self.next_ticket;
        self.node(region).arrive(ticket, now_ms, may_wait_ms)
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
                .filter(|_| node.arrive(0, 0, 0) == Admit::Now)
                .count();
            let latency_ms = latency_ms(node.in_flight());
            for _ in 0..admitted {
                node.release(Outcome::Answered { latency_ms }, 0);
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
                .filter(|_| node.arrive(0, 0, 0) == Admit::Now)
                .count();
            for _ in 0..admitted {
                served += 1;
                let latency_ms = if served.is_multiple_of(5) { 80.0 } else { 2.0 };
                node.release(Outcome::Answered { latency_ms }, 0);
            }
        }
        assert!(node.limit() > 100, "limit {}", node.limit());
    }

    #[test]
    fn unreachable_answers_shrink_the_limit_but_never_below_the_floor() {
        let mut node = NodeLimit::new(64);
        for _ in 0..100 {
            assert_eq!(node.arrive(0, 0, 0), Admit::Now);
            node.release(Outcome::Dropped, 0);
        }
        assert_eq!(node.limit(), MIN_LIMIT as u32);
    }

    #[test]
    fn over_the_limit_requests_queue_in_order_and_freed_slots_are_handed_to_them() {
        let mut a = Admission::new(AdmissionSettings {
            max_in_flight: 2,
            queue_ms: 0,
        });
        let iad1 = RegionCode::parse("iad1").unwrap();
        assert_eq!(a.arrive(&iad1, 0, 0), Admit::Now);
        assert_eq!(a.arrive(&iad1, 0, 0), Admit::Now);
        assert_eq!(a.arrive(&iad1, 0, 0), Admit::Refused, "no slot, no time");
        let Admit::Wait(first) = a.arrive(&iad1, 0, 50) else {
            panic!("may wait")
        };
        let Admit::Wait(second) = a.arrive(&iad1, 0, 50) else {
            panic!("may wait")
        };
        assert!(a.node(&iad1).handed().is_empty());
        // Two slots, each freeing every 10 ms: the second in line expects 10 ms.
        a.node(&iad1)
            .release(Outcome::Answered { latency_ms: 10.0 }, 10);
        assert_eq!(
            a.node(&iad1).handed(),
            vec![first],
            "the first in line is handed the slot"
        );
        assert_eq!(a.node(&iad1).expected_wait_ms(second), 5.0);
        assert_eq!(a.node(&iad1).expected_wait_ms(first), 0.0);
        assert!(
            matches!(a.arrive(&iad1, 10, 50), Admit::Wait(_)),
            "a newcomer does not overtake the queue"
        );
        assert!(!a.node(&iad1).claim(second), "not handed anything yet");
        assert!(a.node(&iad1).claim(first));
        assert!(!a.node(&iad1).claim(first), "a slot is claimed once");
        // Giving up a place hands nothing; giving up a handed slot passes it on.
        a.node(&iad1).give_up(second, 20);
        a.node(&iad1).release(Outcome::Abandoned, 20);
        let third = a.node(&iad1).handed();
        assert_eq!(third.len(), 1);
        a.node(&iad1).give_up(third[0], 20);
        assert!(a.node(&iad1).handed().is_empty(), "nobody left in line");
        let node = a.node(&iad1);
        assert_eq!((node.in_flight(), node.waiting()), (1, 0));
    }

    #[test]
    fn a_line_whose_front_runs_out_of_time_moves_faster_than_slots_free() {
        let mut node = NodeLimit::new(1);
        assert_eq!(node.arrive(1, 0, 0), Admit::Now);
        node.release(Outcome::Answered { latency_ms: 100.0 }, 0);
        assert_eq!(node.arrive(2, 0, 0), Admit::Now);
        // Twenty places, each with 10 ms more than the one before it.
        for n in 0..20u64 {
            assert_eq!(node.arrive(10 + n, 0, 10 * (n + 1)), Admit::Wait(10 + n));
        }
        // One slot at 100 ms a request: the last in line is told about two seconds.
        assert_eq!(node.expected_wait_ms(29), 2_000.0);
        // Its time up, the front leaves one place every 10 ms, each giving up.
        for n in 0..10u64 {
            node.give_up(10 + n, 10 * (n + 1));
        }
        let told = node.expected_wait_ms(29);
        assert!(told <= 150.0, "ten ahead at one per 10 ms, told {told} ms");
    }

    #[test]
    fn places_past_their_time_are_skipped_and_unclaimed_slots_taken_back() {
        let mut node = NodeLimit::new(1);
        assert_eq!(node.arrive(1, 0, 0), Admit::Now);
        assert_eq!(node.arrive(2, 0, 10), Admit::Wait(2));
        assert_eq!(node.arrive(3, 0, 100), Admit::Wait(3));
        // Ticket 2's time is up by the time the slot frees: it goes to 3.
        node.release(Outcome::Abandoned, 50);
        assert_eq!(node.handed(), vec![3]);
        // Ticket 3's request never wakes (its context is gone): the slot comes back.
        assert_eq!(node.arrive(4, 60, 0), Admit::Refused);
        assert_eq!(node.arrive(5, 100 + UNCLAIMED_GRACE_MS + 1, 0), Admit::Now);
        assert!(!node.claim(3));
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
        assert_eq!(admission.arrive(&iad1, 0, 0), Admit::Now);
        assert_eq!(admission.arrive(&iad1, 0, 0), Admit::Refused);
        assert_eq!(admission.arrive(&fra1, 0, 0), Admit::Now);
    }

    proptest! {
        #[test]
        fn the_limit_stays_within_its_bounds_and_counts_balance(
            max in 1u32..300,
            steps in prop::collection::vec((0u8..6, 0.0f64..5000.0), 1..400),
        ) {
            // Time stands still, so no place expires: every slot is accounted for.
            let mut node = NodeLimit::new(max);
            let (mut holding, mut queued, mut handed) = (0u32, Vec::new(), Vec::new());
            for (n, (step, latency_ms)) in steps.into_iter().enumerate() {
                let ticket = n as Ticket;
                match step {
                    0 | 1 => match node.arrive(ticket, 0, latency_ms as u64) {
                        Admit::Now => holding += 1,
                        Admit::Wait(t) => queued.push(t),
                        Admit::Refused => {}
                    },
                    2 if !handed.is_empty() => {
                        let t = handed.remove(0);
                        prop_assert!(node.claim(t));
                        holding += 1;
                    }
                    3 if holding > 0 => {
                        holding -= 1;
                        node.release(Outcome::Answered { latency_ms }, 0);
                    }
                    4 if holding > 0 => {
                        holding -= 1;
                        node.release(Outcome::Dropped, 0);
                    }
                    5 if !queued.is_empty() => {
                        let t = queued.remove(0);
                        node.give_up(t, 0);
                    }
                    _ => {}
                }
                for t in node.handed() {
                    if let Some(at) = queued.iter().position(|q| *q == t) {
                        queued.remove(at);
                        handed.push(t);
                    }
                }
                prop_assert_eq!(node.handed().len(), handed.len(), "only queued tickets are handed slots");
                prop_assert!(node.limit() >= 1 && node.limit() <= max);
                prop_assert_eq!(node.in_flight(), holding + handed.len() as u32);
                prop_assert_eq!(node.waiting(), queued.len() as u32);
                prop_assert!(queued.is_empty() || !node.has_slot(), "no slot idles while someone waits");
            }
        }
    }
}
