//! Trying read targets in order until one serves.

use std::future::Future;

use crate::error::AppError;

use super::outlier::Evidence;
use super::policy::Target;

/// What one attempt on one target gave.
#[derive(Debug)]
pub enum Attempt<R> {
    /// An answer to pass on (a success, or the client's own error).
    Served(R),
    /// This target cannot serve it now; the next may. `evidence` says what it tells of
    /// the node itself (unreachable or failing, slow), none when the node is only
    /// behind the client's last write, shedding load, or failed this one request.
    Skip {
        error: AppError,
        evidence: Option<Evidence>,
    },
}

#[derive(Debug)]
pub struct Served<R> {
    pub target: Target,
    pub response: R,
    /// Targets tried before, and why each was passed over.
    pub passed_over: Vec<(Target, String)>,
}

/// Tries `targets` in order; `on_node_failed` is told of each node found unwell, and
/// the evidence, so the caller can keep the evidence. When none serves, 503 listing what each
/// said; when every one was shedding load, that 503 (the client should back off, not
/// hear that regions are down).
pub async fn first_that_serves<R, F, Fut>(
    targets: &[Target],
    mut attempt: F,
    mut on_node_failed: impl FnMut(&Target, Evidence),
) -> Result<Served<R>, AppError>
where
    F: FnMut(Target) -> Fut,
    Fut: Future<Output = Attempt<R>>,
{
    let mut passed_over = Vec::new();
    let mut shed = None;
    let mut only_shed = true;
    for target in targets {
        match attempt(target.clone()).await {
            Attempt::Served(response) => {
                return Ok(Served {
                    target: target.clone(),
                    response,
                    passed_over,
                });
            }
            Attempt::Skip { error, evidence } => {
                if let Some(evidence) = evidence {
                    on_node_failed(target, evidence);
                }
                passed_over.push((target.clone(), error.body().message));
                match error {
                    AppError::Overloaded { .. } => {
                        shed.get_or_insert(error);
                    }
                    _ => only_shed = false,
                }
            }
        }
    }
    if let (true, Some(shed)) = (only_shed, shed) {
        return Err(shed);
    }
    let reason = if passed_over.is_empty() {
        "no region can serve reads right now".to_owned()
    } else {
        let tried: Vec<String> = passed_over
            .iter()
            .map(|(t, why)| format!("{t}: {why}"))
            .collect();
        format!("no region could serve this read ({})", tried.join("; "))
    };
    Err(AppError::Unavailable {
        reason,
        retry_after_secs: 1,
    })
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::region::RegionCode;

    fn replica(code: &str) -> Target {
        Target::Replica(RegionCode::parse(code).unwrap())
    }

    fn unreachable(code: &str) -> AppError {
        AppError::UpstreamUnreachable {
            upstream: code.into(),
            cause: "refused".into(),
        }
    }

    #[test]
    fn falls_through_to_the_first_that_serves_and_reports_failures() {
        let targets = [
            replica("fra1"),
            replica("sfo1"),
            Target::Primary(RegionCode::parse("iad1").unwrap()),
        ];
        let mut failed = Vec::new();
        let served = block_on(first_that_serves(
            &targets,
            |t| async move {
                match t.region().as_str() {
                    "fra1" => Attempt::Skip {
                        error: unreachable("fra1"),
                        evidence: Some(Evidence::Dead),
                    },
                    "sfo1" => Attempt::Skip {
                        error: AppError::Unavailable {
                            reason: "behind".into(),
                            retry_after_secs: 1,
                        },
                        evidence: None,
                    },
                    _ => Attempt::Served("rows"),
                }
            },
            |t, _| failed.push(t.to_string()),
        ))
        .unwrap();
        assert_eq!(served.target.to_string(), "primary:iad1");
        assert_eq!(served.response, "rows");
        assert_eq!(served.passed_over.len(), 2);
        assert_eq!(
            failed,
            ["replica:fra1"],
            "only the unwell node is marked down"
        );
    }

    #[test]
    fn nothing_serves_is_503_naming_each_target() {
        let targets = [replica("fra1")];
        let err = block_on(first_that_serves::<(), _, _>(
            &targets,
            |_| async {
                Attempt::Skip {
                    error: unreachable("fra1"),
                    evidence: Some(Evidence::Dead),
                }
            },
            |_, _| {},
        ))
        .unwrap_err();
        assert_eq!(err.status(), 503);
        assert!(
            err.body()
                .message
                .contains("replica:fra1: upstream fra1 is unreachable"),
            "{err}"
        );
        let shed = |code: &str| AppError::Overloaded {
            upstream: code.into(),
            retry_after_secs: 1,
        };
        let err = block_on(first_that_serves::<(), _, _>(
            &[replica("fra1"), replica("sfo1")],
            |t| async move {
                Attempt::Skip {
                    error: shed(t.region().as_str()),
                    evidence: None,
                }
            },
            |_, _| {},
        ))
        .unwrap_err();
        assert_eq!(err.code(), "PHK529", "every node shedding: {err}");
        let err = block_on(first_that_serves::<(), _, _>(
            &[replica("fra1"), replica("sfo1")],
            |t| async move {
                match t.region().as_str() {
                    "fra1" => Attempt::Skip {
                        error: shed("fra1"),
                        evidence: None,
                    },
                    _ => Attempt::Skip {
                        error: unreachable("sfo1"),
                        evidence: Some(Evidence::Dead),
                    },
                }
            },
            |_, _| {},
        ))
        .unwrap_err();
        assert_eq!(err.code(), "PHK503", "one shedding, one down: {err}");
        let err = block_on(first_that_serves::<(), _, _>(
            &[],
            |_| async { unreachable!() },
            |_, _| {},
        ))
        .unwrap_err();
        assert_eq!(err.status(), 503);
    }
}
