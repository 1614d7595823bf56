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
    pub edge: EdgeLocation,
    pub checked_at: String,
    pub regions: Vec<RegionHealth>,
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicationHealth {
    pub wal_receiver: Option<String>,
    pub replay_paused: bool,
    pub lag_seconds: f64,
    /// Bytes the replica's replay is behind the primary's current position when the
    /// primary answered in the same check, else behind what the replica received.
    pub lag_bytes: u64,
}
