//! `cargo xtask seed --orders N`: bulk orders for benchmarks, set-based, in batches
//! with progress; the demo seed uses the same generator for its order history.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use anyhow::bail;

use crate::pg::Pg;
use crate::topology::{DATABASE, Node};
use crate::ui;

const GENERATE_ORDERS_SQL: &str = include_str!("../sql/generate_orders.sql");
pub const DEFAULT_BATCH: u64 = 200_000;
/// Order history the demo seed gets on a fresh stack.
pub const DEMO_ORDERS: u64 = 600;

/// What a batch writes besides orders and their items.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras {
    /// Each settled order's payment and transaction log, and the storefront's analytics
    /// events around each order.
    pub activity: bool,
    /// The orders also into `bench.orders_flat`, an unpartitioned copy (which must exist).
    pub flat_copy: bool,
}

/// Inserts `total` orders (with 1 to 3 items each) in batches of `batch`, run over
/// `connections` connections side by side.
pub fn generate_orders(
    pg: &Pg,
    primary: &Node,
    total: u64,
    batch: u64,
    connections: usize,
    progress: bool,
    extras: Extras,
) -> anyhow::Result<()> {
    if batch == 0 {
        bail!("--batch must be at least 1");
    }
    let catalogs = pg.sql(
        primary,
        "select count(distinct (store_id, currency)) from public.products where published",
    )?;
    if catalogs == "0" {
        bail!(
            "there are no published products to order; the demo seed (migrations/seed.sql) is missing"
        );
    }
    let started = Instant::now();
    let (claimed, done, failed) = (AtomicU64::new(0), AtomicU64::new(0), AtomicBool::new(false));
    let work = || -> anyhow::Result<()> {
        while !failed.load(Ordering::Relaxed) {
            let from = claimed.fetch_add(batch, Ordering::Relaxed);
            if from >= total {
                break;
            }
            let size = batch.min(total - from);
            let result = pg.run_script(
                primary,
                DATABASE,
                GENERATE_ORDERS_SQL,
                &[
                    ("batch", size.to_string()),
                    ("activity", extras.activity.to_string()),
                    ("flat_copy", extras.flat_copy.to_string()),
                ],
            );
            if result.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            result?;
            let done = done.fetch_add(size, Ordering::Relaxed) + size;
            if progress {
                let secs = started.elapsed().as_secs_f64().max(0.001);
                ui::detail(&format!(
                    "{done} / {total} orders ({}, {:.0} orders/s)",
                    ui::elapsed(started),
                    done as f64 / secs
                ));
            }
        }
        Ok(())
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..connections.max(1)).map(|_| scope.spawn(work)).collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("a generator thread panicked"))
    })?;
    pg.sql(primary, "analyze public.orders; analyze public.order_items")?;
    Ok(())
}
