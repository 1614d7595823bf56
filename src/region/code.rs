use std::fmt;

use serde::Serialize;

/// A deployment region code in Vercel's style: three lowercase letters and a digit
/// (`iad1`, `sfo1`, `fra1`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct RegionCode(String);

impl RegionCode {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let bytes = raw.as_bytes();
        let well_formed = bytes.len() == 4
            && bytes[..3].iter().all(u8::is_ascii_lowercase)
            && bytes[3].is_ascii_digit();
        if well_formed {
            Ok(RegionCode(raw.to_owned()))
        } else {
            Err(format!(
                "`{raw}` is not a region code (three lowercase letters and a digit, like iad1)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The code as it appears inside environment variable names: `iad1` -> `IAD1`.
    pub fn env_key(&self) -> String {
        self.0.to_ascii_uppercase()
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_vercel_style_codes() {
        for code in ["iad1", "sfo1", "fra1", "cpt1"] {
            assert_eq!(RegionCode::parse(code).unwrap().as_str(), code);
        }
        assert_eq!(RegionCode::parse(" fra1 ").unwrap().as_str(), "fra1");
    }

    #[test]
    fn rejects_anything_else() {
        for code in ["", "iad", "IAD1", "iad12", "ia1d", "i@d1", "iad1\n2"] {
            assert!(RegionCode::parse(code).is_err(), "{code:?}");
        }
    }

    #[test]
    fn env_key_is_uppercase() {
        assert_eq!(RegionCode::parse("fra1").unwrap().env_key(), "FRA1");
    }
}
