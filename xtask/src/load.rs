//! Threads sending requests through the gateway until stopped, each request timed:
//! the load of the drills and the soak.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle, sleep};
use std::time::{Duration, Instant};

/// One request a load thread made: when it started, how long it took, whether it
/// succeeded, and for writes the sequence number acknowledged.
#[derive(Debug, Clone)]
pub struct Sample {
    pub started: Instant,
    pub took: Duration,
    pub ok: bool,
    pub acked_seq: Option<u64>,
}

/// Threads sending requests through the gateway until stopped.
pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Vec<Sample>>>,
}

impl Load {
    pub fn start(
        threads: usize,
        request: impl Fn(u64) -> (bool, Option<u64>) + Send + Sync + 'static,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let seq = Arc::new(AtomicU64::new(0));
        let request = Arc::new(request);
        let threads = (0..threads)
            .map(|_| {
                let (stop, seq, request) = (stop.clone(), seq.clone(), request.clone());
                thread::spawn(move || {
                    let mut samples = Vec::new();
                    while !stop.load(Ordering::SeqCst) {
                        let n = seq.fetch_add(1, Ordering::SeqCst);
                        let started = Instant::now();
                        let (ok, acked_seq) = request(n);
                        samples.push(Sample {
                            started,
                            took: started.elapsed(),
                            ok,
                            acked_seq,
                        });
                        if !ok {
                            sleep(Duration::from_millis(20));
                        }
                    }
                    samples
                })
            })
            .collect();
        Load { stop, threads }
    }

    pub fn finish(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::SeqCst);
        let mut all: Vec<Sample> = self
            .threads
            .into_iter()
            .flat_map(|t| t.join().unwrap_or_default())
            .collect();
        all.sort_by_key(|s| s.started);
        all
    }
}

pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .redirects(0)
        .build()
}
