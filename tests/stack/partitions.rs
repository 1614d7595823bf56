use payhuk_stack_tests::{concurrently, partitions_scanned, postgrest_rpc, stack, utc_month};
use xtask::topology;

#[test]
fn concurrent_maintenance_calls_create_a_missing_partition_once() {
    let stack = stack();
    // Take away next-but-two month's (empty) analytics partition, then race two runs.
    let missing = stack
        .sql(
            "iad1",
            "select 'payhuk_partitions.analytics_events_p' || \
             to_char(date_trunc('month', now() at time zone 'UTC') + interval '3 months', 'YYYY_MM')",
        )
        .unwrap();
    stack.sql("iad1", &format!("drop table {missing}")).unwrap();

    let service = topology::service_role_key();
    let runs = concurrently(2, move |_| {
        postgrest_rpc("iad1", "maintain_partitions", &service, "{}")
    });
    let mut creations = 0;
    for run in &runs {
        assert_eq!(run.status, 200, "{}", run.body);
        for table in run.json()["tables"].as_array().unwrap() {
            for created in table["created"].as_array().unwrap() {
                assert_eq!(
                    created["partition"],
                    missing.as_str(),
                    "only the missing one: {created}"
                );
                creations += 1;
            }
        }
    }
    assert_eq!(
        creations, 1,
        "one run created it, the other found it done: {runs:#?}"
    );
    let exists = stack
        .sql(
            "iad1",
            &format!("select to_regclass('{missing}') is not null"),
        )
        .unwrap();
    assert_eq!(exists, "t");
}

#[test]
fn maintenance_is_for_the_service_role_only() {
    let _stack = stack();
    let reply = postgrest_rpc("iad1", "maintain_partitions", &topology::anon_key(), "{}");
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert_eq!(reply.json()["code"], "42501");
}

#[test]
fn seed_adds_exactly_the_orders_asked_and_pruning_still_holds() {
    let stack = stack();
    let count = || {
        stack
            .sql("iad1", "select count(*) from public.orders")
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let before = count();
    stack.seed(3000, 1000).unwrap();
    assert_eq!(count(), before + 3000);
    let in_default = stack
        .sql(
            "iad1",
            "select count(*) from payhuk_partitions.orders_default",
        )
        .unwrap();
    assert_eq!(
        in_default, "0",
        "generated history lands in monthly partitions"
    );

    let (from, to, suffix) = utc_month(&stack, -6);
    let scanned = partitions_scanned(
        &stack,
        "iad1",
        &format!(
            "select sum(total_minor) from public.orders where created_at >= '{from} 00:00+00' and created_at < '{to} 00:00+00'"
        ),
    );
    assert_eq!(scanned, [format!("orders_p{suffix}")]);
}

#[test]
fn the_cron_trigger_runs_partition_maintenance() {
    let stack = stack();
    let missing = stack
        .sql(
            "iad1",
            "select 'payhuk_partitions.transaction_logs_p' || \
             to_char(date_trunc('month', now() at time zone 'UTC') + interval '3 months', 'YYYY_MM')",
        )
        .unwrap();
    stack.sql("iad1", &format!("drop table {missing}")).unwrap();
    // Local dev's stand-in for Cloudflare's scheduler: runs the worker's scheduled handler.
    let reply = payhuk_stack_tests::request(
        "GET",
        &format!(
            "{}/cdn-cgi/handler/scheduled?cron=0+*/6+*+*+*",
            topology::gateway_url()
        ),
        &[],
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let exists = stack
        .sql(
            "iad1",
            &format!("select to_regclass('{missing}') is not null"),
        )
        .unwrap();
    assert_eq!(exists, "t", "the scheduled handler recreated {missing}");
}

#[test]
fn a_fresh_stack_has_no_row_in_a_default_partition() {
    let stack = stack();
    // Every table's row count in its default partition, whatever today's date is.
    let counts = stack
        .sql(
            "iad1",
            "select string_agg(r ->> 'table' || '=' || (r ->> 'rows'), ' ' order by r ->> 'table') \
             from jsonb_array_elements(public.default_partition_report()) r",
        )
        .unwrap();
    assert_eq!(
        counts,
        "public.analytics_events=0 public.digital_downloads=0 public.orders=0 public.transaction_logs=0"
    );
}

/// An order's id names the millisecond it was made, so the gateway reads it from its
/// month's partition in one call: the demo history's generated orders (made with
/// `uuid_v7_at(created_at)`) are found that way; an order whose id disagrees with its
/// created_at (one made before ids took the transaction's start) is still found, by a
/// second, unbounded call.
#[test]
fn an_order_is_read_by_id_from_its_month_and_found_when_its_id_disagrees() {
    let stack = stack();
    const FATOU: &str = "22222222-2222-4222-8222-000000000004";
    let disagreeing = stack
        .sql(
            "iad1",
            "select count(*) from public.orders \
             where public.uuid_v7_time(id) is not null and created_at < now() - interval '1 day' \
               and public.uuid_v7_time(id) <> date_trunc('milliseconds', created_at)",
        )
        .unwrap();
    assert_eq!(disagreeing, "0", "generated history whose ids disagree");
    let history = stack
        .sql(
            "iad1",
            &format!(
                "select id from public.orders where customer_id = '{FATOU}' \
                 and public.uuid_v7_time(id) is not null and created_at < now() - interval '1 day' \
                 order by created_at limit 1"
            ),
        )
        .unwrap();
    assert!(
        !history.is_empty(),
        "the demo seed gave Fatou an order history"
    );
    let bearer = format!("Bearer {}", payhuk_stack_tests::user_token(FATOU));
    let read = |id: &str| {
        payhuk_stack_tests::via_edge(
            "iad1",
            "GET",
            &format!("/api/v1/orders/{id}"),
            &[("authorization", &bearer)],
            None,
        )
    };
    let found = read(&history);
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.json()["id"], history.as_str());
    assert_eq!(found.header("x-payhuk-upstream-calls"), Some("1"));

    let odd = stack
        .sql(
            "iad1",
            &format!(
                "insert into public.orders (id, store_id, customer_id, currency, subtotal_minor, total_minor) \
                 values (public.uuid_v7_at(now() - interval '40 days'), '33333333-3333-4333-8333-000000000001', \
                         '{FATOU}', 'XOF', 100, 100) returning id"
            ),
        )
        .unwrap();
    // Whichever replica serves the read has the row.
    for standby in ["sfo1", "fra1"] {
        payhuk_stack_tests::caught_up(&stack, standby);
    }
    let found = read(&odd);
    stack
        .sql(
            "iad1",
            &format!("delete from public.orders where id = '{odd}'"),
        )
        .unwrap();
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.json()["id"], odd.as_str());
    assert_eq!(found.header("x-payhuk-upstream-calls"), Some("2"));
}
