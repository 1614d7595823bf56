//! Where this edge is for one request, and which configured region it counts as.
//!
//! Sources, first match wins:
//! 1. `x-payhuk-edge-region: <region>`, only when `ALLOW_REGION_OVERRIDE` is true;
//! 2. Cloudflare's `request.cf.colo`, through the colo table;
//! 3. Cloudflare's `request.cf` latitude/longitude;
//! 4. Vercel's `x-vercel-id` (the function region it names);
//! 5. Vercel's `x-vercel-ip-latitude` / `x-vercel-ip-longitude`;
//! 6. `DEFAULT_REGION`.
//!
//! (2) and (3) are skipped when `USE_CF_LOCATION` is false: offline, `wrangler dev`
//! fills `request.cf` with a placeholder.

use serde::Serialize;

use super::{GeoPoint, RegionCode, colo};
use crate::config::{Config, RegionConfig};
use crate::error::AppError;

/// Lets a developer (or a test) play any edge region; honoured only when the
/// deployment sets `ALLOW_REGION_OVERRIDE=true`.
pub const EDGE_REGION_OVERRIDE_HEADER: &str = "x-payhuk-edge-region";

/// Read access to the request's headers, so this module stays free of `worker` types.
pub trait HeaderLookup {
    fn header(&self, name: &str) -> Option<String>;
}

/// What Cloudflare's `request.cf` says about where the request entered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlatformHints {
    pub cf_colo: Option<String>,
    pub cf_coordinates: Option<(f64, f64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeSource {
    Override,
    CfColo,
    CfCoordinates,
    Vercel,
    VercelIp,
    Default,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EdgeLocation {
    /// The configured region this edge counts as: the one named, or the nearest.
    pub region: RegionCode,
    /// Where distances to the regions are measured from.
    pub point: GeoPoint,
    pub source: EdgeSource,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colo: Option<String>,
    /// The city the colo is named for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<&'static str>,
}

pub fn locate_edge(
    headers: &impl HeaderLookup,
    hints: &PlatformHints,
    config: &Config,
) -> Result<EdgeLocation, AppError> {
    if config.allow_region_override
        && let Some(raw) = headers.header(EDGE_REGION_OVERRIDE_HEADER)
    {
        let region = RegionCode::parse(&raw)
            .ok()
            .and_then(|code| config.region(code.as_str()))
            .ok_or_else(|| unknown_override(&raw, config))?;
        return Ok(at_region(region, EdgeSource::Override, None));
    }

    if config.use_cf_location {
        if let Some(found) = hints.cf_colo.as_deref().and_then(colo) {
            let mut located = at_point(
                found.point,
                EdgeSource::CfColo,
                Some(found.code.to_owned()),
                config,
            );
            located.city = Some(found.city);
            return Ok(located);
        }
        if let Some((lat, lon)) = hints.cf_coordinates
            && let Ok(point) = GeoPoint::new(lat, lon)
        {
            return Ok(at_point(point, EdgeSource::CfCoordinates, None, config));
        }
    }

    // `x-vercel-id` is `<edge pop>::<function region>::<request id>`; the function
    // region is the one this code runs in.
    if let Some(id) = headers.header("x-vercel-id") {
        let mut segments: Vec<&str> = id.split("::").collect();
        segments.pop();
        if let Some(region) = segments.iter().rev().find_map(|s| config.region(s)) {
            return Ok(at_region(region, EdgeSource::Vercel, None));
        }
    }
    if let (Some(lat), Some(lon)) = (
        headers.header("x-vercel-ip-latitude"),
        headers.header("x-vercel-ip-longitude"),
    ) && let (Ok(lat), Ok(lon)) = (lat.trim().parse::<f64>(), lon.trim().parse::<f64>())
        && let Ok(point) = GeoPoint::new(lat, lon)
    {
        return Ok(at_point(point, EdgeSource::VercelIp, None, config));
    }

    let default = config
        .region(config.default_region.as_str())
        .expect("config guarantees DEFAULT_REGION is configured");
    Ok(at_region(default, EdgeSource::Default, None))
}

fn at_region(region: &RegionConfig, source: EdgeSource, colo: Option<String>) -> EdgeLocation {
    EdgeLocation {
        region: region.code.clone(),
        point: region.location,
        source,
        colo,
        city: None,
    }
}

fn at_point(
    point: GeoPoint,
    source: EdgeSource,
    colo: Option<String>,
    config: &Config,
) -> EdgeLocation {
    EdgeLocation {
        region: nearest_region(&point, &config.regions).code.clone(),
        point,
        source,
        colo,
        city: None,
    }
}

/// The configured region nearest to `point`; ties go to the smaller code.
pub fn nearest_region<'a>(point: &GeoPoint, regions: &'a [RegionConfig]) -> &'a RegionConfig {
    regions
        .iter()
        .min_by(|a, b| {
            point
                .distance_km(&a.location)
                .total_cmp(&point.distance_km(&b.location))
                .then_with(|| a.code.cmp(&b.code))
        })
        .expect("config guarantees at least one region")
}

