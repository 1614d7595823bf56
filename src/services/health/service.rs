use futures::future::join_all;

use super::lag::LagTracker;
use super::model::{
    HealthReport, HealthWarning, NodeStatus, OverallStatus, PartitionIssue, RegionHealth,
    ReplicationHealth, Role, WarningCode,
};
use crate::config::RegionConfig;
use crate::error::AppError;
use crate::region::{EdgeLocation, Lsn, RegionCode};
use crate::upstream::{Upstream, UpstreamReply};

pub const NODE_STATUS_RPC: &str = "node_status";

/// What asking one region gave.
#[derive(Debug)]
pub struct Probe {
    pub region: RegionConfig,
    pub outcome: Result<(NodeStatus, u64), ProbeFailure>,
}

#[derive(Debug)]
pub enum ProbeFailure {
    /// PostgREST could not be reached or did not answer in time.
    Unreachable(AppError),
    /// PostgREST answered, but not with a node status.
    BadAnswer(String),
}

/// Asks every region at once; a slow or dead region costs at most the timeout.
pub async fn probe_all<U: Upstream>(
    upstream: &U,
    regions: &[RegionConfig],
    service_key: &str,
) -> Vec<Probe> {
    let args = serde_json::json!({});
    join_all(regions.iter().map(|region| async {
        let outcome = match upstream
            .call_rpc(region, NODE_STATUS_RPC, &args, service_key)
            .await
        {
            Ok(reply) => parse_reply(&reply).map(|status| (status, reply.elapsed_ms)),
            Err(err) => Err(ProbeFailure::Unreachable(err)),
        };
        Probe {
            region: region.clone(),
            outcome,
        }
    }))
    .await
}

fn parse_reply(reply: &UpstreamReply) -> Result<NodeStatus, ProbeFailure> {
    if reply.status != 200 {
        // PostgREST errors are `{code, message, ...}`; show them as they are.
        let text = String::from_utf8_lossy(&reply.body);
        let message = serde_json::from_slice::<serde_json::Value>(&reply.body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| text.chars().take(200).collect());
        return Err(ProbeFailure::BadAnswer(format!(
            "PostgREST answered {}: {message}",
            reply.status
        )));
    }
    serde_json::from_slice(&reply.body).map_err(|e| {
        ProbeFailure::BadAnswer(format!("node_status() gave an unexpected shape: {e}"))
    })
}

/// Each region's health from the probes. Replica lag is measured against the primary
/// when exactly one node says it is primary: in bytes from its current position, in
/// seconds from `lag`'s samples of it. With none or several there is nothing sound to
/// compare to, and each replica's own view is used.
pub fn region_healths(probes: Vec<Probe>, lag: &mut LagTracker, now_ms: u64) -> Vec<RegionHealth> {
    let primaries: Vec<Lsn> = probes
        .iter()
        .filter_map(|p| match &p.outcome {
            Ok((status, _)) if !status.in_recovery => Some(status.current_lsn),
            _ => None,
        })
        .flatten()
        .collect();
    let primary_lsn = match primaries.as_slice() {
        [only] => Some(*only),
        _ => None,
    };
    if let Some(lsn) = primary_lsn {
        lag.record(now_ms, lsn);
    }
    probes
        .into_iter()
        .map(|probe| {
            let mut health = region_health(probe, primary_lsn);
            let replayed = health.lsn;
            if let (Some(_), Some(replication)) = (primary_lsn, health.replication.as_mut()) {
                replication.lag_seconds = if replication.lag_bytes == 0 {
                    0.0
                } else {
                    replayed
                        .and_then(|r| lag.seconds_behind(now_ms, r))
                        .unwrap_or(replication.lag_seconds)
                };
            }
            health
        })
        .collect()
}

