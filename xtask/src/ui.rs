//! Progress output: one header per step, indented detail lines, timings on long steps.

use std::time::Instant;

pub fn header(title: &str) {
    println!("==> {title}");
}

pub fn detail(line: &str) {
    println!("    {line}");
}

/// Runs `work`, printing what it is doing first and how long it took after.
pub fn step<T>(what: &str, work: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    println!("    {what} ...");
    let started = Instant::now();
    let result = work();
    if result.is_ok() {
        println!("    {what}: done in {}", elapsed(started));
    }
    result
}

pub fn elapsed(since: Instant) -> String {
    let secs = since.elapsed().as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}m{:02}s", (secs / 60.0) as u64, (secs % 60.0) as u64)
    }
}
