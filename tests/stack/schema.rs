use std::time::Duration;

use payhuk_stack_tests::{eventually, partitions_scanned, stack, utc_month};

const PARTITIONED: [&str; 4] = [
    "orders",
    "transaction_logs",
    "digital_downloads",
    "analytics_events",
];
const NODES: [&str; 3] = ["iad1", "sfo1", "fra1"];

/// A digest of the user-visible schema: tables, columns, constraints, indexes,
/// policies, functions and partition bounds outside the system schemas.
const SCHEMA_FINGERPRINT: &str = "
select md5(string_agg(line, E'\\n' order by line)) from (
  select format('rel %s.%s %s rls=%s', n.nspname, c.relname, c.relkind, c.relrowsecurity) as line
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where n.nspname in ('public', 'payhuk_meta', 'payhuk_partitions', 'payhuk_archive', 'auth')
  union all
  select format('col %s.%s %s %s', a.attrelid::regclass, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull)
    from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
   where n.nspname in ('public', 'payhuk_meta', 'payhuk_partitions') and a.attnum > 0 and not a.attisdropped
  union all
  select format('con %s %s', conrelid::regclass, pg_get_constraintdef(oid)) from pg_constraint
   where connamespace in (select oid from pg_namespace where nspname in ('public', 'payhuk_partitions'))
  union all
  select format('idx %s', pg_get_indexdef(indexrelid)) from pg_index i join pg_class c on c.oid = i.indrelid
   where c.relnamespace in (select oid from pg_namespace where nspname in ('public', 'payhuk_partitions'))
  union all
  select format('pol %s %s %s', tablename, policyname, qual) from pg_policies where schemaname = 'public'
  union all
  select format('fn %s', p.oid::regprocedure) from pg_proc p
   where p.pronamespace in (select oid from pg_namespace where nspname in ('public', 'payhuk_meta', 'auth'))
  union all
  select format('part %s %s', c.oid::regclass, pg_get_expr(c.relpartbound, c.oid)) from pg_class c where c.relispartition
) lines";

#[test]
fn the_schema_is_identical_on_the_primary_and_both_standbys() {
    let stack = stack();
    let primary = stack.sql("iad1", SCHEMA_FINGERPRINT).unwrap();
    assert_eq!(primary.len(), 32, "{primary}");
    for standby in ["sfo1", "fra1"] {
        let fingerprint = eventually(
            &format!("{standby} to match the primary"),
            Duration::from_secs(10),
            || {
                let seen = stack.sql(standby, SCHEMA_FINGERPRINT).ok()?;
                (seen == primary).then_some(seen)
            },
        );
        assert_eq!(fingerprint, primary);
    }
}

#[test]
fn partitioned_tables_rls_and_future_partitions_on_every_node() {
    let stack = stack();
    for node in NODES {
        for table in PARTITIONED {
            let kind = stack
                .sql(
                    node,
                    &format!("select relkind from pg_class where oid = 'public.{table}'::regclass"),
                )
                .unwrap();
            assert_eq!(kind, "p", "{table} on {node} is partitioned");
            let ahead = stack
                .sql(
                    node,
                    &format!(
                        "select count(*) from payhuk_meta.partitions_of('public.{table}') \
                         where lower_bound > now()"
                    ),
                )
                .unwrap();
            assert!(
                ahead.parse::<u32>().unwrap() >= 3,
                "{table} on {node}: {ahead} future partitions"
            );
        }
        let without_rls = stack
            .sql(
                node,
                "select coalesce(string_agg(relname, ', '), '') from pg_class c \
                 join pg_namespace n on n.oid = c.relnamespace \
                 where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relrowsecurity",
            )
            .unwrap();
        assert_eq!(without_rls, "", "public tables without RLS on {node}");
    }
}

#[test]
fn a_one_month_query_prunes_to_one_partition_on_every_node() {
    let stack = stack();
    // This month: every partitioned table has its partition (orders' past months are
    // checked by the seed test).
    let (from, to, suffix) = utc_month(&stack, 0);
    for node in NODES {
        for table in PARTITIONED {
            let scanned = partitions_scanned(
                &stack,
                node,
                &format!(
                    "select * from public.{table} \
                     where created_at >= '{from} 00:00+00' and created_at < '{to} 00:00+00'"
                ),
            );
            assert_eq!(scanned, [format!("{table}_p{suffix}")], "{table} on {node}");
        }
    }
}

#[test]
fn the_api_document_offers_exactly_the_currencies_the_database_has() {
    let stack = stack();
    let table = stack
        .sql(
            "iad1",
            "select string_agg(code, ',' order by code) from public.currencies",
        )
        .unwrap();
    let document: serde_json::Value =
        serde_json::from_str(payhuk_edge::services::openapi::SOURCE).unwrap();
    let mut offered: Vec<&str> = document["components"]["schemas"]["Currency"]["enum"]
        .as_array()
        .expect("a Currency enum in openapi.json")
        .iter()
        .filter_map(serde_json::Value::as_str)
        .collect();
    offered.sort_unstable();
    assert_eq!(
        offered.join(","),
        table,
        "a currency added by a migration belongs in openapi.json's Currency enum too"
    );
}