/// What the nodes that answered as primary say is wrong with their partitions. A
/// standby's view is ignored: it only repeats the primary's, possibly older.
pub fn partition_warnings(probes: &[Probe]) -> Vec<HealthWarning> {
    probes
        .iter()
        .filter_map(|probe| match &probe.outcome {
            Ok((status, _)) if !status.in_recovery => {
                Some((&probe.region.code, status.partitions.as_deref()?))
            }
            _ => None,
        })
        .flat_map(|(region, issues)| {
            issues
                .iter()
                .flat_map(move |issue| partition_issue_warnings(region, issue))
        })
        .collect()
}

fn partition_issue_warnings(region: &RegionCode, issue: &PartitionIssue) -> Vec<HealthWarning> {
    let table = &issue.table;
    let mut warnings = Vec::new();
    if issue.rows_in_default > 0 {
        let count = issue.rows_in_default;
        let (rows, sit, their, they) = if count == 1 {
            ("row", "sits", "its", "it")
        } else {
            ("rows", "sit", "their", "they")
        };
        let at_least = if issue.rows_in_default_capped {
            "at least "
        } else {
            ""
        };
        warnings.push(HealthWarning {
            region: region.clone(),
            code: WarningCode::RowsInDefaultPartition,
            table: table.clone(),
            message: format!(
                "{at_least}{count} {rows} of {table} {sit} in its default partition: \
                 {their} month had no partition when {they} arrived; \
                 run move_default_partition_rows()"
            ),
            rows: Some(count),
            months: Vec::new(),
        });
    }
    if !issue.missing_months.is_empty() {
        // `2027-04-01` reads as the month it starts: `2027-04`.
        let months: Vec<&str> = issue
            .missing_months
            .iter()
            .map(|day| day.strip_suffix("-01").unwrap_or(day))
            .collect();
        warnings.push(HealthWarning {
            region: region.clone(),
            code: WarningCode::PartitionsMissingAhead,
            table: table.clone(),
            message: format!(
                "{table} has no partition for {} (months it should have ahead); \
                 run maintain_partitions()",
                months.join(", ")
            ),
            rows: None,
            months: issue.missing_months.clone(),
        });
    }
    warnings
}

/// `warnings` are passed through as they are: they do not change `status`.
pub fn build_report(
    edge: EdgeLocation,
    checked_at: String,
    regions: Vec<RegionHealth>,
    warnings: Vec<HealthWarning>,
) -> HealthReport {
    let primary_count = regions
        .iter()
        .filter(|r| r.role == Some(Role::Primary))
        .count();
    let all_well = regions.iter().all(RegionHealth::is_well);
    HealthReport {
        details: true,
        status: if all_well && primary_count == 1 {
            OverallStatus::Ok
        } else {
            OverallStatus::Degraded
        },
        edge,
        checked_at,
        regions,
        warnings,
    }
}

