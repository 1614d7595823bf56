//! Calendar dates as clients write them (`YYYY-MM-DD`), read without chrono's
//! format-string parser, which alone cost the bundle about 9 KB.

use chrono::NaiveDate;

/// `YYYY-MM-DD` exactly (four, two and two digits), a date that exists.
pub fn parse_ymd(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shaped {
        return None;
    }
    NaiveDate::from_ymd_opt(
        text[0..4].parse().ok()?,
        text[5..7].parse().ok()?,
        text[8..10].parse().ok()?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_real_dates_in_the_one_shape() {
        assert_eq!(
            parse_ymd("2024-02-29"),
            NaiveDate::from_ymd_opt(2024, 2, 29)
        );
        assert_eq!(
            parse_ymd("2026-12-31"),
            NaiveDate::from_ymd_opt(2026, 12, 31)
        );
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-1-01",
            "24-01-01",
            "2024/01/01",
            "2024-01-01 ",
            "+024-01-01",
            "2024-01-0a",
            "",
            "2024-01-011",
        ] {
            assert_eq!(parse_ymd(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        /// Whatever chrono's `%Y-%m-%d` reads in the one shape, this reads alike.
        #[test]
        fn agrees_with_chrono_on_the_shape(y in 0i32..10000, m in 0u32..14, d in 0u32..33) {
            let text = format!("{y:04}-{m:02}-{d:02}");
            proptest::prop_assert_eq!(
                parse_ymd(&text),
                NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok()
            );
        }
    }
}
