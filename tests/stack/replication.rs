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

    let ask = || read_from_sfo1(&[("x-payhuk-min-xid", &xid)]);
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

/// A standby allowed to wait (`x-payhuk-max-wait-ms`) answers once replay brings the
/// client's write, and says how long it waited; past its time it refuses as before.
#[test]
fn a_standby_allowed_to_wait_answers_once_replay_brings_the_write() {
    let stack = stack();
    let paused = payhuk_stack_tests::ReplayPaused::new(&stack, "sfo1");
    let xid = stack
        .sql(
            "iad1",
            "with w as (insert into public.analytics_events (name, session_id) \
                        values ('ryw_wait', 'ryw') returning 1) \
             select pg_current_xact_id()::text from w",
        )
        .unwrap();
    assert!(xid.parse::<u64>().is_ok(), "{xid}");
    let ask = move |max_wait: &str| {
        read_from_sfo1(&[
            ("x-payhuk-min-xid", &xid),
            ("x-payhuk-max-wait-ms", max_wait),
        ])
    };
    let refused = ask("50");
    assert_eq!(refused.status, 425, "still paused: {}", refused.body);
    let bad = ask("5000");
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.json()["hint"], "bad_max_wait");

    let waiting = std::thread::spawn(move || ask("1000"));
    // Resumed only once the standby is seen waiting: no timing is assumed.
    payhuk_stack_tests::seen_waiting_for_replay(&stack, "sfo1");
    drop(paused);
    let answered = waiting.join().unwrap();
    assert_eq!(answered.status, 200, "{}", answered.body);
    let waited: u64 = answered
        .header("x-payhuk-replica-wait-ms")
        .expect("the standby says how long it waited")
        .parse()
        .unwrap();
    assert!(waited > 0, "it waited for replay");
}

/// A one-row read straight from sfo1's PostgREST, as the anon role, with `headers`.
fn read_from_sfo1(headers: &[(&str, &str)]) -> payhuk_stack_tests::Reply {
    let sfo1 = topology::node("sfo1").unwrap();
    let auth = format!("Bearer {}", topology::anon_key());
    let mut all = vec![("authorization", auth.as_str())];
    all.extend_from_slice(headers);
    request(
        "GET",
        &format!(
            "{}/products?select=id&limit=1",
            topology::postgrest_url(sfo1)
        ),
        &all,
        None,
    )
}
