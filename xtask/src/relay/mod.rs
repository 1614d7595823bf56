//! A TCP relay that makes a loopback link behave like a long one: one-way delay, jitter
//! and a bandwidth cap per direction, and the faults tests need (a stall after some
//! bytes, a reset, a black hole), each changeable while connections are open. Kernel
//! netem is not available on these machines; this stands in front of any TCP service
//! (PostgreSQL's replication, PostgREST).

mod control;
mod pace;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

pub use control::Control;
use pace::Pacer;
pub use pace::Shape;

/// What a link does to its connections, open and new.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    #[default]
    None,
    /// Each connection carries this many more bytes from the target (counted from when
    /// the fault is set, or from its start if it opens after), then nothing more from
    /// it, and stays open (a link that stalls mid-answer); requests still go through.
    StallAfter(u64),
    /// Every connection is reset (RST), and new ones as soon as they are accepted.
    Reset,
    /// Bytes vanish both ways; connections stay open (a route that drops everything).
    BlackHole,
}

/// How a link behaves: `up` is client to target, `down` target to client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LinkState {
    pub up: Shape,
    pub down: Shape,
    pub fault: Fault,
}

impl LinkState {
    /// The same delay and jitter both ways: `rtt` is the round trip the link adds.
    pub fn round_trip(rtt: Duration, jitter: Duration) -> Self {
        let one_way = Shape {
            delay: rtt / 2,
            jitter,
            bytes_per_sec: None,
        };
        LinkState {
            up: one_way,
            down: one_way,
            fault: Fault::None,
        }
    }
}

/// One link: connections to `listen` are relayed to `target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkSpec {
    pub name: String,
    /// Port 0 picks a free one; [`Relay::addr`] says which.
    pub listen: SocketAddr,
    pub target: SocketAddr,
    pub state: LinkState,
}

/// Running links, on a runtime of their own; dropped, they stop and their connections close.
pub struct Relay {
    links: Arc<Links>,
    runtime: tokio::runtime::Runtime,
}

/// Each link by name: where it listens, where it goes, and its state's sender.
type Links = HashMap<String, (SocketAddr, SocketAddr, watch::Sender<LinkState>)>;

impl Relay {
    pub fn start(specs: Vec<LinkSpec>) -> anyhow::Result<Relay> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("relay")
            .enable_all()
            .build()
            .context("starting the relay's runtime")?;
        let mut links = HashMap::new();
        for spec in specs {
            let listener = runtime
                .block_on(TcpListener::bind(spec.listen))
                .with_context(|| format!("relay {}: listening on {}", spec.name, spec.listen))?;
            let addr = listener.local_addr()?;
            let (state, watching) = watch::channel(spec.state);
            runtime.spawn(accept(listener, spec.target, watching));
            anyhow::ensure!(
                links
                    .insert(spec.name.clone(), (addr, spec.target, state))
                    .is_none(),
                "two relay links named {}",
                spec.name
            );
        }
        Ok(Relay {
            links: Arc::new(links),
            runtime,
        })
    }

    /// Where `name` listens.
    pub fn addr(&self, name: &str) -> anyhow::Result<SocketAddr> {
        Ok(link(&self.links, name)?.0)
    }

    pub fn state(&self, name: &str) -> anyhow::Result<LinkState> {
        Ok(*link(&self.links, name)?.2.borrow())
    }

    /// Changes `name`'s behaviour, for its open connections too.
    pub fn set(&self, name: &str, state: LinkState) -> anyhow::Result<()> {
        link(&self.links, name)?.2.send_replace(state);
        Ok(())
    }

    pub fn set_fault(&self, name: &str, fault: Fault) -> anyhow::Result<()> {
        link(&self.links, name)?.2.send_modify(|s| s.fault = fault);
        Ok(())
    }

    /// Lets other processes change the links through `addr` (see [`Control`]); returns
    /// where it listens.
    pub fn serve_control(&self, addr: SocketAddr) -> anyhow::Result<SocketAddr> {
        let listener = self
            .runtime
            .block_on(TcpListener::bind(addr))
            .with_context(|| format!("relay control: listening on {addr}"))?;
        let bound = listener.local_addr()?;
        self.runtime
            .spawn(control::serve(listener, self.links.clone()));
        Ok(bound)
    }

    /// Serves until `stop` resolves (a CLI's Ctrl-C).
    pub fn run_until(&self, stop: impl std::future::Future<Output = ()>) {
        self.runtime.block_on(stop);
    }
}

fn link<'a>(
    links: &'a Links,
    name: &str,
) -> anyhow::Result<&'a (SocketAddr, SocketAddr, watch::Sender<LinkState>)> {
    links
        .get(name)
        .with_context(|| format!("no relay link named {name}"))
}

/// Every link as it is now, by name.
fn specs(links: &Links) -> Vec<LinkSpec> {
    let mut all: Vec<LinkSpec> = links
        .iter()
        .map(|(name, (listen, target, state))| LinkSpec {
            name: name.clone(),
            listen: *listen,
            target: *target,
            state: *state.borrow(),
        })
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}

/// A relay process's links and where it takes orders, as `cargo xtask relay --config`
/// reads them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonConfig {
    pub control: SocketAddr,
    pub links: Vec<LinkSpec>,
}