fn region_health(probe: Probe, primary_lsn: Option<Lsn>) -> RegionHealth {
    let region = probe.region.code;
    match probe.outcome {
        Ok((status, latency_ms)) if status.in_recovery => {
            let lag_bytes = match (primary_lsn, status.replay_lsn) {
                (Some(primary), Some(replayed)) => replayed.bytes_until(primary),
                _ => status.lag_bytes,
            };
            RegionHealth {
                region,
                reachable: true,
                role: Some(Role::Replica),
                latency_ms: Some(latency_ms),
                lsn: status.replay_lsn,
                replication: Some(ReplicationHealth {
                    wal_receiver: status.wal_receiver,
                    replay_paused: status.replay_paused,
                    lag_seconds: status.lag_seconds,
                    lag_bytes,
                }),
                error: None,
            }
        }
        Ok((status, latency_ms)) => RegionHealth {
            region,
            reachable: true,
            role: Some(Role::Primary),
            latency_ms: Some(latency_ms),
            lsn: status.current_lsn,
            replication: None,
            error: None,
        },
        Err(failure) => {
            let (reachable, error) = match failure {
                // The operator's view, cause included (bounded).
                ProbeFailure::Unreachable(err) => {
                    (false, err.log_line().unwrap_or_else(|| err.body().message))
                }
                ProbeFailure::BadAnswer(text) => (true, text),
            };
            RegionHealth {
                region,
                reachable,
                role: None,
                latency_ms: None,
                lsn: None,
                replication: None,
                error: Some(error),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use futures::executor::block_on;

    use super::*;
    use crate::region::{EdgeSource, GeoPoint, RegionCode};

    fn region(code: &str) -> RegionConfig {
        RegionConfig {
            code: RegionCode::parse(code).unwrap(),
            postgrest_url: format!("http://{code}.test"),
            location: GeoPoint::new(0.0, 0.0).unwrap(),
        }
    }

    fn edge() -> EdgeLocation {
        EdgeLocation {
            region: RegionCode::parse("fra1").unwrap(),
            point: GeoPoint::new(50.11, 8.68).unwrap(),
            source: EdgeSource::Override,
            colo: None,
            city: None,
        }
    }

    /// Answers from a table; a missing region is "connection refused".
    struct Scripted(HashMap<&'static str, (u16, &'static str)>);

    impl Upstream for Scripted {
        async fn call_rpc(
            &self,
            region: &RegionConfig,
            function: &str,
            _args: &serde_json::Value,
            bearer: &str,
        ) -> Result<UpstreamReply, AppError> {
            assert_eq!(function, NODE_STATUS_RPC);
            assert_eq!(bearer, "service-key");
            match self.0.get(region.code.as_str()) {
                Some((status, body)) => Ok(UpstreamReply {
                    status: *status,
                    body: body.as_bytes().to_vec(),
                    elapsed_ms: 7,
                }),
                None => Err(AppError::UpstreamUnreachable {
                    upstream: region.code.to_string(),
                    cause: "connection refused".into(),
                }),
            }
        }
    }

    const PRIMARY: &str = r#"{"in_recovery":false,"current_lsn":"0/5000100","receive_lsn":null,"replay_lsn":null,"replay_paused":false,"lag_seconds":0,"lag_bytes":0,"wal_receiver":null}"#;
    const STREAMING: &str = r#"{"in_recovery":true,"current_lsn":null,"receive_lsn":"0/5000100","replay_lsn":"0/5000100","replay_paused":false,"lag_seconds":0,"lag_bytes":0,"wal_receiver":"streaming"}"#;
    const PAUSED: &str = r#"{"in_recovery":true,"current_lsn":null,"receive_lsn":"0/5000100","replay_lsn":"0/5000000","replay_paused":true,"lag_seconds":12.5,"lag_bytes":256,"wal_receiver":"streaming"}"#;

    fn report(table: &[(&'static str, (u16, &'static str))]) -> HealthReport {
        report_at(table, &mut LagTracker::default(), 1000)
    }

    fn report_at(
        table: &[(&'static str, (u16, &'static str))],
        lag: &mut LagTracker,
        now_ms: u64,
    ) -> HealthReport {
        let upstream = Scripted(table.iter().copied().collect());
        let regions = [region("iad1"), region("sfo1"), region("fra1")];
        let probes = block_on(probe_all(&upstream, &regions, "service-key"));
        let warnings = partition_warnings(&probes);
        build_report(
            edge(),
            "now".into(),
            region_healths(probes, lag, now_ms),
            warnings,
        )
    }

    #[test]
    fn all_streaming_is_ok() {
        let report = report(&[
            ("iad1", (200, PRIMARY)),
            ("sfo1", (200, STREAMING)),
            ("fra1", (200, STREAMING)),
        ]);
        assert_eq!(report.status, OverallStatus::Ok);
        let roles: Vec<_> = report.regions.iter().map(|r| r.role).collect();
        assert_eq!(
            roles,
            [
                Some(Role::Primary),
                Some(Role::Replica),
                Some(Role::Replica)
            ]
        );
        assert_eq!(report.regions[0].lsn, Some(Lsn(0x0500_0100)));
        let rep = report.regions[1].replication.as_ref().unwrap();
        assert_eq!((rep.lag_bytes, rep.lag_seconds), (0, 0.0));
        assert_eq!(report.regions[1].latency_ms, Some(7));
    }

    #[test]
    fn a_dead_region_is_reported_not_fatal() {
        let report = report(&[("iad1", (200, PRIMARY)), ("sfo1", (200, STREAMING))]);
        assert_eq!(report.status, OverallStatus::Degraded);
        let fra1 = &report.regions[2];
        assert!(!fra1.reachable);
        assert_eq!(fra1.role, None);
        assert!(
            fra1.error
                .as_deref()
                .unwrap()
                .contains("connection refused")
        );
    }

    #[test]
    fn paused_replica_lag_is_measured_against_the_primary() {
        // The primary was first seen past fra1's replay position 12.5 s ago.
        let mut lag = LagTracker::default();
        lag.record(1000, Lsn(0x0500_0100));
        let report = report_at(
            &[
                ("iad1", (200, PRIMARY)),
                ("sfo1", (200, STREAMING)),
                ("fra1", (200, PAUSED)),
            ],
            &mut lag,
            13_500,
        );
        assert_eq!(report.status, OverallStatus::Degraded);
        let rep = report.regions[2].replication.as_ref().unwrap();
        assert!(rep.replay_paused);
        assert_eq!(rep.lag_bytes, 0x100);
        assert_eq!(rep.lag_seconds, 12.5);
    }

    #[test]
    fn without_a_primary_lag_falls_back_to_the_replica_view() {
        let report = report(&[("sfo1", (200, STREAMING)), ("fra1", (200, PAUSED))]);
        assert_eq!(report.status, OverallStatus::Degraded);
        assert_eq!(
            report.regions[2].replication.as_ref().unwrap().lag_bytes,
            256
        );
    }

    #[test]
    fn postgrest_errors_are_shown_as_answered() {
        let report = report(&[
            (
                "iad1",
                (
                    401,
                    r#"{"code":"PGRST301","message":"JWSError JWSInvalidSignature"}"#,
                ),
            ),
            ("sfo1", (200, "not json")),
            ("fra1", (200, STREAMING)),
        ]);
        let iad1 = &report.regions[0];
        assert!(iad1.reachable);
        assert_eq!(
            iad1.error.as_deref(),
            Some("PostgREST answered 401: JWSError JWSInvalidSignature")
        );
        assert!(
            report.regions[1]
                .error
                .as_deref()
                .unwrap()
                .contains("unexpected shape")
        );
        assert_eq!(report.status, OverallStatus::Degraded);
    }

    const PRIMARY_WITH_PARTITION_ISSUES: &str = r#"{"in_recovery":false,"current_lsn":"0/5000100","receive_lsn":null,"replay_lsn":null,"replay_paused":false,"lag_seconds":0,"lag_bytes":0,"wal_receiver":null,"partitions":[{"table":"public.analytics_events","rows_in_default":2,"rows_in_default_capped":false,"missing_months":[]},{"table":"public.orders","rows_in_default":0,"rows_in_default_capped":false,"missing_months":["2027-04-01","2027-05-01"]}]}"#;

    #[test]
    fn a_primary_reports_rows_in_default_and_missing_months_as_warnings() {
        let report = report(&[
            ("iad1", (200, PRIMARY_WITH_PARTITION_ISSUES)),
            ("sfo1", (200, STREAMING)),
            ("fra1", (200, STREAMING)),
        ]);
        let iad1 = RegionCode::parse("iad1").unwrap();
        assert_eq!(
            report.warnings,
            [
                HealthWarning {
                    region: iad1.clone(),
                    code: WarningCode::RowsInDefaultPartition,
                    table: "public.analytics_events".into(),
                    message: "2 rows of public.analytics_events sit in its default partition: \
                              their month had no partition when they arrived; \
                              run move_default_partition_rows()"
                        .into(),
                    rows: Some(2),
                    months: vec![],
                },
                HealthWarning {
                    region: iad1,
                    code: WarningCode::PartitionsMissingAhead,
                    table: "public.orders".into(),
                    message: "public.orders has no partition for 2027-04, 2027-05 \
                              (months it should have ahead); run maintain_partitions()"
                        .into(),
                    rows: None,
                    months: vec!["2027-04-01".into(), "2027-05-01".into()],
                },
            ]
        );
    }

    #[test]
    fn warnings_serialize_with_snake_case_codes_and_skip_what_does_not_apply() {
        let healthy = serde_json::to_value(report(&[("iad1", (200, PRIMARY))])).unwrap();
        assert_eq!(healthy["warnings"], serde_json::json!([]));
        let report = report(&[("iad1", (200, PRIMARY_WITH_PARTITION_ISSUES))]);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json["warnings"],
            serde_json::json!([
                {
                    "region": "iad1",
                    "code": "rows_in_default_partition",
                    "table": "public.analytics_events",
                    "message": report.warnings[0].message,
                    "rows": 2,
                },
                {
                    "region": "iad1",
                    "code": "partitions_missing_ahead",
                    "table": "public.orders",
                    "message": report.warnings[1].message,
                    "months": ["2027-04-01", "2027-05-01"],
                },
            ])
        );
    }

    #[test]
    fn a_capped_count_of_rows_in_default_says_at_least() {
        const CAPPED: &str = r#"{"in_recovery":false,"current_lsn":"0/5000100","receive_lsn":null,"replay_lsn":null,"wal_receiver":null,"partitions":[{"table":"public.analytics_events","rows_in_default":10000,"rows_in_default_capped":true,"missing_months":[]}]}"#;
        let report = report(&[("iad1", (200, CAPPED))]);
        let [warning] = report.warnings.as_slice() else {
            panic!("one warning: {:?}", report.warnings);
        };
        assert_eq!(warning.rows, Some(10000));
        assert!(
            warning
                .message
                .starts_with("at least 10000 rows of public.analytics_events sit"),
            "{}",
            warning.message
        );
    }

    #[test]
    fn partition_issues_from_a_standby_are_ignored() {
        const STANDBY_WITH_PARTITIONS: &str = r#"{"in_recovery":true,"current_lsn":null,"receive_lsn":"0/5000100","replay_lsn":"0/5000100","replay_paused":false,"lag_seconds":0,"lag_bytes":0,"wal_receiver":"streaming","partitions":[{"table":"public.orders","rows_in_default":5,"rows_in_default_capped":false,"missing_months":["2027-04-01"]}]}"#;
        const STANDBY_WITH_NULL: &str = r#"{"in_recovery":true,"current_lsn":null,"receive_lsn":"0/5000100","replay_lsn":"0/5000100","replay_paused":false,"lag_seconds":0,"lag_bytes":0,"wal_receiver":"streaming","partitions":null}"#;
        let report = report(&[
            ("iad1", (200, PRIMARY)),
            ("sfo1", (200, STANDBY_WITH_PARTITIONS)),
            ("fra1", (200, STANDBY_WITH_NULL)),
        ]);
        assert_eq!(report.status, OverallStatus::Ok);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    }

    #[test]
    fn node_status_without_partitions_parses_and_warns_of_nothing() {
        // PRIMARY and STREAMING are what node_status() gave before the key existed.
        assert!(!PRIMARY.contains("partitions") && !STREAMING.contains("partitions"));
        let report = report(&[
            ("iad1", (200, PRIMARY)),
            ("sfo1", (200, STREAMING)),
            ("fra1", (200, STREAMING)),
        ]);
        assert!(report.regions.iter().all(|r| r.error.is_none()));
        assert!(report.warnings.is_empty());
    }

    #[test]
    fn warnings_leave_the_status_ok() {
        let report = report(&[
            ("iad1", (200, PRIMARY_WITH_PARTITION_ISSUES)),
            ("sfo1", (200, STREAMING)),
            ("fra1", (200, STREAMING)),
        ]);
        assert_eq!(report.warnings.len(), 2);
        assert_eq!(report.status, OverallStatus::Ok);
    }

    #[test]
    fn two_primaries_are_degraded() {
        let report = report(&[
            ("iad1", (200, PRIMARY)),
            ("sfo1", (200, PRIMARY)),
            ("fra1", (200, STREAMING)),
        ]);
        assert_eq!(report.status, OverallStatus::Degraded);
    }
}
