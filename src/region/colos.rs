//! Where Cloudflare's data centres are, by the IATA code `request.cf.colo` reports.
//! Covers North America, Europe and Africa (Payhuk's customers are largely in West
//! Africa) and the main hubs elsewhere; an unknown colo falls back to `cf`'s own
//! coordinates, then to the other sources.

use super::GeoPoint;

const COLOS: &[(&str, f64, f64)] = &[
    // North America
    ("ATL", 33.64, -84.43),
    ("BNA", 36.12, -86.68),
    ("BOS", 42.36, -71.01),
    ("BUF", 42.94, -78.73),
    ("CLT", 35.21, -80.94),
    ("CMH", 39.99, -82.89),
    ("DEN", 39.86, -104.67),
    ("DFW", 32.90, -97.04),
    ("DTW", 42.21, -83.35),
    ("EWR", 40.69, -74.17),
    ("HNL", 21.32, -157.92),
    ("IAD", 38.95, -77.45),
    ("IAH", 29.98, -95.34),
    ("IND", 39.72, -86.29),
    ("JAX", 30.49, -81.69),
    ("LAS", 36.08, -115.15),
    ("LAX", 33.94, -118.41),
    ("MCI", 39.30, -94.71),
    ("MEM", 35.04, -89.98),
    ("MEX", 19.44, -99.07),
    ("MIA", 25.80, -80.29),
    ("MSP", 44.88, -93.22),
    ("ORD", 41.98, -87.90),
    ("PDX", 45.59, -122.60),
    ("PHL", 39.87, -75.24),
    ("PHX", 33.43, -112.01),
    ("PIT", 40.49, -80.23),
    ("RIC", 37.51, -77.32),
    ("SAN", 32.73, -117.19),
    ("SEA", 47.45, -122.31),
    ("SFO", 37.62, -122.38),
    ("SJC", 37.36, -121.93),
    ("SLC", 40.79, -111.98),
    ("SMF", 38.70, -121.59),
    ("STL", 38.75, -90.37),
    ("TPA", 27.98, -82.53),
    ("YUL", 45.47, -73.74),
    ("YVR", 49.19, -123.18),
    ("YWG", 49.91, -97.24),
    ("YYC", 51.13, -114.01),
    ("YYZ", 43.68, -79.63),
    // Europe
    ("AMS", 52.31, 4.76),
    ("ARN", 59.65, 17.92),
    ("ATH", 37.94, 23.94),
    ("BCN", 41.30, 2.08),
    ("BEG", 44.82, 20.29),
    ("BRU", 50.90, 4.48),
    ("BUD", 47.44, 19.26),
    ("CDG", 49.01, 2.55),
    ("CPH", 55.62, 12.65),
    ("DUB", 53.42, -6.27),
    ("DUS", 51.29, 6.77),
    ("EDI", 55.95, -3.37),
    ("FRA", 50.04, 8.56),
    ("HAM", 53.63, 9.99),
    ("HEL", 60.32, 24.96),
    ("IST", 41.26, 28.74),
    ("KBP", 50.35, 30.89),
    ("LHR", 51.47, -0.45),
    ("LIS", 38.77, -9.13),
    ("LYS", 45.73, 5.08),
    ("MAD", 40.47, -3.57),
    ("MAN", 53.36, -2.27),
    ("MRS", 43.44, 5.22),
    ("MUC", 48.35, 11.79),
    ("MXP", 45.63, 8.72),
    ("OSL", 60.19, 11.10),
    ("OTP", 44.57, 26.10),
    ("PRG", 50.10, 14.26),
    ("SOF", 42.70, 23.41),
    ("VIE", 48.11, 16.57),
    ("WAW", 52.17, 20.97),
    ("ZRH", 47.46, 8.55),
    // Africa
    ("ABJ", 5.26, -3.93),   // Abidjan
    ("ACC", 5.61, -0.17),   // Accra
    ("ADD", 8.98, 38.80),   // Addis Ababa
    ("ALG", 36.69, 3.22),   // Algiers
    ("BJL", 13.34, -16.65), // Banjul
    ("BKO", 12.54, -7.95),  // Bamako
    ("CAI", 30.12, 31.41),  // Cairo
    ("CKY", 9.58, -13.61),  // Conakry
    ("CMN", 33.37, -7.59),  // Casablanca
    ("COO", 6.36, 2.38),    // Cotonou
    ("CPT", -33.97, 18.60), // Cape Town
    ("DAR", -6.88, 39.20),  // Dar es Salaam
    ("DKR", 14.74, -17.49), // Dakar
    ("DLA", 4.01, 9.72),    // Douala
    ("DUR", -29.61, 31.12), // Durban
    ("EBB", 0.04, 32.44),   // Kampala
    ("FIH", -4.39, 15.44),  // Kinshasa
    ("FNA", 8.62, -13.20),  // Freetown
    ("GBE", -24.56, 25.92), // Gaborone
    ("HRE", -17.93, 31.09), // Harare
    ("JNB", -26.14, 28.25), // Johannesburg
    ("KGL", -1.97, 30.14),  // Kigali
    ("LAD", -8.86, 13.23),  // Luanda
    ("LBV", 0.46, 9.41),    // Libreville
    ("LFW", 6.17, 1.25),    // Lome
    ("LOS", 6.58, 3.32),    // Lagos
    ("MBA", -4.03, 39.59),  // Mombasa
    ("MPM", -25.92, 32.57), // Maputo
    ("MRU", -20.43, 57.68), // Mauritius
    ("NBO", -1.32, 36.93),  // Nairobi
    ("NIM", 13.48, 2.18),   // Niamey
    ("NKC", 18.10, -15.95), // Nouakchott
    ("OUA", 12.35, -1.51),  // Ouagadougou
    ("ROB", 6.23, -10.36),  // Monrovia
    ("TNR", -18.80, 47.48), // Antananarivo
    ("TUN", 36.85, 10.23),  // Tunis
    // Elsewhere
    ("BOG", 4.70, -74.15),
    ("BOM", 19.09, 72.87),
    ("DEL", 28.57, 77.10),
    ("DXB", 25.25, 55.36),
    ("EZE", -34.82, -58.54),
    ("GRU", -23.43, -46.47),
    ("HKG", 22.31, 113.91),
    ("ICN", 37.46, 126.44),
    ("LIM", -12.02, -77.11),
    ("NRT", 35.77, 140.39),
    ("SCL", -33.39, -70.79),
    ("SIN", 1.36, 103.99),
    ("SYD", -33.95, 151.18),
];

/// The location of a Cloudflare colo by its IATA code (case-insensitive).
pub fn colo_location(colo: &str) -> Option<GeoPoint> {
    COLOS
        .iter()
        .find(|(code, _, _)| code.eq_ignore_ascii_case(colo.trim()))
        .map(|&(_, lat, lon)| GeoPoint { lat, lon })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_valid_and_unique() {
        let mut codes: Vec<_> = COLOS.iter().map(|c| c.0).collect();
        for &(code, lat, lon) in COLOS {
            assert!(
                code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()),
                "{code}"
            );
            assert!(GeoPoint::new(lat, lon).is_ok(), "{code}");
        }
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), COLOS.len());
    }

    #[test]
    fn west_african_colos_are_known() {
        for code in [
            "DKR", "ABJ", "ACC", "LOS", "COO", "OUA", "BKO", "LFW", "NIM",
        ] {
            assert!(colo_location(code).is_some(), "{code}");
        }
        assert_eq!(colo_location("dkr"), colo_location("DKR"));
        assert!(colo_location("XXX").is_none());
    }
}
