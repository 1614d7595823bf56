//! Applies `migrations/YYYYMMDDHHMMSS_name.sql` in order, each in its own transaction
//! together with its row in the ledger `payhuk_meta.schema_migrations`, then the dev
//! seed `migrations/seed.sql` once per database.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use crate::pg::Pg;
use crate::topology::Node;
use crate::{seed, ui};

pub const SEED_FILE: &str = "seed.sql";

const LEDGER_SQL: &str = "\
create schema if not exists payhuk_meta;
create table if not exists payhuk_meta.schema_migrations (
  version text primary key,
  name text not null,
  checksum text not null,
  applied_at timestamptz not null default now()
);
create table if not exists payhuk_meta.seed_runs (
  checksum text not null,
  applied_at timestamptz not null default now()
);
revoke all on schema payhuk_meta from public;";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub version: String,
    pub name: String,
    pub path: PathBuf,
    pub checksum: String,
}

/// Parses `20250128093000_partition_orders.sql` into its version and name.
pub fn parse_file_name(file_name: &str) -> Result<(String, String), String> {
    let stem = file_name
        .strip_suffix(".sql")
        .ok_or_else(|| format!("{file_name}: not a .sql file"))?;
    let (version, name) = stem
        .split_once('_')
        .ok_or_else(|| format!("{file_name}: expected YYYYMMDDHHMMSS_name.sql"))?;
    if version.len() != 14 || !version.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{file_name}: the version must be 14 digits (YYYYMMDDHHMMSS)"
        ));
    }
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(format!(
            "{file_name}: the name must be lowercase letters, digits and _"
        ));
    }
    Ok((version.to_owned(), name.to_owned()))
}

/// Every migration in `dir`, ordered by version. Any other `.sql` file except the seed
/// is an error, so a misnamed migration is never silently skipped.
pub fn discover(dir: &Path) -> anyhow::Result<Vec<Migration>> {
    let mut migrations = Vec::new();
    let mut problems = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !file_name.ends_with(".sql") || file_name == SEED_FILE {
            continue;
        }
        match parse_file_name(file_name) {
            Ok((version, name)) => {
                let checksum = hex_sha256(&fs::read(&path)?);
                migrations.push(Migration {
                    version,
                    name,
                    path,
                    checksum,
                });
            }
            Err(problem) => problems.push(problem),
        }
    }
    migrations.sort_by(|a, b| a.version.cmp(&b.version));
    for pair in migrations.windows(2) {
        if pair[0].version == pair[1].version {
            problems.push(format!("two migrations have version {}", pair[0].version));
        }
    }
    if !problems.is_empty() {
        bail!(
            "bad migration files in {}:\n  {}",
            dir.display(),
            problems.join("\n  ")
        );
    }
    Ok(migrations)
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What to do with each migration given what the ledger says was applied.
pub fn plan<'a>(
    migrations: &'a [Migration],
    applied: &[(String, String)],
) -> anyhow::Result<Vec<&'a Migration>> {
    let mut problems = Vec::new();
    for (version, checksum) in applied {
        match migrations.iter().find(|m| &m.version == version) {
            Some(m) if &m.checksum != checksum => problems.push(format!(
                "{} was changed after it was applied; add a new migration instead \
                 (or start over with `cargo xtask down --wipe`)",
                m.path.file_name().unwrap_or_default().to_string_lossy()
            )),
            Some(_) => {}
            None => problems.push(format!(
                "version {version} is in the database's ledger but not in migrations/"
            )),
        }
    }
    let latest_applied = applied.iter().map(|(v, _)| v.as_str()).max();
    let pending: Vec<&Migration> = migrations
        .iter()
        .filter(|m| !applied.iter().any(|(v, _)| *v == m.version))
        .collect();
    if let (Some(latest), Some(first)) = (latest_applied, pending.first())
        && first.version.as_str() < latest
    {
        problems.push(format!(
            "{} is older than the latest applied migration {latest}; give it a later version",
            first.path.file_name().unwrap_or_default().to_string_lossy()
        ));
    }
    if !problems.is_empty() {
        bail!(
            "migrations do not match the database:\n  {}",
            problems.join("\n  ")
        );
    }
    Ok(pending)
}

