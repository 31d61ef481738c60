//! Stack values, their integer interpretation and their canonical bytes.

use crate::error::VmErrorKind;
use crate::limits::MAX_INT_BYTES;

/// The VM's integer: 256-bit signed, every overflow is an error, never a wrap.
pub type Int = ethnum::I256;

/// One stack item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Raw bytes (names, messages, hashes, addresses).
    Bytes(Vec<u8>),
    /// An integer produced by arithmetic, `PUSHX` or a state.
    Int(Int),
}

impl Value {
    /// The boolean a comparison or state pushes: `Int` 1 or 0.
    pub fn bool(b: bool) -> Value {
        Value::Int(if b { Int::ONE } else { Int::ZERO })
    }

    /// `Int` != 0; `Bytes` with any non-zero byte.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Int(i) => *i != Int::ZERO,
            Value::Bytes(b) => b.iter().any(|&x| x != 0),
        }
    }

    /// The item as an integer: `Int` as is, `Bytes` as little-endian two's
    /// complement of at most 32 bytes (empty is 0).
    pub fn to_int(&self) -> Result<Int, VmErrorKind> {
        match self {
            Value::Int(i) => Ok(*i),
            Value::Bytes(b) => int_from_le(b).ok_or(VmErrorKind::NotAnInteger),
        }
    }

    /// The item's bytes: `Bytes` as is, `Int` in canonical form.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Value::Bytes(b) => b,
            Value::Int(i) => int_to_canonical(i),
        }
    }

    /// Length of the item's byte form (what `SIZE` pushes).
    pub fn byte_len(&self) -> usize {
        match self {
            Value::Bytes(b) => b.len(),
            Value::Int(i) => int_to_canonical(*i).len(),
        }
    }

    /// What the item costs against `MAX_STACK_BYTES`; an `Int` always counts as
    /// 32 so the accounting never depends on the value.
    pub(crate) fn footprint(&self) -> usize {
        match self {
            Value::Bytes(b) => b.len(),
            Value::Int(_) => MAX_INT_BYTES,
        }
    }
}

/// Reads little-endian two's complement of at most 32 bytes; `None` if longer.
pub fn int_from_le(bytes: &[u8]) -> Option<Int> {
    if bytes.len() > MAX_INT_BYTES {
        return None;
    }
    let negative = bytes.last().is_some_and(|&b| b & 0x80 != 0);
    let mut buf = [if negative { 0xff } else { 0x00 }; MAX_INT_BYTES];
    buf.get_mut(..bytes.len())?.copy_from_slice(bytes);
    Some(Int::from_le_bytes(buf))
}

/// Minimal little-endian two's complement: 0 is empty, -1 is `[0xff]`,
/// 128 is `[0x80, 0x00]`.
pub fn int_to_canonical(i: Int) -> Vec<u8> {
    let bytes = i.to_le_bytes();
    let mut n = bytes.len();
    // Drop a top byte while it only repeats the sign of the byte below it.
    while let Some(&top) = bytes.get(n.wrapping_sub(1)) {
        let below_sign = n
            .checked_sub(2)
            .and_then(|j| bytes.get(j))
            .map(|b| b & 0x80 != 0);
        let redundant = match below_sign {
            None => top == 0,
            Some(neg) => (top == 0 && !neg) || (top == 0xff && neg),
        };
        if !redundant {
            break;
        }
        n -= 1;
    }
    bytes.get(..n).map(<[u8]>::to_vec).unwrap_or_default()
}

/// The shortest `PUSHX` operand for `i` (like canonical, but 0 is `[0]`
/// because `PUSHX` needs at least one byte).
pub fn int_to_pushx(i: Int) -> Vec<u8> {
    let c = int_to_canonical(i);
    if c.is_empty() { vec![0] } else { c }
}

/// `i` as a `u128`, if it is in `0..=u128::MAX`.
pub fn int_to_u128(i: Int) -> Option<u128> {
    let (hi, lo) = i.into_words();
    (hi == 0).then_some(lo as u128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(int_to_canonical(Int::ZERO), Vec::<u8>::new());
        assert_eq!(int_to_canonical(Int::from(-1i32)), vec![0xff]);
        assert_eq!(int_to_canonical(Int::from(127i32)), vec![0x7f]);
        assert_eq!(int_to_canonical(Int::from(128i32)), vec![0x80, 0x00]);
        assert_eq!(int_to_canonical(Int::from(-128i32)), vec![0x80]);
        assert_eq!(int_to_canonical(Int::from(-129i32)), vec![0x7f, 0xff]);
        assert_eq!(int_to_canonical(Int::MAX).len(), 32);
        assert_eq!(int_to_canonical(Int::MIN).len(), 32);
    }

    #[test]
    fn round_trip_through_bytes() {
        for v in [
            Int::ZERO,
            Int::ONE,
            Int::from(-1i32),
            Int::from(255i32),
            Int::from(-256i32),
            Int::MAX,
            Int::MIN,
        ] {
            assert_eq!(int_from_le(&int_to_canonical(v)), Some(v));
            assert_eq!(int_from_le(&int_to_pushx(v)), Some(v));
        }
        assert_eq!(int_from_le(&[0u8; 33]), None);
        assert_eq!(int_from_le(&[]), Some(Int::ZERO));
        assert_eq!(int_from_le(&[0xff, 0x00]), Some(Int::from(255i32)));
    }

    #[test]
    fn truthiness() {
        assert!(!Value::Bytes(vec![]).is_truthy());
        assert!(!Value::Bytes(vec![0, 0]).is_truthy());
        assert!(Value::Bytes(vec![0, 1]).is_truthy());
        assert!(!Value::Int(Int::ZERO).is_truthy());
        assert!(Value::Int(Int::from(-1i32)).is_truthy());
    }

    #[test]
    fn u128_range() {
        assert_eq!(int_to_u128(Int::from(u128::MAX)), Some(u128::MAX));
        assert_eq!(int_to_u128(Int::from(-1i32)), None);
        assert_eq!(int_to_u128(Int::from(u128::MAX) + Int::ONE), None);
    }
}
