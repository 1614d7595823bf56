//! Amounts between Payhuk's integers in minor units and the decimals providers write in
//! major units (`"100.0"` EUR is 10000; `500` XOF is 500), exact both ways: decimal
//! strings are parsed digit by digit, never through a float.

use std::fmt;

use serde_json::Value;

/// A currency Payhuk prices in, with its ISO 4217 minor units (the same table as
/// `public.currencies`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency {
    pub code: &'static str,
    pub minor_units: u32,
}

pub const CURRENCIES: [Currency; 6] = [
    Currency {
        code: "XOF",
        minor_units: 0,
    },
    Currency {
        code: "XAF",
        minor_units: 0,
    },
    Currency {
        code: "EUR",
        minor_units: 2,
    },
    Currency {
        code: "USD",
        minor_units: 2,
    },
    Currency {
        code: "GHS",
        minor_units: 2,
    },
    Currency {
        code: "NGN",
        minor_units: 2,
    },
];

impl Currency {
    pub fn parse(code: &str) -> Option<Currency> {
        CURRENCIES.iter().copied().find(|c| c.code == code)
    }

    fn scale(self) -> i64 {
        10_i64.pow(self.minor_units)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmountError {
    /// Not a plain decimal (`12`, `12.5`, `-3.00`): exponents, spaces, signs twice.
    NotADecimal(String),
    /// More decimals than the currency has, and not zeros (`12.345` EUR, `10.5` XOF).
    TooPrecise {
        amount: String,
        currency: &'static str,
    },
    /// Beyond what an `i64` of minor units holds.
    TooLarge(String),
}

impl fmt::Display for AmountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AmountError::NotADecimal(s) => write!(f, "`{s}` is not a decimal amount"),
            AmountError::TooPrecise { amount, currency } => {
                write!(f, "`{amount}` has more decimals than {currency} has")
            }
            AmountError::TooLarge(s) => write!(f, "`{s}` is too large an amount"),
        }
    }
}

/// `minor` as a decimal in major units with exactly the currency's decimals:
/// 1234 EUR is `12.34`, -5 EUR `-0.05`, 500 XOF `500`.
pub fn to_major(minor: i64, currency: Currency) -> String {
    if currency.minor_units == 0 {
        return minor.to_string();
    }
    let scale = currency.scale().unsigned_abs();
    let abs = minor.unsigned_abs();
    let sign = if minor < 0 { "-" } else { "" };
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = currency.minor_units as usize
    )
}

/// A decimal in major units as minor units: `12.34` EUR is 1234, `100.0` EUR 10000,
/// `500` XOF 500. Trailing zeros beyond the currency's decimals are fine; other digits
/// there are refused, never rounded.
pub fn from_major(text: &str, currency: Currency) -> Result<i64, AmountError> {
    let not_decimal = || AmountError::NotADecimal(text.to_owned());
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Err(not_decimal());
    }
    if digits.ends_with('.') {
        return Err(not_decimal());
    }
    let places = currency.minor_units as usize;
    let (kept, beyond) = fraction.split_at(fraction.len().min(places));
    if beyond.bytes().any(|b| b != b'0') {
        return Err(AmountError::TooPrecise {
            amount: text.to_owned(),
            currency: currency.code,
        });
    }
    let too_large = || AmountError::TooLarge(text.to_owned());
    let minor_digits = format!("{whole}{kept:0<places$}");
    // Parsed as i128 so `i64::MIN`'s magnitude is representable before the sign.
    let magnitude: i128 = minor_digits.parse().map_err(|_| too_large())?;
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).map_err(|_| too_large())
}

/// A JSON amount in major units, as a number (`100.0`, `500`) or a string (`"12.34"`).
/// A number is read from its JSON text, not as a float.
pub fn from_major_json(value: &Value, currency: Currency) -> Result<i64, AmountError> {
    match value {
        Value::String(s) => from_major(s, currency),
        Value::Number(n) => from_major(&plain_decimal(&n.to_string()), currency),
        other => Err(AmountError::NotADecimal(other.to_string())),
    }
}

