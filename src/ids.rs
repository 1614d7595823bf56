//! What a uuid_v7 id says about its row: when it was made. The database makes a row's id
//! from the same instant as its `created_at` (migration
//! `20261206100000_ids_carry_created_at`), so a lookup by id can bound `created_at` to
//! the id's millisecond and read the one monthly partition that holds the row. Nothing
//! forces an older row or a foreign id to agree: a bounded lookup that finds nothing is
//! repeated unbounded.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use uuid::Uuid;

/// When a version 7 id was made, to the millisecond; `None` for another version.
pub fn v7_time(id: &Uuid) -> Option<DateTime<Utc>> {
    if id.get_version_num() != 7 {
        return None;
    }
    let ms = id.as_bytes()[..6]
        .iter()
        .fold(0i64, |acc, &byte| acc << 8 | i64::from(byte));
    DateTime::from_timestamp_millis(ms)
}

/// The `created_at` range `[gte, lt)` the id names, as PostgREST filter values: its
/// millisecond, which never straddles two months. `None`: the id does not say.
pub fn created_at_bounds(id: &Uuid) -> Option<(String, String)> {
    let made = v7_time(id)?;
    let text = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    Some((text(made), text(made + TimeDelta::milliseconds(1))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A version 7 id made at `ms` (as the database's `uuid_v7_at`), random bits zero.
    fn v7_at(ms: i64) -> Uuid {
        let mut bytes = [0u8; 16];
        bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
        bytes[6] = 0x70;
        bytes[8] = 0x80;
        Uuid::from_bytes(bytes)
    }

    #[test]
    fn a_v7_id_gives_its_time_and_others_none() {
        // 2027-03-01T00:00:00.123Z, the first instant of a month's partition.
        let id = Uuid::parse_str("01a3fe63-087b-7000-8000-000000000000").unwrap();
        assert_eq!(
            v7_time(&id)
                .unwrap()
                .to_rfc3339_opts(SecondsFormat::Millis, true),
            "2027-03-01T00:00:00.123Z"
        );
        let seeded = Uuid::parse_str("55555555-5555-4555-8555-000000000008").unwrap();
        assert_eq!(v7_time(&seeded), None);
        assert_eq!(created_at_bounds(&seeded), None);
    }

    #[test]
    fn the_bounds_are_the_id_s_millisecond_also_at_a_year_s_end() {
        let id = v7_at(1_830_297_599_999); // 2027-12-31T23:59:59.999Z
        assert_eq!(
            created_at_bounds(&id),
            Some((
                "2027-12-31T23:59:59.999Z".to_owned(),
                "2028-01-01T00:00:00.000Z".to_owned()
            ))
        );
    }

    proptest! {
        #[test]
        fn the_time_read_back_is_the_time_written(ms in 0i64..(1 << 47)) {
            prop_assert_eq!(v7_time(&v7_at(ms)).map(|t| t.timestamp_millis()), Some(ms));
        }
    }
}
