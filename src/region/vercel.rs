use super::GeoPoint;

/// Where Vercel's function regions are, so a deployment only has to name them.
const VERCEL_REGIONS: &[(&str, f64, f64)] = &[
    ("arn1", 59.33, 18.07),   // Stockholm
    ("bom1", 19.08, 72.88),   // Mumbai
    ("cdg1", 48.86, 2.35),    // Paris
    ("cle1", 41.50, -81.69),  // Cleveland
    ("cpt1", -33.92, 18.42),  // Cape Town
    ("dub1", 53.35, -6.26),   // Dublin
    ("dxb1", 25.20, 55.27),   // Dubai
    ("fra1", 50.11, 8.68),    // Frankfurt
    ("gru1", -23.55, -46.63), // Sao Paulo
    ("hkg1", 22.32, 114.17),  // Hong Kong
    ("hnd1", 35.68, 139.65),  // Tokyo
    ("iad1", 38.95, -77.45),  // Washington, D.C. (Ashburn)
    ("icn1", 37.57, 126.98),  // Seoul
    ("kix1", 34.69, 135.50),  // Osaka
    ("lhr1", 51.51, -0.13),   // London
    ("pdx1", 45.52, -122.68), // Portland
    ("sfo1", 37.77, -122.42), // San Francisco
    ("sin1", 1.35, 103.82),   // Singapore
    ("syd1", -33.87, 151.21), // Sydney
];

/// The location of a known Vercel region, if `code` is one.
pub fn known_location(code: &str) -> Option<GeoPoint> {
    VERCEL_REGIONS
        .iter()
        .find(|(known, _, _)| *known == code)
        .map(|&(_, lat, lon)| GeoPoint { lat, lon })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_three_payhuk_regions() {
        for code in ["iad1", "sfo1", "fra1"] {
            assert!(known_location(code).is_some(), "{code}");
        }
        assert!(known_location("xxx1").is_none());
    }

    #[test]
    fn table_has_valid_unique_entries() {
        let mut codes: Vec<_> = VERCEL_REGIONS.iter().map(|r| r.0).collect();
        for &(code, lat, lon) in VERCEL_REGIONS {
            assert!(crate::region::RegionCode::parse(code).is_ok(), "{code}");
            assert!(GeoPoint::new(lat, lon).is_ok(), "{code}");
        }
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), VERCEL_REGIONS.len());
    }
}
