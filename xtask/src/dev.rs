//! `cargo xtask dev`: setup, build, up, then the logs of every part until Ctrl-C,
//! then down.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::sleep;
use std::time::Duration;

use crate::paths::Paths;
use crate::stack::Stack;
use crate::topology::NODES;
use crate::{build, gateway, postgrest, setup, ui};

pub fn run(paths: &Paths) -> anyhow::Result<()> {
    setup::run(paths)?;
    build::run(paths)?;
    let mut stack = Stack::open()?;
    stack.up()?;

    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))?;
    ui::header("following the logs; Ctrl-C stops the stack");

    let mut logs: Vec<(String, PathBuf, u64)> =
        vec![("gateway".into(), gateway::service(&stack.dirs).log_file, 0)];
    for node in &NODES {
        logs.push((
            format!("postgrest {}", node.region),
            postgrest::service(&stack.dirs, node).log_file,
            0,
        ));
        logs.push((
            format!("postgres {}", node.region),
            stack.dirs.pg_log(node.region),
            0,
        ));
    }
    // Start at the end: what happened during `up` was already summarised.
    for (_, path, offset) in &mut logs {
        *offset = std::fs::metadata(path.as_path())
            .map(|m| m.len())
            .unwrap_or(0);
    }
    while !stop.load(Ordering::SeqCst) {
        for (label, path, offset) in &mut logs {
            print_new_lines(label, path, offset);
        }
        sleep(Duration::from_millis(250));
    }
    println!();
    stack.down(false)
}

fn print_new_lines(label: &str, path: &PathBuf, offset: &mut u64) {
    let Ok(mut file) = File::open(path) else {
        return;
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len < *offset {
        *offset = 0; // truncated or replaced
    }
    if len == *offset || file.seek(SeekFrom::Start(*offset)).is_err() {
        return;
    }
    let mut text = String::new();
    if file.read_to_string(&mut text).is_err() {
        return;
    }
    // Only whole lines; the rest is printed once it is complete.
    let Some(end) = text.rfind('\n') else {
        return;
    };
    for line in text[..end].lines() {
        println!("[{label}] {line}");
    }
    *offset += end as u64 + 1;
}
