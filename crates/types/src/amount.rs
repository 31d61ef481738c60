//! Token amounts: u128 base units, shown with 9 decimals.

/// An amount of the native token in base units.
pub type Amount = u128;

/// Decimal places used when an amount is shown to people.
pub const DECIMALS: u32 = 9;
const UNIT: u128 = 10u128.pow(DECIMALS);

/// Formats base units as a decimal string, trimming trailing zeros
/// (`1500000000` → `"1.5"`).
pub fn format_amount(v: Amount) -> String {
    let whole = v / UNIT;
    let frac = v % UNIT;
    if frac == 0 {
        return whole.to_string();
    }
    let f = format!("{frac:09}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

/// Why a decimal amount could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AmountError {
    #[error("amount is empty")]
    Empty,
    #[error("amount `{0}` is not a decimal number")]
    NotANumber(String),
    #[error("amount `{0}` has more than 9 decimal places")]
    TooPrecise(String),
    #[error("amount `{0}` is too large")]
    Overflow(String),
}

/// Parses a decimal amount (`"1.5"`, `"0.000000001"`, `"42"`) into base units.
pub fn parse_amount(s: &str) -> Result<Amount, AmountError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(AmountError::Empty);
    }
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    let digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty()) || !digits(whole) || !digits(frac) {
        return Err(AmountError::NotANumber(s.to_string()));
    }
    if frac.len() > DECIMALS as usize {
        return Err(AmountError::TooPrecise(s.to_string()));
    }
    let overflow = || AmountError::Overflow(s.to_string());
    let w: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| overflow())?
    };
    let f: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse::<u128>().map_err(|_| overflow())? * 10u128.pow(DECIMALS - frac.len() as u32)
    };
    w.checked_mul(UNIT)
        .and_then(|x| x.checked_add(f))
        .ok_or_else(overflow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert_eq!(parse_amount("1.5").unwrap(), 1_500_000_000);
        assert_eq!(parse_amount("0.000000001").unwrap(), 1);
        assert_eq!(parse_amount(".5").unwrap(), 500_000_000);
        assert_eq!(parse_amount("7").unwrap(), 7_000_000_000);
        assert!(matches!(
            parse_amount("1.0000000001"),
            Err(AmountError::TooPrecise(_))
        ));
        assert!(matches!(
            parse_amount("-1"),
            Err(AmountError::NotANumber(_))
        ));
        assert!(matches!(parse_amount("."), Err(AmountError::NotANumber(_))));
        assert!(matches!(
            parse_amount("1e5"),
            Err(AmountError::NotANumber(_))
        ));
        assert!(matches!(
            parse_amount(&"9".repeat(40)),
            Err(AmountError::Overflow(_))
        ));
        assert_eq!(format_amount(1_500_000_000), "1.5");
        assert_eq!(format_amount(0), "0");
        assert_eq!(format_amount(1), "0.000000001");
    }

    proptest! {
        #[test]
        fn format_parse_round_trip(v in any::<u128>()) {
            prop_assert_eq!(parse_amount(&format_amount(v)).unwrap(), v);
        }
    }
}
