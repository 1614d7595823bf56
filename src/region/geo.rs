use serde::Serialize;

/// A point on Earth in decimal degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GeoPoint {
    pub lat: f64,
    pub lon: f64,
}

impl GeoPoint {
    pub fn new(lat: f64, lon: f64) -> Result<Self, String> {
        if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
            return Err(format!(
                "{lat},{lon} is not a coordinate (latitude -90..90, longitude -180..180)"
            ));
        }
        Ok(GeoPoint { lat, lon })
    }

    /// Parses `"lat,lon"`, as written in `REGION_<CODE>_LOCATION`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let parts: Vec<&str> = raw.split(',').map(str::trim).collect();
        let [lat, lon] = parts.as_slice() else {
            return Err(format!("`{raw}` is not `latitude,longitude`"));
        };
        match (lat.parse::<f64>(), lon.parse::<f64>()) {
            (Ok(lat), Ok(lon)) if lat.is_finite() && lon.is_finite() => GeoPoint::new(lat, lon),
            _ => Err(format!(
                "`{raw}` is not `latitude,longitude` in decimal degrees"
            )),
        }
    }
}

const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Trigonometry from the runtime's `Math` in the bundle: Rust's own (libm) would add
/// about 3 KB gzipped to a bundle held under its 400 KB budget; natively, std's.
#[cfg(target_arch = "wasm32")]
mod trig {
    use worker::js_sys::Math;

    pub fn sin(x: f64) -> f64 {
        Math::sin(x)
    }
    pub fn cos(x: f64) -> f64 {
        Math::cos(x)
    }
    pub fn asin(x: f64) -> f64 {
        Math::asin(x)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod trig {
    pub fn sin(x: f64) -> f64 {
        x.sin()
    }
    pub fn cos(x: f64) -> f64 {
        x.cos()
    }
    pub fn asin(x: f64) -> f64 {
        x.asin()
    }
}

impl GeoPoint {
    /// Great-circle distance (haversine), in kilometres.
    pub fn distance_km(&self, other: &GeoPoint) -> f64 {
        let (lat1, lat2) = (self.lat.to_radians(), other.lat.to_radians());
        let dlat = lat2 - lat1;
        let dlon = (other.lon - self.lon).to_radians();
        let a = trig::sin(dlat / 2.0).powi(2)
            + trig::cos(lat1) * trig::cos(lat2) * trig::sin(dlon / 2.0).powi(2);
        2.0 * EARTH_RADIUS_KM * trig::asin(a.sqrt().min(1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_lat_lon() {
        assert_eq!(
            GeoPoint::parse("50.11, 8.68").unwrap(),
            GeoPoint {
                lat: 50.11,
                lon: 8.68
            }
        );
        for bad in [
            "",
            "50.11",
            "50.11,8.68,1",
            "north,east",
            "91,0",
            "0,181",
            "NaN,0",
        ] {
            assert!(GeoPoint::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn known_distances() {
        let paris = GeoPoint::new(48.8566, 2.3522).unwrap();
        let london = GeoPoint::new(51.5074, -0.1278).unwrap();
        let d = paris.distance_km(&london);
        assert!((d - 343.5).abs() < 2.0, "{d}");
        let dakar = GeoPoint::new(14.7167, -17.4677).unwrap();
        let frankfurt = GeoPoint::new(50.11, 8.68).unwrap();
        let d = dakar.distance_km(&frankfurt);
        assert!((4400.0..4700.0).contains(&d), "{d}");
        // Antipodes: half the circumference.
        let a = GeoPoint::new(0.0, 0.0).unwrap();
        let b = GeoPoint::new(0.0, 180.0).unwrap();
        assert!((a.distance_km(&b) - std::f64::consts::PI * EARTH_RADIUS_KM).abs() < 1e-6);
    }

    fn point() -> impl Strategy<Value = GeoPoint> {
        (-90.0f64..=90.0, -180.0f64..=180.0).prop_map(|(lat, lon)| GeoPoint { lat, lon })
    }

    proptest! {
        #[test]
        fn distance_is_a_metric(a in point(), b in point(), c in point()) {
            let ab = a.distance_km(&b);
            prop_assert!((0.0..=std::f64::consts::PI * EARTH_RADIUS_KM + 1e-6).contains(&ab));
            prop_assert!((ab - b.distance_km(&a)).abs() < 1e-6);
            prop_assert!(a.distance_km(&a) < 1e-6);
            prop_assert!(ab <= a.distance_km(&c) + c.distance_km(&b) + 1e-6);
        }
    }
}