/// Applies pending migrations to `database` on `node`, those up to and including
/// version `until` when given; then, with `seed`, the dev seed once per database.
/// Returns how many migrations it applied.
pub fn apply(
    pg: &Pg,
    node: &Node,
    database: &str,
    dir: &Path,
    until: Option<&str>,
    seed: bool,
) -> anyhow::Result<usize> {
    let migrations: Vec<Migration> = discover(dir)?
        .into_iter()
        .filter(|m| until.is_none_or(|last| m.version.as_str() <= last))
        .collect();
    pg.sql_in(node, database, LEDGER_SQL)?;
    let applied: Vec<(String, String)> = pg
        .sql_in(
            node,
            database,
            "select version || ' ' || checksum from payhuk_meta.schema_migrations order by version",
        )?
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(v, c)| (v.to_owned(), c.to_owned()))
        .collect();
    let pending = plan(&migrations, &applied)?;
    if pending.is_empty() {
        ui::detail(&format!("migrations: all {} applied", migrations.len()));
    }
    for m in &pending {
        ui::detail(&format!("applying {}_{}", m.version, m.name));
        let record = format!(
            "insert into payhuk_meta.schema_migrations (version, name, checksum) \
             values ('{}', '{}', '{}')",
            m.version, m.name, m.checksum
        );
        pg.apply_file(node, database, &m.path, &record)?;
    }

    let seed_file = dir.join(SEED_FILE);
    if seed && seed_file.exists() {
        let seeded =
            pg.sql_in(node, database, "select count(*) from payhuk_meta.seed_runs")? != "0";
        if !seeded {
            ui::detail("loading the dev seed (migrations/seed.sql)");
            let record = format!(
                "insert into payhuk_meta.seed_runs (checksum) values ('{}')",
                hex_sha256(&fs::read(&seed_file)?)
            );
            pg.apply_file(node, database, &seed_file, &record)?;
            ui::detail(&format!(
                "generating {} demo orders over the last 12 months",
                seed::DEMO_ORDERS
            ));
            seed::generate_orders(
                pg,
                node,
                seed::DEMO_ORDERS,
                seed::DEFAULT_BATCH,
                1,
                false,
                seed::Extras::default(),
            )?;
        }
    }
    Ok(pending.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migration(version: &str, checksum: &str) -> Migration {
        Migration {
            version: version.into(),
            name: "x".into(),
            path: PathBuf::from(format!("{version}_x.sql")),
            checksum: checksum.into(),
        }
    }

    fn applied(rows: &[(&str, &str)]) -> Vec<(String, String)> {
        rows.iter()
            .map(|(v, c)| ((*v).into(), (*c).into()))
            .collect()
    }

    #[test]
    fn file_names() {
        assert_eq!(
            parse_file_name("20250128093000_partition_orders.sql").unwrap(),
            ("20250128093000".into(), "partition_orders".into())
        );
        for bad in [
            "2025_x.sql",
            "20250128093000.sql",
            "20250128093000_.sql",
            "20250128093000_Bad-Name.sql",
            "x20250128093000_a.sql",
            "20250128093000_a.txt",
        ] {
            assert!(parse_file_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plans_only_what_is_pending() {
        let all = [
            migration("20250101000000", "a"),
            migration("20250102000000", "b"),
        ];
        let pending = plan(&all, &applied(&[("20250101000000", "a")])).unwrap();
        assert_eq!(pending, [&all[1]]);
        assert!(
            plan(
                &all,
                &applied(&[("20250101000000", "a"), ("20250102000000", "b")])
            )
            .unwrap()
            .is_empty()
        );
    }

    #[test]
    fn refuses_edited_missing_and_out_of_order() {
        let all = [
            migration("20250101000000", "a"),
            migration("20250102000000", "b"),
        ];
        let err = plan(&all, &applied(&[("20250101000000", "changed")])).unwrap_err();
        assert!(
            err.to_string().contains("changed after it was applied"),
            "{err}"
        );
        let err = plan(&all, &applied(&[("20240101000000", "z")])).unwrap_err();
        assert!(err.to_string().contains("not in migrations/"), "{err}");
        let err = plan(&all, &applied(&[("20250102000000", "b")])).unwrap_err();
        assert!(
            err.to_string().contains("older than the latest applied"),
            "{err}"
        );
    }

    #[test]
    fn the_repository_migrations_are_well_formed() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
        let migrations = discover(&dir).unwrap();
        assert!(!migrations.is_empty());
    }
}