/// `cargo xtask relay --config FILE`: every link of the file, and its control port,
/// until the process is stopped.
pub fn daemon(config: &std::path::Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(config).with_context(|| format!("reading {}", config.display()))?;
    let config: DaemonConfig =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", config.display()))?;
    let count = config.links.len();
    let relay = Relay::start(config.links)?;
    let control = relay.serve_control(config.control)?;
    crate::ui::detail(&format!(
        "relaying {count} links; control on {control}; Ctrl-C stops"
    ));
    relay.run_until(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    Ok(())
}

/// `cargo xtask relay`: one link until Ctrl-C.
pub fn foreground(listen: SocketAddr, target: SocketAddr, state: LinkState) -> anyhow::Result<()> {
    let relay = Relay::start(vec![LinkSpec {
        name: "link".into(),
        listen,
        target,
        state,
    }])?;
    crate::ui::detail(&format!(
        "relaying {} -> {target}: {state:?}; Ctrl-C stops",
        relay.addr("link")?
    ));
    relay.run_until(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    Ok(())
}

async fn accept(listener: TcpListener, target: SocketAddr, state: watch::Receiver<LinkState>) {
    loop {
        match listener.accept().await {
            Ok((client, _)) => {
                tokio::spawn(connection(client, target, state.clone()));
            }
            // Out of descriptors or the like: keep the listener, try again shortly.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn connection(client: TcpStream, target: SocketAddr, state: watch::Receiver<LinkState>) {
    let _ = client.set_nodelay(true);
    let fault = state.borrow().fault;
    match fault {
        Fault::Reset => return reset(&client),
        Fault::BlackHole => return swallow(client, state).await,
        Fault::None | Fault::StallAfter(_) => {}
    }
    // The far end's handshake costs a round trip on a real link; here the client's
    // connect completes at once, so the connect to the target waits for it.
    let handshake = {
        let now = state.borrow();
        now.up.delay + now.down.delay
    };
    tokio::time::sleep(handshake).await;
    // A target that refuses is passed on as a reset, as a refused connect looks.
    let Ok(server) = TcpStream::connect(target).await else {
        return reset(&client);
    };
    let _ = server.set_nodelay(true);
    let started = Instant::now();
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        pump(client_read, server_write, Way::Up, state.clone(), started),
        pump(server_read, client_write, Way::Down, state, started),
    );
}

/// A connection accepted while the link is a black hole: read and dropped until the
/// client gives up or the link resets it.
async fn swallow(mut client: TcpStream, mut state: watch::Receiver<LinkState>) {
    let mut buf = vec![0; 16 * 1024];
    loop {
        let read = tokio::select! {
            read = client.read(&mut buf) => Some(read),
            () = until_reset(&mut state) => None,
        };
        match read {
            None => return reset(&client),
            Some(Ok(0) | Err(_)) => return,
            Some(Ok(_)) => {}
        }
    }
}

fn reset(stream: &TcpStream) {
    // With a zero linger, closing sends RST instead of FIN.
    let _ = stream.set_zero_linger();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Up,
    Down,
}

/// One direction of a connection: what is read is written on at its arrival time. On a
/// reset, both sockets this direction touches are left to close with RST.
async fn pump(
    mut from: OwnedReadHalf,
    to: OwnedWriteHalf,
    way: Way,
    mut state: watch::Receiver<LinkState>,
    started: Instant,
) {
    let (chunks, queued) = mpsc::channel::<(Instant, Vec<u8>)>(256);
    let writer = deliver(to, queued, state.clone());
    let reader = async move {
        let mut pacer = Pacer::default();
        // Bytes carried since the fault last changed: a stall counts from when it is set.
        let mut carried = 0u64;
        let mut fault_seen = state.borrow().fault;
        let mut buf = vec![0; 16 * 1024];
        loop {
            let read = tokio::select! {
                read = from.read(&mut buf) => Some(read),
                () = until_reset(&mut state) => None,
            };
            let n = match read {
                None => return reset(from.as_ref()),
                Some(Ok(0) | Err(_)) => return,
                Some(Ok(n)) => n,
            };
            let now = *state.borrow();
            if now.fault != fault_seen {
                fault_seen = now.fault;
                carried = 0;
            }
            let keep = match now.fault {
                Fault::BlackHole => 0,
                Fault::StallAfter(limit) if way == Way::Down => {
                    (limit.saturating_sub(carried) as usize).min(n)
                }
                _ => n,
            };
            if keep == 0 {
                continue;
            }
            carried += keep as u64;
            let shape = match way {
                Way::Up => now.up,
                Way::Down => now.down,
            };
            let spread = rand::random_range(-1.0..=1.0);
            let arrival = pacer.arrival(&shape, Instant::now() - started, keep, spread);
            if chunks
                .send((started + arrival, buf[..keep].to_vec()))
                .await
                .is_err()
            {
                return;
            }
        }
    };
    tokio::join!(reader, writer);
}

/// Writes each chunk at its arrival time; the reader's end (EOF) becomes a half-close
/// once everything before it has arrived.
async fn deliver(
    mut to: OwnedWriteHalf,
    mut queued: mpsc::Receiver<(Instant, Vec<u8>)>,
    mut state: watch::Receiver<LinkState>,
) {
    loop {
        // Some(chunk delivered?), None once the reader stopped; a reset wins either way.
        let next = tokio::select! {
            next = async {
                let (at, chunk) = queued.recv().await?;
                tokio::time::sleep_until(at).await;
                Some(to.write_all(&chunk).await.is_ok())
            } => next,
            () = until_reset(&mut state) => break,
        };
        match next {
            Some(true) => {}
            Some(false) => return,
            // The reader stopped on its own (EOF) unless it saw a reset first.
            None if state.borrow().fault != Fault::Reset => {
                let _ = to.shutdown().await;
                return;
            }
            None => break,
        }
    }
    reset(to.as_ref());
    // Dropped, a write half would send a FIN first; the RST is the point.
    to.forget();
}

/// Resolves once the link is set to reset its connections (or the relay is gone).
async fn until_reset(state: &mut watch::Receiver<LinkState>) {
    while state.borrow_and_update().fault != Fault::Reset {
        if state.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests;