fn unknown_override(raw: &str, config: &Config) -> AppError {
    AppError::BadRequest {
        message: format!("{EDGE_REGION_OVERRIDE_HEADER} names no configured region"),
        details: Some(format!(
            "got `{raw}`; configured: {}",
            config
                .regions
                .iter()
                .map(|r| r.code.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::test_support::config_with;

    fn config(allow_override: bool, use_cf: bool) -> Config {
        config_with(&[
            ("DEFAULT_REGION", "sfo1"),
            (
                "ALLOW_REGION_OVERRIDE",
                if allow_override { "true" } else { "false" },
            ),
            ("USE_CF_LOCATION", if use_cf { "true" } else { "false" }),
        ])
    }

    fn locate(
        allow: bool,
        use_cf: bool,
        headers: &[(&'static str, &'static str)],
        hints: PlatformHints,
    ) -> Result<EdgeLocation, AppError> {
        locate_edge(
            &headers.iter().copied().collect::<HashMap<_, _>>(),
            &hints,
            &config(allow, use_cf),
        )
    }

    fn dakar() -> PlatformHints {
        PlatformHints {
            cf_colo: Some("DKR".into()),
            cf_coordinates: Some((14.7, -17.4)),
        }
    }

    #[test]
    fn override_wins_only_when_allowed() {
        let headers = [(EDGE_REGION_OVERRIDE_HEADER, "fra1")];
        let found = locate(true, true, &headers, dakar()).unwrap();
        assert_eq!(
            (found.region.as_str(), found.source),
            ("fra1", EdgeSource::Override)
        );
        let found = locate(false, true, &headers, dakar()).unwrap();
        assert_eq!(found.source, EdgeSource::CfColo);
    }

    #[test]
    fn unknown_override_is_a_client_error() {
        let err = locate(
            true,
            true,
            &[(EDGE_REGION_OVERRIDE_HEADER, "cdg1")],
            PlatformHints::default(),
        )
        .unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.body().details.unwrap().contains("iad1, sfo1, fra1"));
    }

    #[test]
    fn a_west_african_colo_counts_as_frankfurt() {
        let found = locate(false, true, &[], dakar()).unwrap();
        assert_eq!(found.region.as_str(), "fra1");
        assert_eq!(found.colo.as_deref(), Some("DKR"));
        assert_eq!(found.point, colo("DKR").unwrap().point);
        assert_eq!(found.city, Some("Dakar"));
    }

    #[test]
    fn cf_coordinates_when_the_colo_is_unknown() {
        let hints = PlatformHints {
            cf_colo: Some("ZZZ".into()),
            cf_coordinates: Some((45.5, -122.6)),
        };
        let found = locate(false, true, &[], hints).unwrap();
        assert_eq!(
            (found.region.as_str(), found.source),
            ("sfo1", EdgeSource::CfCoordinates)
        );
    }

    #[test]
    fn cf_is_ignored_when_configured_so() {
        let found = locate(false, false, &[], dakar()).unwrap();
        assert_eq!(
            (found.region.as_str(), found.source),
            ("sfo1", EdgeSource::Default)
        );
    }

    #[test]
    fn vercel_headers() {
        let found = locate(
            false,
            false,
            &[("x-vercel-id", "cdg1::fra1::abcde-1700000000000-0123")],
            dakar(),
        )
        .unwrap();
        assert_eq!(
            (found.region.as_str(), found.source),
            ("fra1", EdgeSource::Vercel)
        );
        // An id naming no configured region, then the client's coordinates.
        let found = locate(
            false,
            false,
            &[
                ("x-vercel-id", "cdg1::hnd1::abcde"),
                ("x-vercel-ip-latitude", "40.7"),
                ("x-vercel-ip-longitude", "-74.0"),
            ],
            PlatformHints::default(),
        )
        .unwrap();
        assert_eq!(
            (found.region.as_str(), found.source),
            ("iad1", EdgeSource::VercelIp)
        );
        // The request id is never taken for a region; bad coordinates are ignored.
        let found = locate(
            false,
            false,
            &[
                ("x-vercel-id", "fra1"),
                ("x-vercel-ip-latitude", "north"),
                ("x-vercel-ip-longitude", "1"),
            ],
            PlatformHints::default(),
        )
        .unwrap();
        assert_eq!(found.source, EdgeSource::Default);
    }

    #[test]
    fn nearest_region_breaks_ties_by_code() {
        let config = config(false, false);
        let mut regions = config.regions.clone();
        regions[1].location = regions[0].location; // sfo1 placed exactly at iad1
        let nearest = nearest_region(&regions[0].location, &regions);
        assert_eq!(nearest.code.as_str(), "iad1");
    }
}
