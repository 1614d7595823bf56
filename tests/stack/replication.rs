use std::time::Duration;

use payhuk_stack_tests::{eventually, stack};

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
