use clap::{Parser, Subcommand};

use xtask::paths::Paths;
use xtask::stack::Stack;
use xtask::{build, dev, keys, setup, test};

/// Developer commands for payhuk-edge.
#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install what is missing: wasm32 target, worker-build, wasm-bindgen-cli, npm
    /// packages, and (as root) the Debian packages.
    Setup,
    /// Build the gateway to wasm32 (release) and print its size.
    Build,
    /// Start the local three-region stack detached (or whatever part of it does not
    /// answer); returns when it is ready.
    Up {
        /// Run the databases on a moved clock that reads this instant now (RFC 3339, e.g.
        /// 2027-03-01T00:05:00Z), through libfaketime; on a new stack only.
        #[arg(long)]
        db_clock: Option<String>,
        /// Regions and customer cities as far apart as they are: replication and every
        /// edge-to-region link through relays with measured round trips, one edge per
        /// city (Lagos, Abidjan, Dakar, Paris, New York, San Francisco) on :8801-8806;
        /// stays so until `down`.
        #[arg(long)]
        wan: bool,
    },
    /// Stop everything `up` started.
    Down {
        /// Also delete the stack's data.
        #[arg(long)]
        wipe: bool,
    },
    /// setup, build, up, follow the logs until Ctrl-C, then down.
    Dev,
    /// Every test layer against a fresh stack (what CI runs).
    Test,
    /// Whether each part answers, and each node's replication state; exits non-zero
    /// when a part is down.
    Status {
        /// A JSON array of parts (name, kind, region, city, url, port, pid, answering).
        #[arg(long)]
        json: bool,
    },
    /// Print the local API keys and STATUS_TOKEN, shell-sourceable; or, with
    /// --new-signing-key, a new ES256 key pair for JWT_SIGNING_KEY.
    Keys {
        /// A new P-256 private JWK named KID (for the JWT_SIGNING_KEY secret), and its
        /// public JWKS (for PostgREST's jwt-secret).
        #[arg(long, value_name = "KID")]
        new_signing_key: Option<String>,
    },
    /// Back up the primary with pgBackRest.
    Backup {
        /// full, diff or incr.
        #[arg(long = "type", default_value = "full")]
        kind: String,
        /// daily (repo1, keeps 7), weekly (repo2, keeps 4) or monthly (repo3, keeps 12).
        #[arg(long, default_value = "daily")]
        schedule: String,
    },
    /// Switch the running stack's primary to synchronous (`ANY 1 (sfo1, fra1)`) or
    /// asynchronous replication.
    Replication {
        /// sync or async.
        mode: String,
    },
    /// Drills: disaster recovery on a fresh stack (restore, failover, region-loss,
    /// deployment-loss, all), and the signing key rotation runbook (key-rotation).
    Drill {
        name: String,
        /// Write the figures into docs/DISASTER_RECOVERY.md.
        #[arg(long)]
        record: bool,
    },
    /// Restore a point-in-time copy of the primary into a new cluster and start it.
    Restore {
        /// `latest`, or a time such as "2026-11-24 14:00:00+00".
        #[arg(long)]
        to: String,
        /// Where the copy goes; default .payhuk/stack/pg/restored-<time>.
        #[arg(long)]
        target_dir: Option<std::path::PathBuf>,
        /// Port the copy listens on.
        #[arg(long, default_value_t = xtask::topology::RESTORE_PORT)]
        port: u16,
        /// Which repository to restore from.
        #[arg(long, default_value = "daily")]
        schedule: String,
    },
    /// Benchmarks: the gateway (wrangler dev and plain workerd) against direct PostgREST,
    /// partitioning, the bundle size; writes docs/BENCHMARKS.md.
    Bench {
        /// A smoke run: seconds per figure, no 10-million-order seed, nothing written.
        #[arg(long)]
        quick: bool,
        /// The load ramp instead: 100 to 10,000 connections and up to 5x the measured
        /// capacity, cold and warm, beside direct PostgREST; writes docs/bench-load.svg.
        #[arg(long)]
        load: bool,
        /// What each city gets on the WAN topology (`up --wan`): time to first byte of
        /// reads, listings, login, orders and a read of one's own write, beside a
        /// single-region and a geo-routing baseline; writes docs/bench-wan.svg.
        #[arg(long, conflicts_with = "load")]
        wan: bool,
        /// Data at scale instead (issue 23), on a cluster of its own: Payhuk's queries at
        /// 1, 10 and 50 million orders, partitioned beside unpartitioned, sizes on disk,
        /// pgBackRest backup and restore times; checks free disk first and removes what it
        /// made; writes docs/bench-scale.svg. With `--quick`, 20 k and 60 k orders.
        #[arg(long, conflicts_with_all = ["load", "wan"])]
        scale: bool,
        /// With `--scale`: the sizes to run instead, in orders, comma-separated and
        /// ascending (e.g. `1000000,10000000`).
        #[arg(long, value_delimiter = ',', requires = "scale")]
        orders: Vec<u64>,
        /// JWT signatures instead (issue 19): ES256 and RS256 with the runtime's WebCrypto
        /// beside the RustCrypto crates built to wasm32, time per operation under Node and
        /// what each would add to the bundle; needs no stack, writes nothing.
        #[arg(long, conflicts_with_all = ["load", "wan", "scale", "quick"])]
        jwt: bool,
    },
    /// Where a request's CPU time goes: a V8 CPU profile of the bundle under plain workerd
    /// while oha drives one route, sorted into the parts of the path.
    Profile {
        /// The route; `{product}` becomes a published product's id.
        #[arg(long, default_value = xtask::profile::DEFAULT_ROUTE)]
        route: String,
        /// Seconds of load profiled (after a 2-second warm-up).
        #[arg(long, default_value_t = 10)]
        seconds: u32,
        /// Connections the load keeps busy: past the admission limit, where an
        /// overloaded isolate's time goes.
        #[arg(long, default_value_t = xtask::profile::DEFAULT_CONNECTIONS)]
        connections: u32,
    },
    /// The OpenAPI document against the running gateway: Schemathesis drives every
    /// operation with generated valid and invalid requests, as a customer and as a
    /// merchant, and create-then-read sequences; fails on any disagreement or 5xx.
    Contract {
        /// Seed of the generated requests (the same seed, the same requests).
        #[arg(long, default_value_t = xtask::contract::SEED)]
        seed: u64,
        /// Generated requests per operation and phase.
        #[arg(long, default_value_t = xtask::contract::MAX_EXAMPLES)]
        max_examples: u32,
    },
    /// Coverage-guided fuzzing (cargo-fuzz, nightly) of every parser of untrusted input,
    /// one target at a time; fails on any crash.
    Fuzz {
        /// Executions per target.
        #[arg(long, default_value_t = xtask::fuzz::DEFAULT_RUNS)]
        runs: u64,
        /// Run only this target (default: all).
        #[arg(long)]
        target: Option<String>,
        /// Write the figures into docs/SECURITY.md.
        #[arg(long)]
        record: bool,
    },
    /// Mixed reads and writes through the gateway while faults are injected on the
    /// replicas; fails unless every acknowledged write is kept and no read failed.
    Soak {
        /// How long, in minutes.
        #[arg(long, default_value_t = 10.0)]
        minutes: f64,
        /// Write the figures into docs/SECURITY.md.
        #[arg(long)]
        record: bool,
    },
    /// Relay TCP connections from --listen to --to as over a long link, or every link
    /// of a --config file with its control port, in the foreground until Ctrl-C.
    Relay {
        #[arg(long, required_unless_present = "config", requires = "to")]
        listen: Option<std::net::SocketAddr>,
        #[arg(long, requires = "listen")]
        to: Option<std::net::SocketAddr>,
        /// A JSON file: `{"control": "127.0.0.1:PORT", "links": [...]}` (what
        /// `cargo xtask up --wan` writes).
        #[arg(long, conflicts_with = "listen")]
        config: Option<std::path::PathBuf>,
        /// The round trip the link adds, in milliseconds (half each way).
        #[arg(long, default_value_t = 0)]
        rtt_ms: u64,
        /// Each chunk's one-way delay varies within plus or minus this, in milliseconds.
        #[arg(long, default_value_t = 0)]
        jitter_ms: u64,
        /// What the link carries per second, each way.
        #[arg(long)]
        bytes_per_sec: Option<u64>,
    },
    /// Every local log line of one request, in time order: the gateway's (and the WAN
    /// edges'), PostgREST's access log, PostgreSQL's; each prefixed by its source.
    Logs {
        /// The request id (the gateway's `x-request-id`, in its JSON line and its
        /// error bodies as `request_id`).
        #[arg(long = "request", value_name = "ID")]
        request: String,
        /// One JSON object per line: ts, source, line.
        #[arg(long)]
        json: bool,
    },
    /// Generate bulk orders (with items) on the running stack, for benchmarks.
    Seed {
        /// How many orders.
        #[arg(long)]
        orders: u64,
        /// Orders per transaction.
        #[arg(long, default_value_t = xtask::seed::DEFAULT_BATCH)]
        batch: u64,
    },
}

