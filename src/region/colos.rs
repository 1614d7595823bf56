//! Where Cloudflare's data centres are, by the IATA code `request.cf.colo` reports.
//! Covers North America, Europe and Africa (Payhuk's customers are largely in West
//! Africa) and the main hubs elsewhere; an unknown colo falls back to `cf`'s own
//! coordinates, then to the other sources.

use super::GeoPoint;

/// IATA code, the city it serves, latitude, longitude.
const COLOS: &[(&str, &str, f64, f64)] = &[
    // North America
    ("ATL", "Atlanta", 33.64, -84.43),
    ("BNA", "Nashville", 36.12, -86.68),
    ("BOS", "Boston", 42.36, -71.01),
    ("BUF", "Buffalo", 42.94, -78.73),
    ("CLT", "Charlotte", 35.21, -80.94),
    ("CMH", "Columbus", 39.99, -82.89),
    ("DEN", "Denver", 39.86, -104.67),
    ("DFW", "Dallas", 32.90, -97.04),
    ("DTW", "Detroit", 42.21, -83.35),
    ("EWR", "Newark", 40.69, -74.17),
    ("HNL", "Honolulu", 21.32, -157.92),
    ("IAD", "Ashburn", 38.95, -77.45),
    ("IAH", "Houston", 29.98, -95.34),
    ("IND", "Indianapolis", 39.72, -86.29),
    ("JAX", "Jacksonville", 30.49, -81.69),
    ("LAS", "Las Vegas", 36.08, -115.15),
    ("LAX", "Los Angeles", 33.94, -118.41),
    ("MCI", "Kansas City", 39.30, -94.71),
    ("MEM", "Memphis", 35.04, -89.98),
    ("MEX", "Mexico City", 19.44, -99.07),
    ("MIA", "Miami", 25.80, -80.29),
    ("MSP", "Minneapolis", 44.88, -93.22),
    ("ORD", "Chicago", 41.98, -87.90),
    ("PDX", "Portland", 45.59, -122.60),
    ("PHL", "Philadelphia", 39.87, -75.24),
    ("PHX", "Phoenix", 33.43, -112.01),
    ("PIT", "Pittsburgh", 40.49, -80.23),
    ("RIC", "Richmond", 37.51, -77.32),
    ("SAN", "San Diego", 32.73, -117.19),
    ("SEA", "Seattle", 47.45, -122.31),
    ("SFO", "San Francisco", 37.62, -122.38),
    ("SJC", "San Jose", 37.36, -121.93),
    ("SLC", "Salt Lake City", 40.79, -111.98),
    ("SMF", "Sacramento", 38.70, -121.59),
    ("STL", "St. Louis", 38.75, -90.37),
    ("TPA", "Tampa", 27.98, -82.53),
    ("YUL", "Montreal", 45.47, -73.74),
    ("YVR", "Vancouver", 49.19, -123.18),
    ("YWG", "Winnipeg", 49.91, -97.24),
    ("YYC", "Calgary", 51.13, -114.01),
    ("YYZ", "Toronto", 43.68, -79.63),
    // Europe
    ("AMS", "Amsterdam", 52.31, 4.76),
    ("ARN", "Stockholm", 59.65, 17.92),
    ("ATH", "Athens", 37.94, 23.94),
    ("BCN", "Barcelona", 41.30, 2.08),
    ("BEG", "Belgrade", 44.82, 20.29),
    ("BRU", "Brussels", 50.90, 4.48),
    ("BUD", "Budapest", 47.44, 19.26),
    ("CDG", "Paris", 49.01, 2.55),
    ("CPH", "Copenhagen", 55.62, 12.65),
    ("DUB", "Dublin", 53.42, -6.27),
    ("DUS", "Dusseldorf", 51.29, 6.77),
    ("EDI", "Edinburgh", 55.95, -3.37),
    ("FRA", "Frankfurt", 50.04, 8.56),
    ("HAM", "Hamburg", 53.63, 9.99),
    ("HEL", "Helsinki", 60.32, 24.96),
    ("IST", "Istanbul", 41.26, 28.74),
    ("KBP", "Kyiv", 50.35, 30.89),
    ("LHR", "London", 51.47, -0.45),
    ("LIS", "Lisbon", 38.77, -9.13),
    ("LYS", "Lyon", 45.73, 5.08),
    ("MAD", "Madrid", 40.47, -3.57),
    ("MAN", "Manchester", 53.36, -2.27),
    ("MRS", "Marseille", 43.44, 5.22),
    ("MUC", "Munich", 48.35, 11.79),
    ("MXP", "Milan", 45.63, 8.72),
    ("OSL", "Oslo", 60.19, 11.10),
    ("OTP", "Bucharest", 44.57, 26.10),
    ("PRG", "Prague", 50.10, 14.26),
    ("SOF", "Sofia", 42.70, 23.41),
    ("VIE", "Vienna", 48.11, 16.57),
    ("WAW", "Warsaw", 52.17, 20.97),
    ("ZRH", "Zurich", 47.46, 8.55),
    // Africa
    ("ABJ", "Abidjan", 5.26, -3.93),
    ("ACC", "Accra", 5.61, -0.17),
    ("ADD", "Addis Ababa", 8.98, 38.80),
    ("ALG", "Algiers", 36.69, 3.22),
    ("BJL", "Banjul", 13.34, -16.65),
    ("BKO", "Bamako", 12.54, -7.95),
    ("CAI", "Cairo", 30.12, 31.41),
    ("CKY", "Conakry", 9.58, -13.61),
    ("CMN", "Casablanca", 33.37, -7.59),
    ("COO", "Cotonou", 6.36, 2.38),
    ("CPT", "Cape Town", -33.97, 18.60),
    ("DAR", "Dar es Salaam", -6.88, 39.20),
    ("DKR", "Dakar", 14.74, -17.49),
    ("DLA", "Douala", 4.01, 9.72),
    ("DUR", "Durban", -29.61, 31.12),
    ("EBB", "Kampala", 0.04, 32.44),
    ("FIH", "Kinshasa", -4.39, 15.44),
    ("FNA", "Freetown", 8.62, -13.20),
    ("GBE", "Gaborone", -24.56, 25.92),
    ("HRE", "Harare", -17.93, 31.09),
    ("JNB", "Johannesburg", -26.14, 28.25),
    ("KGL", "Kigali", -1.97, 30.14),
    ("LAD", "Luanda", -8.86, 13.23),
    ("LBV", "Libreville", 0.46, 9.41),
    ("LFW", "Lome", 6.17, 1.25),
    ("LOS", "Lagos", 6.58, 3.32),
    ("MBA", "Mombasa", -4.03, 39.59),
    ("MPM", "Maputo", -25.92, 32.57),
    ("MRU", "Mauritius", -20.43, 57.68),
    ("NBO", "Nairobi", -1.32, 36.93),
    ("NIM", "Niamey", 13.48, 2.18),
    ("NKC", "Nouakchott", 18.10, -15.95),
    ("OUA", "Ouagadougou", 12.35, -1.51),
    ("ROB", "Monrovia", 6.23, -10.36),
    ("TNR", "Antananarivo", -18.80, 47.48),
    ("TUN", "Tunis", 36.85, 10.23),
    // Elsewhere
    ("BOG", "Bogota", 4.70, -74.15),
    ("BOM", "Mumbai", 19.09, 72.87),
    ("DEL", "New Delhi", 28.57, 77.10),
    ("DXB", "Dubai", 25.25, 55.36),
    ("EZE", "Buenos Aires", -34.82, -58.54),
    ("GRU", "Sao Paulo", -23.43, -46.47),
    ("HKG", "Hong Kong", 22.31, 113.91),
    ("ICN", "Seoul", 37.46, 126.44),
    ("LIM", "Lima", -12.02, -77.11),
    ("NRT", "Tokyo", 35.77, 140.39),
    ("SCL", "Santiago", -33.39, -70.79),
    ("SIN", "Singapore", 1.36, 103.99),
    ("SYD", "Sydney", -33.95, 151.18),
];

/// A Cloudflare data centre: where it is and the city it is named for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Colo {
    pub code: &'static str,
    pub city: &'static str,
    pub point: GeoPoint,
}

/// A Cloudflare colo by its IATA code (case-insensitive).
pub fn colo(code: &str) -> Option<Colo> {
    COLOS
        .iter()
        .find(|(c, ..)| c.eq_ignore_ascii_case(code.trim()))
        .map(|&(code, city, lat, lon)| Colo {
            code,
            city,
            point: GeoPoint { lat, lon },
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_valid_and_unique() {
        let mut codes: Vec<_> = COLOS.iter().map(|c| c.0).collect();
        for &(code, city, lat, lon) in COLOS {
            assert!(!city.is_empty(), "{code}");
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
            assert!(colo(code).is_some(), "{code}");
        }
        assert_eq!(colo("dkr"), colo("DKR"));
        assert_eq!(colo("LOS").map(|c| c.city), Some("Lagos"));
        assert!(colo("XXX").is_none());
    }
}
