use std::time::Duration;

use payhuk_stack_tests::stack;

#[test]
fn a_point_in_time_restore_holds_the_first_write_and_not_the_second() {
    let stack = stack();
    stack.backup("daily", "full").unwrap();
    stack
        .sql("iad1", "create table if not exists public.pitr_probe (note text primary key, at timestamptz default clock_timestamp())")
        .unwrap();
    let marker = format!("{}", std::process::id());
    let first = stack
        .sql(
            "iad1",
            &format!("insert into public.pitr_probe (note) values ('first-{marker}') returning at"),
        )
        .unwrap();
    // A moment strictly between the two commits.
    std::thread::sleep(Duration::from_millis(1200));
    let between = stack.sql("iad1", "select clock_timestamp()").unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    stack
        .sql(
            "iad1",
            &format!("insert into public.pitr_probe (note) values ('second-{marker}')"),
        )
        .unwrap();
    assert!(first < between, "{first} < {between}");

    let dir = stack.dirs.pg().join(format!("restored-pitr-{marker}"));
    stack
        .restore(&between, "daily", Some(dir.clone()), 5441)
        .unwrap();
    let notes = stack
        .pg
        .sql_at(5441, &format!("select string_agg(note, ',' order by note) from public.pitr_probe where note like '%-{marker}'"));
    stack.pg.stop_cluster(&dir, "restored pitr").unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(notes.unwrap(), format!("first-{marker}"));
    stack.sql("iad1", "drop table public.pitr_probe").unwrap();
}

#[test]
fn pgbackrest_expires_full_backups_beyond_the_weekly_count() {
    let stack = stack();
    let weekly = xtask::backup::schedule("weekly").unwrap();
    for _ in 0..=weekly.keep {
        stack.backup("weekly", "full").unwrap();
    }
    let by_repo = xtask::backup::backups_by_repo(&stack.pg).unwrap();
    let kept = by_repo
        .iter()
        .find(|(repo, _)| *repo == u64::from(weekly.repo))
        .map_or(0, |(_, labels)| labels.len());
    assert_eq!(kept, weekly.keep as usize, "{by_repo:?}");
}
