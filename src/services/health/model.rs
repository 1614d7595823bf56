use serde::{Deserialize, Serialize};

use crate::region::{EdgeLocation, Lsn, RegionCode};

/// What the `node_status()` SQL function reports about the node it runs on.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NodeStatus {
    pub in_recovery: bool,
    /// The primary's insert position; `None` on a standby.
    pub current_lsn: Option<Lsn>,
    /// How far a standby has received and replayed; `None` on a primary.
    pub receive_lsn: Option<Lsn>,
    pub replay_lsn: Option<Lsn>,
    #[serde(default)]
    pub replay_paused: bool,
    /// Seconds since the last replayed transaction, zero when all received WAL is replayed.
    #[serde(default)]
    pub lag_seconds: f64,
    /// WAL received but not yet replayed.
    #[serde(default)]
    pub lag_bytes: u64,
    /// `pg_stat_wal_receiver.status` (`streaming`, ...), `None` when no receiver runs.
    pub wal_receiver: Option<String>,
    /// Partitioned tables with a problem, primary only: `None` on a standby and from
    /// `node_status()` versions older than the key.
    #[serde(default)]
    pub partitions: Option<Vec<PartitionIssue>>,
}

/// One partitioned table that `node_status()` found wanting.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct PartitionIssue {
    /// Schema-qualified: `public.orders`.
    pub table: String,
    /// Rows in the default partition, counted up to a cap.
    pub rows_in_default: u64,
    /// The count hit the cap: there are at least `rows_in_default`.
    pub rows_in_default_capped: bool,
    /// First days (`YYYY-MM-01`, UTC) of months up to the premake horizon with no partition.
    pub missing_months: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Primary,
    Replica,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OverallStatus {
    /// Every region answered, one primary, every replica streaming and replaying.
    Ok,
    /// Something above is not so; the regions say what.
    Degraded,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    pub status: OverallStatus,
    /// Always true here; the report anyone may see ([`PublicHealthReport`]) says false.
    pub details: bool,
    pub edge: EdgeLocation,
    pub checked_at: String,
    pub regions: Vec<RegionHealth>,
    /// Things an operator should fix that do not stop any region serving; they never
    /// change `status`, which is only about regions answering and replicating.
    pub warnings: Vec<HealthWarning>,
}

/// A problem a primary reports about its own data, with what to run about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthWarning {
    /// The primary that reported it.
    pub region: RegionCode,
    pub code: WarningCode,
    pub table: String,
    pub message: String,
    /// Rows in the default partition (`RowsInDefaultPartition`), counted up to a cap;
    /// the message says "at least" when the cap was hit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// First days (`YYYY-MM-01`) of the months without a partition (`PartitionsMissingAhead`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub months: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    /// Rows arrived for a month without a partition; `move_default_partition_rows()`.
    RowsInDefaultPartition,
    /// Months ahead have no partition yet; `maintain_partitions()`.
    PartitionsMissingAhead,
}

/// `/health` for anyone who is not an operator: whether each region serves, and
/// nothing about WAL positions, lag figures or upstream errors (`node_status()` is
/// gateway-only for a reason).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicHealthReport {
    pub status: OverallStatus,
    pub details: bool,
    pub edge: EdgeLocation,
    pub checked_at: String,
    pub regions: Vec<RegionSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionSummary {
    pub region: RegionCode,
    pub status: RegionState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionState {
    /// Answering, and a replica streaming and replaying.
    Ok,
    /// Answering, but not all is well (no role known, replication stopped or paused).
    Degraded,
    Unreachable,
}

impl From<&HealthReport> for PublicHealthReport {
    fn from(report: &HealthReport) -> Self {
        PublicHealthReport {
            status: report.status,
            details: false,
            edge: report.edge.clone(),
            checked_at: report.checked_at.clone(),
            regions: report
                .regions
                .iter()
                .map(|r| RegionSummary {
                    region: r.region.clone(),
                    status: if !r.reachable {
                        RegionState::Unreachable
                    } else if r.is_well() {
                        RegionState::Ok
                    } else {
                        RegionState::Degraded
                    },
                })
                .collect(),
        }
    }
}

/// The latest probe round as an isolate keeps it: what `/health` shows and routing uses.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthSnapshot {
    /// When the round's answers were taken in, in ms since the epoch.
    pub taken_ms: u64,
    pub regions: Vec<RegionHealth>,
    pub warnings: Vec<HealthWarning>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionHealth {
    pub region: RegionCode,
    /// PostgREST answered at all.
    pub reachable: bool,
    /// What the node says it is; `None` when it could not be asked.
    pub role: Option<Role>,
    pub latency_ms: Option<u64>,
    /// The primary's WAL insert position, or the replica's replay position.
    pub lsn: Option<Lsn>,
    /// Present for replicas.
    pub replication: Option<ReplicationHealth>,
    pub error: Option<String>,
}

impl RegionHealth {
    /// Answering with a role, and a replica streaming and replaying.
    pub fn is_well(&self) -> bool {
        self.reachable
            && self.role.is_some()
            && self.replication.as_ref().is_none_or(|rep| {
                rep.wal_receiver.as_deref() == Some("streaming") && !rep.replay_paused
            })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicationHealth {
    pub wal_receiver: Option<String>,
    pub replay_paused: bool,
    pub lag_seconds: f64,
    /// Bytes the replica's replay is behind the primary's current position when the
    /// primary answered in the same check, else behind what the replica received.
    pub lag_bytes: u64,
}
