use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A PostgreSQL WAL position (`pg_lsn`), written `XXXXXXXX/XXXXXXXX` in hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

impl Lsn {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let bad = || format!("`{raw}` is not a WAL position like 0/3000060");
        let (hi, lo) = raw.split_once('/').ok_or_else(bad)?;
        if hi.is_empty() || lo.is_empty() || hi.len() > 8 || lo.len() > 8 {
            return Err(bad());
        }
        let hi = u32::from_str_radix(hi, 16).map_err(|_| bad())?;
        let lo = u32::from_str_radix(lo, 16).map_err(|_| bad())?;
        Ok(Lsn((u64::from(hi) << 32) | u64::from(lo)))
    }

    /// Bytes of WAL from `self` up to `ahead`; zero when `ahead` is not ahead.
    pub fn bytes_until(self, ahead: Lsn) -> u64 {
        ahead.0.saturating_sub(self.0)
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

impl Serialize for Lsn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Lsn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Lsn::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_postgres_notation() {
        assert_eq!(Lsn::parse("0/3000060").unwrap(), Lsn(0x0300_0060));
        assert_eq!(Lsn::parse("16/B374D848").unwrap(), Lsn(0x16_B374_D848));
        assert_eq!(Lsn::parse("FFFFFFFF/FFFFFFFF").unwrap(), Lsn(u64::MAX));
        for bad in [
            "",
            "0",
            "/1",
            "1/",
            "0/3000060/1",
            "g/0",
            "123456789/0",
            " 0/1",
        ] {
            assert!(Lsn::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn distance_never_underflows() {
        assert_eq!(Lsn(100).bytes_until(Lsn(150)), 50);
        assert_eq!(Lsn(150).bytes_until(Lsn(100)), 0);
    }

    proptest! {
        #[test]
        fn display_round_trips(raw in any::<u64>()) {
            let lsn = Lsn(raw);
            prop_assert_eq!(Lsn::parse(&lsn.to_string()).unwrap(), lsn);
        }

        #[test]
        fn order_matches_wal_order(a in any::<u64>(), b in any::<u64>()) {
            let (la, lb) = (Lsn::parse(&Lsn(a).to_string()).unwrap(), Lsn::parse(&Lsn(b).to_string()).unwrap());
            prop_assert_eq!(la.cmp(&lb), a.cmp(&b));
        }
    }
}
