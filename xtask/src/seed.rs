//! `cargo xtask seed --orders N`: bulk orders for benchmarks, set-based, in batches
//! with progress; the demo seed uses the same generator for its order history.

use std::time::Instant;

use anyhow::bail;

use crate::pg::Pg;
use crate::topology::{DATABASE, Node};
use crate::ui;

const GENERATE_ORDERS_SQL: &str = include_str!("../sql/generate_orders.sql");
pub const DEFAULT_BATCH: u64 = 200_000;
/// Order history the demo seed gets on a fresh stack.
pub const DEMO_ORDERS: u64 = 600;

/// Inserts `total` orders (with 1 to 3 items each) in batches of `batch`.
pub fn generate_orders(
    pg: &Pg,
    primary: &Node,
    total: u64,
    batch: u64,
    progress: bool,
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
    let mut done = 0;
    while done < total {
        let size = batch.min(total - done);
        pg.run_script(
            primary,
            DATABASE,
            GENERATE_ORDERS_SQL,
            &[("batch", size.to_string())],
        )?;
        done += size;
        if progress {
            let secs = started.elapsed().as_secs_f64().max(0.001);
            ui::detail(&format!(
                "{done} / {total} orders ({}, {:.0} orders/s)",
                ui::elapsed(started),
                done as f64 / secs
            ));
        }
    }
    pg.sql(primary, "analyze public.orders; analyze public.order_items")?;
    Ok(())
}