/// serde_json writes large and small floats with an exponent (`1e21`, `1.5e-7`);
/// spelled out so `from_major` sees digits. Anything else passes unchanged.
fn plain_decimal(text: &str) -> String {
    let Some((mantissa, exponent)) = text.split_once(['e', 'E']) else {
        return text.to_owned();
    };
    let Ok(exponent) = exponent.parse::<i32>() else {
        return text.to_owned();
    };
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    let point = whole.len() as i32 + exponent;
    if !(-40..=40).contains(&point) {
        return text.to_owned();
    }
    let spelled = if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        format!(
            "{}.{}",
            &digits[..point as usize],
            &digits[point as usize..]
        )
    };
    if negative {
        format!("-{spelled}")
    } else {
        spelled
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn c(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    #[test]
    fn major_units_are_written_with_the_currencys_decimals() {
        assert_eq!(to_major(1234, c("EUR")), "12.34");
        assert_eq!(to_major(5, c("USD")), "0.05");
        assert_eq!(to_major(-5, c("GHS")), "-0.05");
        assert_eq!(to_major(10000, c("NGN")), "100.00");
        assert_eq!(to_major(500, c("XOF")), "500");
        assert_eq!(to_major(i64::MIN, c("EUR")), "-92233720368547758.08");
    }

    #[test]
    fn decimals_are_read_exactly_and_never_rounded() {
        assert_eq!(from_major("12.34", c("EUR")), Ok(1234));
        assert_eq!(from_major("100.0", c("EUR")), Ok(10000), "Moneroo's 100.0");
        assert_eq!(from_major("100", c("EUR")), Ok(10000));
        assert_eq!(from_major("0.1", c("USD")), Ok(10));
        assert_eq!(from_major("500", c("XOF")), Ok(500));
        assert_eq!(from_major("500.000", c("XOF")), Ok(500));
        assert_eq!(from_major("-0.05", c("EUR")), Ok(-5));
        assert_eq!(
            from_major("12.345", c("EUR")),
            Err(AmountError::TooPrecise {
                amount: "12.345".into(),
                currency: "EUR"
            })
        );
        assert!(matches!(
            from_major("10.5", c("XOF")),
            Err(AmountError::TooPrecise { .. })
        ));
        for bad in [
            "", ".5", "5.", "1,5", " 5", "+5", "--5", "1e3", "0x10", "١٢",
        ] {
            assert!(
                matches!(from_major(bad, c("EUR")), Err(AmountError::NotADecimal(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            from_major("92233720368547758.08", c("EUR")),
            Err(AmountError::TooLarge("92233720368547758.08".into()))
        );
        assert_eq!(from_major("-92233720368547758.08", c("EUR")), Ok(i64::MIN));
        assert!(matches!(
            from_major(&"9".repeat(60), c("XOF")),
            Err(AmountError::TooLarge(_))
        ));
    }

    #[test]
    fn json_numbers_are_read_from_their_text() {
        assert_eq!(from_major_json(&json!(100.0), c("EUR")), Ok(10000));
        assert_eq!(
            from_major_json(&json!(0.29), c("USD")),
            Ok(29),
            "no 0.28999"
        );
        assert_eq!(from_major_json(&json!(1.15), c("EUR")), Ok(115));
        assert_eq!(from_major_json(&json!(500), c("XOF")), Ok(500));
        assert_eq!(from_major_json(&json!("12.34"), c("GHS")), Ok(1234));
        assert_eq!(
            from_major_json(&json!(1e21), c("XOF")),
            Err(AmountError::TooLarge("1000000000000000000000".into()))
        );
        assert_eq!(
            from_major_json(&json!(1e15), c("XOF")),
            Ok(1_000_000_000_000_000)
        );
        assert!(matches!(
            from_major_json(&json!(1.5e-7), c("EUR")),
            Err(AmountError::TooPrecise { .. })
        ));
        assert!(from_major_json(&json!(null), c("EUR")).is_err());
        assert!(from_major_json(&json!(true), c("EUR")).is_err());
    }

    #[test]
    fn the_table_matches_the_databases_currencies() {
        let sql = include_str!("../../../migrations/20261125090000_reference_data.sql");
        for currency in CURRENCIES {
            let row = format!("('{}',", currency.code);
            let line = sql
                .lines()
                .find(|l| l.trim_start().starts_with(&row))
                .unwrap_or_else(|| panic!("{} is in public.currencies", currency.code));
            assert!(
                line.trim_end_matches([',', ';'])
                    .ends_with(&format!("{})", currency.minor_units)),
                "{line}"
            );
        }
    }

    proptest! {
        #[test]
        fn both_ways_is_the_identity(minor in any::<i64>(), i in 0..CURRENCIES.len()) {
            let currency = CURRENCIES[i];
            prop_assert_eq!(from_major(&to_major(minor, currency), currency), Ok(minor));
        }

        #[test]
        fn a_json_number_of_cents_reads_as_those_cents(cents in 0i64..1_000_000_000_000) {
            // What a provider serialising a float would send for `cents` EUR.
            let sent = json!(cents as f64 / 100.0);
            prop_assert_eq!(from_major_json(&sent, c("EUR")), Ok(cents));
        }
    }
}
