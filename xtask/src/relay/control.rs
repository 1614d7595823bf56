//! Changing a running relay's links from another process (the stack tests, the
//! benchmarks): one JSON request per line on a loopback port, one JSON answer per line,
//! which is every link as it is after the request.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{Fault, LinkSpec, LinkState, Links, link, specs};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Request {
    Links,
    Set { link: String, state: LinkState },
    Fault { link: String, fault: Fault },
}

type Reply = Result<Vec<LinkSpec>, String>;

pub(super) async fn serve(listener: TcpListener, links: Arc<Links>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let links = links.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut lines = tokio::io::BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let reply = answer(&links, &line);
                let mut text = serde_json::to_string(&reply).unwrap_or_default();
                text.push('\n');
                if write.write_all(text.as_bytes()).await.is_err() {
                    return;
                }
            }
        });
    }
}

fn answer(links: &Links, line: &str) -> Reply {
    let request: Request =
        serde_json::from_str(line).map_err(|e| format!("not a relay request ({e}): {line}"))?;
    let outcome = match request {
        Request::Links => Ok(()),
        Request::Set { link: name, state } => link(links, &name).map(|(_, _, sender)| {
            sender.send_replace(state);
        }),
        Request::Fault { link: name, fault } => {
            link(links, &name).map(|(_, _, sender)| sender.send_modify(|s| s.fault = fault))
        }
    };
    outcome.map_err(|e| format!("{e:#}"))?;
    Ok(specs(links))
}

/// A running relay's control port, seen from another process.
#[derive(Debug, Clone, Copy)]
pub struct Control(pub SocketAddr);

impl Control {
    /// Every link, as it is now.
    pub fn links(&self) -> anyhow::Result<Vec<LinkSpec>> {
        self.call(&Request::Links)
    }

    pub fn state(&self, name: &str) -> anyhow::Result<LinkState> {
        self.links()?
            .into_iter()
            .find(|l| l.name == name)
            .map(|l| l.state)
            .with_context(|| format!("no relay link named {name}"))
    }

    /// Changes `name`'s behaviour, for its open connections too.
    pub fn set(&self, name: &str, state: LinkState) -> anyhow::Result<()> {
        self.call(&Request::Set {
            link: name.to_owned(),
            state,
        })
        .map(drop)
    }

    pub fn set_fault(&self, name: &str, fault: Fault) -> anyhow::Result<()> {
        self.call(&Request::Fault {
            link: name.to_owned(),
            fault,
        })
        .map(drop)
    }

    /// The control port answers (the relay process is up).
    pub fn answers(&self) -> bool {
        self.links().is_ok()
    }

    fn call(&self, request: &Request) -> anyhow::Result<Vec<LinkSpec>> {
        let what = || format!("relay control on {}", self.0);
        let mut stream =
            TcpStream::connect_timeout(&self.0, Duration::from_secs(2)).with_context(what)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut line = serde_json::to_string(request)?;
        line.push('\n');
        stream.write_all(line.as_bytes()).with_context(what)?;
        let mut answer = String::new();
        BufReader::new(stream)
            .read_line(&mut answer)
            .with_context(what)?;
        let reply: Reply = serde_json::from_str(&answer)
            .with_context(|| format!("{}: unreadable answer {answer:?}", what()))?;
        reply.map_err(|e| anyhow::anyhow!("{}: {e}", what()))
    }
}
