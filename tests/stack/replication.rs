use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use payhuk_stack_tests::{caught_up, eventually, request, stack};
use xtask::topology;

#[test]
fn a_row_inserted_on_the_primary_appears_on_both_standbys() {
    let stack = stack();
    stack
        .sql(
            "iad1",
            "create schema if not exists payhuk_test; \
             create table if not exists payhuk_test.replication_probe \
               (id uuid primary key default gen_random_uuid(), note text not null)",
        )
        .unwrap();
    let id = stack
        .sql(
            "iad1",
            "insert into payhuk_test.replication_probe (note) values ('written on iad1') returning id",
        )
        .unwrap();
    assert_eq!(id.len(), 36, "{id}");

    for standby in ["sfo1", "fra1"] {
        let note = eventually(
            &format!("the row on {standby}"),
            Duration::from_secs(10),
            || {
                stack
                    .sql(
                        standby,
                        &format!(
                            "select note from payhuk_test.replication_probe where id = '{id}'"
                        ),
                    )
                    .ok()
                    .filter(|note| !note.is_empty())
            },
        );
        assert_eq!(note, "written on iad1");
        // It really is a standby: it refuses writes.
        let refused = stack.sql(
            standby,
            "insert into payhuk_test.replication_probe (note) values ('x')",
        );
        let err = format!("{:#}", refused.unwrap_err());
        assert!(err.contains("read-only transaction"), "{err}");
    }
}

/// The standby's read-your-writes check must not take a transaction it has not
/// replayed for done just because a later one was: a standby keeps its running
/// transactions where `pg_current_snapshot()` does not show them.
#[test]
fn a_standby_refuses_a_token_for_a_transaction_it_has_not_replayed_behind_a_later_one() {
    let stack = stack();
    let node = topology::node("iad1").unwrap();
    // Transaction X: an id taken, still open, nothing written yet.
    let mut open = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            topology::SUPERUSER,
            "-d",
            topology::DATABASE,
        ])
        .args([
            "-p",
            &node.pg_port.to_string(),
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
        ])
        .env("PGPASSWORD", topology::SUPERUSER_PASSWORD)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("psql runs");
    let mut stdin = open.stdin.take().unwrap();
    writeln!(stdin, "begin; select pg_current_xact_id();").unwrap();
    let mut lines = BufReader::new(open.stdout.take().unwrap()).lines();
    let xid = lines
        .find_map(|l| l.ok().filter(|l| l.parse::<u64>().is_ok()))
        .expect("the open transaction's id");
    // A later transaction commits and is replayed.
    stack
        .sql(
            "iad1",
            "insert into public.analytics_events (name, session_id) values ('ryw_probe', 'ryw')",
        )
        .unwrap();
    caught_up(&stack, "sfo1");

    let ask = || {
        let sfo1 = topology::node("sfo1").unwrap();
        let auth = format!("Bearer {}", topology::anon_key());
        request(
            "GET",
            &format!(
                "{}/products?select=id&limit=1",
                topology::postgrest_url(sfo1)
            ),
            &[("authorization", &auth), ("x-payhuk-min-xid", &xid)],
            None,
        )
    };
    let reply = ask();
    assert_eq!(reply.status, 425, "X is not replayed: {}", reply.body);

    writeln!(stdin, "commit;").unwrap();
    drop(stdin);
    assert!(open.wait().unwrap().success());
    // A commit that wrote nothing else is flushed by the WAL writer, a moment later.
    eventually(
        "sfo1 to serve once X is replayed",
        Duration::from_secs(10),
        || (ask().status == 200).then_some(()),
    );
}
