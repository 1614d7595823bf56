//! Long-running children: started detached in their own process group with output to
//! a log file, tracked by pid files, stopped by signalling their whole group.

use std::fs::{self, OpenOptions};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::errno::Errno;
use nix::sys::signal::{self, Signal};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

use crate::cmd::describe;

/// A detached service known by its pid file.
#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub pid_file: PathBuf,
    pub log_file: PathBuf,
    /// A word the process's command line contains, to tell our process from a
    /// stranger that reused the pid.
    pub signature: &'static str,
}

impl Service {
    /// The pid, if the pid file names a live process that is ours.
    pub fn running_pid(&self) -> Option<i32> {
        let pid = read_pid(&self.pid_file)?;
        (is_alive(pid) && cmdline(pid).contains(self.signature)).then_some(pid)
    }

    /// Starts `command` detached: new process group, stdin closed, output to the log.
    pub fn spawn(&self, command: &mut Command) -> anyhow::Result<i32> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_file)
            .with_context(|| format!("opening {}", self.log_file.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .with_context(|| format!("could not start {}: `{}`", self.name, describe(command)))?;
        let pid = child.id() as i32;
        fs::write(&self.pid_file, format!("{pid}\n"))
            .with_context(|| format!("writing {}", self.pid_file.display()))?;
        Ok(pid)
    }

    /// [`spawn`](Self::spawn), then waits until `ready` (failing fast if the process
    /// exits), and on failure shows the end of the service's log.
    pub fn start(
        &self,
        command: &mut Command,
        timeout: Duration,
        ready: impl FnMut() -> bool,
    ) -> anyhow::Result<()> {
        let pid = self.spawn(command)?;
        wait_until(&self.name, timeout, || is_alive(pid), ready).with_context(|| {
            format!(
                "last lines of {}:\n{}",
                self.log_file.display(),
                crate::cmd::tail(&self.log_file, 20)
            )
        })
    }

    /// Stops the service's process group: SIGTERM, then SIGKILL after `grace`.
    /// Returns whether anything was running.
    pub fn stop(&self, grace: Duration) -> anyhow::Result<bool> {
        let Some(pid) = self.running_pid() else {
            let _ = fs::remove_file(&self.pid_file);
            return Ok(false);
        };
        stop_group(pid, grace).with_context(|| format!("stopping {}", self.name))?;
        let _ = fs::remove_file(&self.pid_file);
        Ok(true)
    }
}

pub fn read_pid(path: &Path) -> Option<i32> {
    fs::read_to_string(path)
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Alive and not a zombie (a zombie has exited; it only waits to be reaped).
pub fn is_alive(pid: i32) -> bool {
    reap(pid);
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => process_state(&stat).is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

fn cmdline(pid: i32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .unwrap_or_default()
}

/// Collects the exit status if `pid` is our own exited child, so it stops being a zombie.
fn reap(pid: i32) {
    let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
}

/// `/proc/<pid>/stat` is `pid (comm) state ppid pgrp ...`; comm may hold spaces and parens.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    Some(after_comm.split_whitespace().collect())
}

fn process_state(stat: &str) -> Option<char> {
    stat_fields(stat)?.first()?.chars().next()
}

/// Live members of process group `pgid`.
fn group_members(pgid: i32) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let fields = stat_fields(&stat)?;
                    let state = fields.first()?.chars().next()?;
                    let pgrp: i32 = fields.get(2)?.parse().ok()?;
                    Some(pgrp == pgid && state != 'Z' && state != 'X')
                })
                .unwrap_or(false)
        })
        .collect()
}

fn stop_group(pgid: i32, grace: Duration) -> anyhow::Result<()> {
    let group = Pid::from_raw(pgid);
    match signal::killpg(group, Signal::SIGTERM) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(err) => bail!("cannot signal process group {pgid}: {err}"),
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        reap(pgid);
        if group_members(pgid).is_empty() {
            return Ok(());
        }
        sleep(Duration::from_millis(100));
    }
    let _ = signal::killpg(group, Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        reap(pgid);
        if group_members(pgid).is_empty() {
            return Ok(());
        }
        sleep(Duration::from_millis(100));
    }
    bail!("process group {pgid} survived SIGKILL")
}

/// Sends `sig` to one process (not its group), e.g. a postmaster.
pub fn signal_pid(pid: i32, sig: Signal) -> anyhow::Result<()> {
    match signal::kill(Pid::from_raw(pid), sig) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(err) => bail!("cannot send {sig} to {pid}: {err}"),
    }
}

/// Waits until `pid` has exited, up to `timeout`.
pub fn wait_exit(pid: i32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if !is_alive(pid) {
            return true;
        }
        sleep(Duration::from_millis(100));
    }
    !is_alive(pid)
}

/// Polls `ready` until it returns true or `timeout` passes; `alive` lets a dead
/// process fail fast instead of waiting out the timeout.
pub fn wait_until(
    what: &str,
    timeout: Duration,
    mut alive: impl FnMut() -> bool,
    mut ready: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if ready() {
            return Ok(());
        }
        if !alive() {
            bail!("{what}: the process exited before it was ready");
        }
        if Instant::now() >= deadline {
            bail!("{what}: not ready after {}s", timeout.as_secs());
        }
        sleep(Duration::from_millis(200));
    }
}

