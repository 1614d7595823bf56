//! The WAN topology's processes: one relay process serving every link (changed by the
//! tests through its control port), and one edge per city.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

use super::{CITIES, CONTROL_PORT, City, edge_env, relay_config, single_region_env};
use crate::parts::{Part, PartKind};
use crate::paths::{Paths, StackPaths};
use crate::process::{self, Service};
use crate::relay::Control;
use crate::{ui, workerd};

/// The WAN parts of a stack. The topology is on while its relay configuration exists:
/// `up --wan` writes it, `down` removes it, and `up` in between keeps the WAN.
pub struct Wan<'a> {
    pub paths: &'a Paths,
    pub dirs: &'a StackPaths,
}

pub fn edge_url(city: &City) -> String {
    format!("http://127.0.0.1:{}", city.edge_port)
}

/// A city's "single region" baseline edge (`cargo xtask bench --wan`): the same bundle
/// and links, configured with the primary alone, as a Supabase project without replicas.
pub fn single_region_url(city: &City) -> String {
    format!("http://127.0.0.1:{}", single_region_port(city))
}

pub fn single_region_port(city: &City) -> u16 {
    city.edge_port + SINGLE_REGION_PORT_OFFSET
}

const SINGLE_REGION_PORT_OFFSET: u16 = 10;

