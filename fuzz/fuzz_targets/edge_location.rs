//! Where the edge is: `region::locate_edge` from the request's headers
//! (`x-payhuk-edge-region`, `x-vercel-id`, `x-vercel-ip-latitude/longitude`) and
//! Cloudflare's hints (colo, coordinates), under each combination of
//! `ALLOW_REGION_OVERRIDE` and `USE_CF_LOCATION`; and the small parsers under it
//! (`RegionCode::parse`, `GeoPoint::parse`, `colo`, `known_location`).
//!
//! Input: `<flags>\n<override>\n<cf colo>\n<cf lat,lon>\n<x-vercel-id>\n<lat>\n<lon>`;
//! flags: `o` allows the override, `c` uses `request.cf`; an empty field is an absent
//! header or hint.
//!
//! Invariants: the edge always counts as a configured region, at a valid point; an
//! error happens only for an override that names no configured region; each source
//! is used only when its switch and its input allow it.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use payhuk_edge::config::Config;
use payhuk_edge::region::{
    self, EDGE_REGION_OVERRIDE_HEADER, EdgeSource, GeoPoint, PlatformHints, RegionCode,
    known_location, locate_edge,
};
use payhuk_edge_fuzz::{Headers, config_with, fields, text};

fn configs() -> &'static [Config; 4] {
    static CONFIGS: OnceLock<[Config; 4]> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        [
            ("false", "false"),
            ("false", "true"),
            ("true", "false"),
            ("true", "true"),
        ]
        .map(|(allow, use_cf)| {
            config_with(&[
                ("ALLOW_REGION_OVERRIDE", allow),
                ("USE_CF_LOCATION", use_cf),
                ("DEFAULT_REGION", "sfo1"),
            ])
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fields(data, 7);
    let [flags, over, colo, coords, vercel_id, lat, lon] =
        [0, 1, 2, 3, 4, 5, 6].map(|i| text(f[i]));
    let (allow, use_cf) = (flags.contains('o'), flags.contains('c'));
    let config = &configs()[usize::from(allow) * 2 + usize::from(use_cf)];
    assert_eq!(
        (config.allow_region_override, config.use_cf_location),
        (allow, use_cf)
    );

    let mut headers = Headers::default();
    for (name, value) in [
        (EDGE_REGION_OVERRIDE_HEADER, &over),
        ("x-vercel-id", &vercel_id),
        ("x-vercel-ip-latitude", &lat),
        ("x-vercel-ip-longitude", &lon),
    ] {
        if !value.is_empty() {
            headers = headers.with(name, value);
        }
    }
    let cf_coordinates = coords
        .split_once(',')
        .and_then(|(a, b)| Some((a.trim().parse::<f64>().ok()?, b.trim().parse::<f64>().ok()?)));
    let hints = PlatformHints {
        cf_colo: (!colo.is_empty()).then(|| colo.clone()),
        cf_coordinates,
    };

    match locate_edge(&headers, &hints, config) {
        Ok(found) => {
            assert!(config.region(found.region.as_str()).is_some(), "{found:?}");
            assert!(
                GeoPoint::new(found.point.lat, found.point.lon).is_ok(),
                "{found:?}"
            );
            match found.source {
                EdgeSource::Override => assert!(allow && !over.is_empty()),
                EdgeSource::CfColo => {
                    let known = region::colo(&colo).expect("located by a known colo");
                    assert!(use_cf);
                    assert_eq!(found.colo.as_deref(), Some(known.code));
                    assert_eq!(found.colo, Some(colo.trim().to_ascii_uppercase()));
                    assert_eq!(found.city, Some(known.city));
                }
                EdgeSource::CfCoordinates => assert!(use_cf && cf_coordinates.is_some()),
                EdgeSource::Vercel => assert!(!vercel_id.is_empty()),
                EdgeSource::VercelIp => assert!(!lat.is_empty() && !lon.is_empty()),
                EdgeSource::Default => assert_eq!(found.region.as_str(), "sfo1"),
            }
            if allow && !over.is_empty() {
                assert_eq!(found.source, EdgeSource::Override);
            }
        }
        Err(err) => {
            assert!(allow && !over.is_empty(), "{err:?}");
            assert_eq!(err.status(), 400);
        }
    }

    // The parsers underneath, on every field.
    for raw in [&over, &colo, &coords, &vercel_id, &lat, &lon] {
        if let Ok(code) = RegionCode::parse(raw) {
            assert_eq!(code.as_str(), raw.trim());
            assert_eq!(RegionCode::parse(code.as_str()), Ok(code.clone()));
            assert_eq!(code.env_key(), code.as_str().to_ascii_uppercase());
        }
        if let Ok(point) = GeoPoint::parse(raw) {
            assert!(GeoPoint::new(point.lat, point.lon).is_ok());
            let d = point.distance_km(&GeoPoint::new(0.0, 0.0).unwrap());
            assert!((0.0..=20_040.0).contains(&d), "{d}");
        }
        if let Some(point) = region::colo(raw)
            .map(|c| c.point)
            .or_else(|| known_location(raw))
        {
            assert!(GeoPoint::new(point.lat, point.lon).is_ok());
        }
    }
});