/// True when a live process's command line starts with `prefix`.
pub fn any_cmdline_starts_with(prefix: &str) -> bool {
    let Ok(entries) = fs::read_dir("/proc") else {
        return false;
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .any(|pid| is_alive(pid) && cmdline(pid).starts_with(prefix))
}

/// True when something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_in_use(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(300),
    )
    .is_ok()
}

/// The process holding a listening TCP socket on `port` (IPv4 or IPv6), from
/// `/proc/net/tcp*` and the processes' open files: for a service that runs under a
/// supervisor, the child that really serves (workerd under wrangler).
pub fn listening_pid(port: u16) -> Option<i32> {
    let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| fs::read_to_string(table).ok())
        .flat_map(|table| listening_inodes(&table, port))
        .collect();
    if inodes.is_empty() {
        return None;
    }
    let targets: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .find(|pid| {
            fs::read_dir(format!("/proc/{pid}/fd"))
                .into_iter()
                .flatten()
                .flatten()
                .any(|fd| {
                    fs::read_link(fd.path())
                        .is_ok_and(|link| targets.iter().any(|t| link.as_os_str() == t.as_str()))
                })
        })
}

/// Inodes of the sockets listening on `port` in one `/proc/net/tcp*` table, whose rows
/// are `sl local_address rem_address st ... inode`, addresses as `HEXIP:HEXPORT`.
fn listening_inodes(table: &str, port: u16) -> Vec<String> {
    const LISTEN: &str = "0A";
    table
        .lines()
        .skip(1)
        .filter_map(|row| {
            let fields: Vec<&str> = row.split_whitespace().collect();
            let local_port = fields.get(1)?.rsplit(':').next()?;
            (u16::from_str_radix(local_port, 16).ok()? == port && *fields.get(3)? == LISTEN)
                .then(|| fields.get(9).map(|inode| (*inode).to_owned()))
                .flatten()
        })
        .collect()
}

/// This process's open-file limit, soft and hard, from `/proc/self/limits`; the
/// services the stack starts inherit it.
pub fn open_file_limit() -> Option<(u64, u64)> {
    parse_open_file_limit(&fs::read_to_string("/proc/self/limits").ok()?)
}

/// `Max open files            20000                20000                files`
fn parse_open_file_limit(limits: &str) -> Option<(u64, u64)> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut numbers = line["Max open files".len()..].split_whitespace();
    let mut next = || -> Option<u64> {
        match numbers.next()? {
            "unlimited" => Some(u64::MAX),
            n => n.parse().ok(),
        }
    };
    Some((next()?, next()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_open_file_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
Max processes             unlimited            unlimited            processes \n\
Max open files            1024                 20000                files     \n";
        assert_eq!(parse_open_file_limit(limits), Some((1024, 20000)));
        assert!(open_file_limit().is_some_and(|(soft, hard)| soft <= hard));
    }

    #[test]
    fn finds_the_process_listening_on_a_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(listening_pid(port), Some(std::process::id() as i32));
        drop(listener);
        assert_eq!(listening_pid(port), None);
    }

    #[test]
    fn reads_only_listening_rows_of_the_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:2253 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0 100 0 0 10 0\n\
   1: 0100007F:2253 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 2222 1 0 20 4 30 10 -1\n\
   2: 0100007F:0BB9 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3333 1 0 100 0 0 10 0\n";
        assert_eq!(listening_inodes(table, 8787), ["1111"]);
        assert_eq!(listening_inodes(table, 3001), ["3333"]);
        assert!(listening_inodes(table, 5433).is_empty());
    }

    #[test]
    fn parses_stat_with_odd_command_names() {
        let stat = "4242 (my (odd) name) S 1 4242 4242 0 -1";
        assert_eq!(process_state(stat), Some('S'));
        assert_eq!(stat_fields(stat).unwrap()[2], "4242");
    }

    #[test]
    fn spawn_and_stop_a_real_group() {
        let dir = std::env::temp_dir().join(format!("xtask-process-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let service = Service {
            name: "sleeper".into(),
            pid_file: dir.join("sleeper.pid"),
            log_file: dir.join("sleeper.log"),
            signature: "sleep",
        };
        // A shell whose child keeps running: stopping must take the whole group.
        let pid = service
            .spawn(Command::new("sh").args(["-c", "sleep 300 & echo started; sleep 300"]))
            .unwrap();
        assert!(
            wait_until(
                "sleeper",
                Duration::from_secs(5),
                || true,
                || { group_members(pid).len() >= 2 }
            )
            .is_ok()
        );
        assert_eq!(service.running_pid(), Some(pid));
        assert!(service.stop(Duration::from_secs(5)).unwrap());
        assert!(group_members(pid).is_empty());
        assert_eq!(service.running_pid(), None);
        assert!(!service.stop(Duration::from_secs(1)).unwrap());
        fs::remove_dir_all(&dir).unwrap();
    }
}
