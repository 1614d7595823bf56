use payhuk_stack_tests::stack;

const SCRATCH_DB: &str = "payhuk_legacy_check";
/// The last migration before orders are partitioned ("Payhuk today").
const BEFORE_PARTITIONING: &str = "20261125090300";

/// Orders over 14 months in the unpartitioned table, with 1 to 3 items each.
const POPULATE_LEGACY: &str = "
insert into public.profiles (id, email) values
  ('aaaaaaaa-0000-4000-8000-000000000001', 'merchant@legacy.test'),
  ('aaaaaaaa-0000-4000-8000-000000000002', 'customer@legacy.test');
insert into public.stores (id, owner_id, name, slug) values
  ('bbbbbbbb-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000001', 'Legacy', 'legacy');
insert into public.products (id, store_id, kind, name, price_minor, currency, published) values
  ('cccccccc-0000-4000-8000-000000000001', 'bbbbbbbb-0000-4000-8000-000000000001', 'digital', 'Old ebook', 700, 'XOF', true);
insert into public.orders (id, store_id, customer_id, status, currency, subtotal_minor, shipping_minor, total_minor, created_at)
select md5('order' || g)::uuid, 'bbbbbbbb-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000002',
       'fulfilled', 'XOF', 700 * (1 + g % 3), 0, 700 * (1 + g % 3),
       now() - (g % 425) * interval '1 day' - (g % 24) * interval '1 hour'
from generate_series(1, 5000) g;
insert into public.order_items (order_id, product_id, quantity, unit_price_minor, line_total_minor)
select id, 'cccccccc-0000-4000-8000-000000000001', total_minor / 700, 700, total_minor from public.orders;
";

const SUMMARY: &str = "select count(*) || ' ' || sum(total_minor) || ' ' || \
     (select count(*) || ' ' || sum(line_total_minor) from public.order_items) from public.orders";

#[test]
fn a_populated_unpartitioned_orders_table_is_partitioned_without_losing_a_row() {
    let stack = stack();
    stack
        .sql(
            "iad1",
            &format!("drop database if exists {SCRATCH_DB} with (force)"),
        )
        .unwrap();
    stack
        .sql("iad1", &format!("create database {SCRATCH_DB}"))
        .unwrap();

    stack
        .migrate_database(SCRATCH_DB, Some(BEFORE_PARTITIONING))
        .unwrap();
    let kind = stack
        .sql_in(
            "iad1",
            SCRATCH_DB,
            "select relkind from pg_class where oid = 'public.orders'::regclass",
        )
        .unwrap();
    assert_eq!(kind, "r", "before: a plain table");
    stack.sql_in("iad1", SCRATCH_DB, POPULATE_LEGACY).unwrap();
    let before = stack.sql_in("iad1", SCRATCH_DB, SUMMARY).unwrap();
    assert!(before.starts_with("5000 "), "{before}");

    let applied = stack.migrate_database(SCRATCH_DB, None).unwrap();
    assert!(
        applied > 1,
        "the partitioning migration and those after it ran"
    );

    let sql = |q: &str| stack.sql_in("iad1", SCRATCH_DB, q).unwrap();
    assert_eq!(
        sql("select relkind from pg_class where oid = 'public.orders'::regclass"),
        "p"
    );
    assert_eq!(
        sql(SUMMARY),
        before,
        "same rows and totals, orders and items"
    );
    assert_eq!(
        sql("select count(*) from payhuk_partitions.orders_default"),
        "0",
        "every old order has a monthly partition"
    );
    let months = sql(
        "select count(distinct date_trunc('month', created_at at time zone 'UTC')) \
         || ' ' || count(distinct tableoid) from public.orders",
    );
    let (data_months, partitions) = months.split_once(' ').unwrap();
    assert_eq!(data_months, partitions, "one partition per month of data");
    assert_eq!(
        sql("select count(*) from public.order_items i \
             where not exists (select from public.orders o where o.id = i.order_id and o.created_at = i.order_created_at)"),
        "0",
        "every item points at its order's (id, created_at)"
    );
    assert_eq!(
        sql("select to_regclass('public.orders_unpartitioned') is null"),
        "t",
        "the old table is gone"
    );

    stack
        .sql("iad1", &format!("drop database {SCRATCH_DB} with (force)"))
        .unwrap();
}