fn main() {
    let cli = Cli::parse();
    let paths = Paths::discover();
    let result = match cli.command {
        Cmd::Setup => setup::run(&paths),
        Cmd::Build => build::run(&paths),
        Cmd::Up { db_clock, wan } => Stack::open()
            .and_then(|mut s| match (db_clock, wan) {
                (Some(_), true) => anyhow::bail!("--db-clock and --wan: one at a time"),
                (Some(text), false) => s.up_at(xtask::clock::parse_instant(&text)?),
                (None, true) => s.up_wan(),
                (None, false) => s.up(),
            })
            .map(|_| ()),
        Cmd::Down { wipe } => Stack::open().and_then(|s| s.down(wipe)),
        Cmd::Dev => dev::run(&paths),
        Cmd::Test => test::run(&paths),
        Cmd::Status { json } => Stack::open().and_then(|s| s.status(json)),
        Cmd::Replication { mode } => xtask::topology::Replication::parse(&mode)
            .and_then(|mode| Stack::open()?.set_replication(mode)),
        Cmd::Drill { name, record } => xtask::drill::run(&paths, &name, record),
        Cmd::Backup { kind, schedule } => Stack::open().and_then(|s| s.backup(&schedule, &kind)),
        Cmd::Restore {
            to,
            target_dir,
            port,
            schedule,
        } => Stack::open().and_then(|s| s.restore(&to, &schedule, target_dir, port)),
        Cmd::Bench { jwt: true, .. } => xtask::bench::jwt::run(&paths),
        Cmd::Bench {
            quick, load: true, ..
        } => xtask::bench::ramp::run(&paths, quick),
        Cmd::Bench {
            quick, wan: true, ..
        } => xtask::bench::wan::run(&paths, quick),
        Cmd::Bench {
            quick,
            scale: true,
            orders,
            ..
        } => xtask::bench::scale::run(&paths, quick, &orders),
        Cmd::Bench { quick, .. } => xtask::bench::run(&paths, quick),
        Cmd::Profile {
            route,
            seconds,
            connections,
        } => xtask::profile::run(&paths, &route, connections, seconds),
        Cmd::Fuzz {
            runs,
            target,
            record,
        } => xtask::fuzz::run(&paths, runs, target.as_deref(), record),
        Cmd::Contract { seed, max_examples } => xtask::contract::run(&paths, seed, max_examples),
        Cmd::Soak { minutes, record } => xtask::soak::run(&paths, minutes, record),
        Cmd::Relay {
            config: Some(config),
            ..
        } => xtask::relay::daemon(&config),
        Cmd::Relay {
            listen: Some(listen),
            to: Some(to),
            rtt_ms,
            jitter_ms,
            bytes_per_sec,
            ..
        } => {
            let mut state = xtask::relay::LinkState::round_trip(
                std::time::Duration::from_millis(rtt_ms),
                std::time::Duration::from_millis(jitter_ms),
            );
            state.up.bytes_per_sec = bytes_per_sec;
            state.down.bytes_per_sec = bytes_per_sec;
            xtask::relay::foreground(listen, to, state)
        }
        Cmd::Relay { .. } => Err(anyhow::anyhow!("relay: --listen and --to, or --config")),
        Cmd::Logs { request, json } => xtask::logs::run(&paths, &request, json),
        Cmd::Seed { orders, batch } => Stack::open().and_then(|s| s.seed(orders, batch)),
        Cmd::Keys { new_signing_key } => match new_signing_key {
            None => {
                print!("{}", keys::render());
                Ok(())
            }
            Some(kid) => keys::new_signing_key(&kid).map(|text| print!("{text}")),
        },
    };
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
