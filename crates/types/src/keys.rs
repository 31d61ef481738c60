//! Public keys, signatures and addresses.
//!
//! An address is the SHA-256 of an ed25519 public key, written as bech32m with
//! the human-readable prefix `umb`.

use crate::hash::sha256;
use bech32::primitives::decode::CheckedHrpstring;
use bech32::{Bech32m, Hrp};
use borsh::{BorshDeserialize, BorshSerialize};
use std::fmt;
use std::str::FromStr;

/// Human-readable prefix of every address.
pub const ADDRESS_HRP: &str = "umb";

/// An ed25519 public key (32 bytes, not yet checked to be a valid point).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct PublicKey(pub [u8; 32]);

/// An ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Signature(pub [u8; 64]);

impl Default for Signature {
    fn default() -> Self {
        Signature([0u8; 64])
    }
}

/// An account address: SHA-256 of the owner's public key.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct Address(pub [u8; 32]);

impl PublicKey {
    pub fn address(&self) -> Address {
        Address(sha256(&self.0).0)
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// Parses 64 hex characters.
    pub fn from_hex(s: &str) -> Result<Self, AddressError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.strip_prefix("0x").unwrap_or(s), &mut out)
            .map_err(|_| AddressError::BadPublicKey)?;
        Ok(PublicKey(out))
    }
}

impl Signature {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

/// Why an address or key could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    #[error("not a bech32m address: {0}")]
    Bech32(String),
    #[error("address prefix must be `umb`, found `{0}`")]
    WrongPrefix(String),
    #[error("address must hold 32 bytes, found {0}")]
    WrongLength(usize),
    #[error("public key must be 64 hex characters")]
    BadPublicKey,
}

impl Address {
    /// Derives an address for a system account from a fixed label, so no one
    /// holds its key.
    pub fn system(label: &str) -> Address {
        Address(sha256(format!("umbra/system/{label}").as_bytes()).0)
    }

    pub fn to_bech32(&self) -> String {
        let hrp = Hrp::parse_unchecked(ADDRESS_HRP);
        // Encoding 32 bytes under a valid HRP cannot exceed bech32's length limit.
        bech32::encode::<Bech32m>(hrp, &self.0).unwrap_or_default()
    }
}

impl FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let checked =
            CheckedHrpstring::new::<Bech32m>(s).map_err(|e| AddressError::Bech32(e.to_string()))?;
        let hrp = checked.hrp();
        if hrp.as_str() != ADDRESS_HRP {
            return Err(AddressError::WrongPrefix(hrp.to_string()));
        }
        let data: Vec<u8> = checked.byte_iter().collect();
        let arr: [u8; 32] = data
            .as_slice()
            .try_into()
            .map_err(|_| AddressError::WrongLength(data.len()))?;
        Ok(Address(arr))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_bech32())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", self.to_bech32())
    }
}

impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_bech32())
    }
}

impl<'de> serde::Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        PublicKey::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bech32m_round_trip_and_errors() {
        let a = PublicKey([7u8; 32]).address();
        let s = a.to_bech32();
        assert!(s.starts_with("umb1"));
        assert_eq!(s.parse::<Address>().unwrap(), a);
        // One changed character breaks the checksum.
        let mut bad = s.clone().into_bytes();
        let last = bad.len() - 1;
        bad[last] = if bad[last] == b'q' { b'p' } else { b'q' };
        assert!(matches!(
            String::from_utf8(bad).unwrap().parse::<Address>(),
            Err(AddressError::Bech32(_))
        ));
        // Same bytes under another prefix are refused.
        let other = bech32::encode::<Bech32m>(Hrp::parse("abc").unwrap(), &a.0).unwrap();
        assert_eq!(
            other.parse::<Address>(),
            Err(AddressError::WrongPrefix("abc".into()))
        );
        let short = bech32::encode::<Bech32m>(Hrp::parse("umb").unwrap(), &[1, 2, 3]).unwrap();
        assert_eq!(short.parse::<Address>(), Err(AddressError::WrongLength(3)));
    }

    proptest! {
        #[test]
        fn any_address_round_trips(b in any::<[u8; 32]>()) {
            let a = Address(b);
            prop_assert_eq!(a.to_bech32().parse::<Address>().unwrap(), a);
        }

        #[test]
        fn random_strings_never_panic(s in ".{0,120}") {
            let _ = s.parse::<Address>();
        }
    }
}