impl Wan<'_> {
    fn config_file(&self) -> PathBuf {
        self.dirs.conf().join("wan-relays.json")
    }

    pub fn is_on(&self) -> bool {
        self.config_file().exists()
    }

    /// Turns the topology on: `up` starts its parts from now on.
    pub fn switch_on(&self) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(&relay_config())?;
        fs::write(self.config_file(), text)
            .with_context(|| format!("writing {}", self.config_file().display()))
    }

    pub fn control(&self) -> Control {
        Control(relay_config().control)
    }

    fn relay_service(&self) -> Service {
        Service {
            name: "WAN relays".into(),
            pid_file: self.dirs.pids().join("wan-relays.pid"),
            log_file: self.dirs.logs().join("wan-relays.log"),
            signature: "relay",
        }
    }

    fn edge_service(&self, city: &City) -> Service {
        Service {
            name: format!("edge {} (plain workerd)", city.name),
            pid_file: self.dirs.pids().join(format!("edge-{}.pid", city.slug())),
            log_file: self.dirs.logs().join(format!("edge-{}.log", city.slug())),
            signature: "workerd",
        }
    }

    fn single_region_service(&self, city: &City) -> Service {
        Service {
            name: format!("single-region edge {}", city.name),
            pid_file: self
                .dirs
                .pids()
                .join(format!("edge-single-{}.pid", city.slug())),
            log_file: self
                .dirs
                .logs()
                .join(format!("edge-single-{}.log", city.slug())),
            signature: "workerd",
        }
    }

    /// Each city's single-region baseline edge, beside its own; [`stop`](Self::stop)
    /// (and so `down`) stops them too.
    pub fn start_single_region_edges(&self) -> anyhow::Result<()> {
        for city in &CITIES {
            self.launch_edge(
                &self.single_region_service(city),
                city,
                "edges-single",
                single_region_port(city),
                &single_region_env(city),
            )?;
        }
        Ok(())
    }

    /// Serves the built bundle for `city` on `port`, behind the colo front worker, from
    /// its own folder under `conf/<folder>/`.
    fn launch_edge(
        &self,
        svc: &Service,
        city: &City,
        folder: &str,
        port: u16,
        env: &str,
    ) -> anyhow::Result<()> {
        ui::step(
            &format!("{} (colo {}) on :{port}", svc.name, city.colo),
            || {
                workerd::launch(
                    self.paths,
                    svc,
                    &self.dirs.conf().join(folder).join(city.slug()),
                    env,
                    port,
                    Some(city.colo),
                    None,
                )
            },
        )
    }

    pub fn stop_single_region_edges(&self, grace: Duration) -> anyhow::Result<Vec<(String, bool)>> {
        CITIES
            .iter()
            .map(|city| {
                let svc = self.single_region_service(city);
                Ok((svc.name.clone(), svc.stop(grace)?))
            })
            .collect()
    }

    /// Starts the relay process unless it answers; every link starts as the topology says.
    pub fn start_relays(&self) -> anyhow::Result<()> {
        let svc = self.relay_service();
        let control = self.control();
        if svc.running_pid().is_some() && control.answers() {
            ui::detail(&format!("{} already running", svc.name));
            return Ok(());
        }
        svc.stop(Duration::from_secs(5))?;
        if process::port_in_use(CONTROL_PORT) {
            bail!(
                "port {CONTROL_PORT} (WAN relay control) is taken by another program; stop it and try again"
            );
        }
        let links = relay_config().links.len();
        ui::step(
            &format!("WAN relays ({links} links, control on :{CONTROL_PORT})"),
            || {
                let mut command = Command::new(xtask_exe(self.paths)?);
                command.arg("relay").arg("--config").arg(self.config_file());
                svc.start(&mut command, Duration::from_secs(10), || control.answers())
            },
        )
    }

    /// Starts each city's edge that does not serve, or serves another bundle than the
    /// one built (plain workerd does not reload: after a build, an edge left running
    /// would be measured on the old code while the baselines start on the new).
    pub fn start_edges(&self) -> anyhow::Result<()> {
        if !self.paths.root.join("build/index.js").exists() {
            bail!("the gateway is not built; run `cargo xtask build`");
        }
        for city in &CITIES {
            let svc = self.edge_service(city);
            if svc.running_pid().is_some() && edge_serves(city) {
                if self.serves_the_build(city) {
                    ui::detail(&format!("{} already running", svc.name));
                    continue;
                }
                ui::detail(&format!(
                    "{} serves an older build: restarting it",
                    svc.name
                ));
            }
            self.launch_edge(&svc, city, "edges", city.edge_port, &edge_env(city))?;
        }
        Ok(())
    }

    /// Restarts `city`'s edge with some of its variables set otherwise (`bench --wan`
    /// compares one knob on the same edge); no overrides restores its own.
    pub fn relaunch_edge(&self, city: &City, overrides: &[(&str, &str)]) -> anyhow::Result<()> {
        let svc = self.edge_service(city);
        svc.stop(Duration::from_secs(5))?;
        let env = workerd::env_with(&edge_env(city), overrides);
        self.launch_edge(&svc, city, "edges", city.edge_port, &env)
    }

    /// Whether `city`'s edge was started from the bundle now in `build/`.
    fn serves_the_build(&self, city: &City) -> bool {
        let served = self.dirs.conf().join("edges").join(city.slug());
        ["index.js", "index_bg.wasm"].iter().all(|file| {
            match (
                fs::read(served.join(file)),
                fs::read(self.paths.root.join("build").join(file)),
            ) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            }
        })
    }

    /// Stops the edges and the relays and turns the topology off.
    pub fn stop(&self, grace: Duration) -> anyhow::Result<Vec<(String, bool)>> {
        let mut stopped = self.stop_single_region_edges(grace)?;
        for city in &CITIES {
            let svc = self.edge_service(city);
            stopped.push((svc.name.clone(), svc.stop(grace)?));
        }
        let relays = self.relay_service();
        stopped.push((relays.name.clone(), relays.stop(grace)?));
        let _ = fs::remove_file(self.config_file());
        Ok(stopped)
    }

    /// The relay process and each edge, for `status`.
    pub fn parts(&self) -> Vec<Part> {
        let relays = self.relay_service();
        let mut parts = vec![Part {
            name: relays.name.clone(),
            kind: PartKind::Relay,
            region: None,
            city: None,
            url: None,
            port: CONTROL_PORT,
            pid: relays.running_pid(),
            answering: self.control().answers(),
            detail: Some(format!("{} links", relay_config().links.len())),
        }];
        for city in &CITIES {
            let svc = self.edge_service(city);
            parts.push(Part {
                name: svc.name.clone(),
                kind: PartKind::Edge,
                region: None,
                city: Some(city.name),
                url: Some(edge_url(city)),
                port: city.edge_port,
                pid: svc.running_pid(),
                answering: edge_serves(city),
                detail: Some(format!("colo {}", city.colo)),
            });
        }
        parts
    }
}

fn edge_serves(city: &City) -> bool {
    workerd::serves(&format!("{}/status", edge_url(city)))
}

/// The relay process is this program run as `cargo xtask relay --config`: the running
/// xtask itself, or (from a test program) the one `cargo xtask` built.
fn xtask_exe(paths: &Paths) -> anyhow::Result<PathBuf> {
    let current = std::env::current_exe().context("finding the running program")?;
    if current.file_stem().is_some_and(|s| s == "xtask") {
        return Ok(current);
    }
    let built = paths.root.join("target/debug/xtask");
    if !built.exists() {
        bail!(
            "{} is missing; any `cargo xtask` command builds it",
            built.display()
        );
    }
    Ok(built)
}
