//! Byte layout of keys and small values, and bounded decoding of what is read
//! back from disk.
//!
//! Heights and versions are big-endian so RocksDB's byte order is numeric order.

use crate::Version;
use crate::error::StorageError;
use borsh::BorshDeserialize;
use jmt::KeyHash;
use umbra_types::{Hash, decode_bounded};

/// Meta key of the head pointer: height BE(8) ‖ block hash(32).
pub const META_HEAD: &str = "head";
/// Meta key of the oldest retained state version (BE u64); absent means 0.
pub const META_EARLIEST_STATE: &str = "state_earliest";
/// Meta keys the store writes itself; `meta_put` refuses them.
pub const RESERVED_META_KEYS: [&str; 2] = [META_HEAD, META_EARLIEST_STATE];

/// Largest encoded header read back.
pub const MAX_HEADER_BYTES: usize = 4 << 20;
/// Largest encoded block body read back.
pub const MAX_BODY_BYTES: usize = 64 << 20;
/// Largest encoded receipt list read back.
pub const MAX_RECEIPTS_BYTES: usize = 64 << 20;
/// Largest encoded JMT node read back (a full internal node is under 1 KiB).
pub const MAX_NODE_BYTES: usize = 1 << 20;
/// Largest state value `prepare_state` accepts.
pub const MAX_STATE_VALUE_LEN: usize = 16 << 20;
/// Largest stored state value: borsh `Option<Vec<u8>>` adds 1 + 4 bytes.
pub const MAX_STORED_VALUE_BYTES: usize = MAX_STATE_VALUE_LEN + 5;
/// Largest encoded `TxLocation` read back (it is 12 bytes).
pub const MAX_TX_LOCATION_BYTES: usize = 64;

/// Stale entry tag: the payload is a borsh `NodeKey` (a `state_nodes` key).
const TAG_NODE: u8 = 0;
/// Stale entry tag: the payload is key_hash ‖ version BE (a `state_values` key).
const TAG_VALUE: u8 = 1;

/// Decodes bytes read from disk, turning any failure into `Corrupt`.
pub fn decode<T: BorshDeserialize>(
    bytes: &[u8],
    limit: usize,
    what: &'static str,
) -> Result<T, StorageError> {
    decode_bounded(bytes, limit).map_err(|e| StorageError::corrupt(what, e))
}

/// Key of a record stored by height.
pub fn height_key(height: u64) -> [u8; 8] {
    height.to_be_bytes()
}

/// Reads a big-endian u64 that must be exactly 8 bytes.
pub fn decode_u64(bytes: &[u8], what: &'static str) -> Result<u64, StorageError> {
    let arr: [u8; 8] = bytes.try_into().map_err(|_| {
        StorageError::corrupt(what, format!("expected 8 bytes, got {}", bytes.len()))
    })?;
    Ok(u64::from_be_bytes(arr))
}

/// The head pointer value: height BE ‖ hash.
pub fn encode_head(height: u64, hash: &Hash) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..8].copy_from_slice(&height.to_be_bytes());
    out[8..].copy_from_slice(&hash.0);
    out
}

/// Parses the head pointer value.
pub fn decode_head(bytes: &[u8]) -> Result<(u64, Hash), StorageError> {
    if bytes.len() != 40 {
        return Err(StorageError::corrupt(
            "meta/head",
            format!("{} bytes, want 40", bytes.len()),
        ));
    }
    let height = decode_u64(&bytes[..8], "meta/head")?;
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&bytes[8..]);
    Ok((height, Hash(hash)))
}

/// Key of a state value: key_hash ‖ version BE.
pub fn value_key(key_hash: &KeyHash, version: Version) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..32].copy_from_slice(&key_hash.0);
    out[32..].copy_from_slice(&version.to_be_bytes());
    out
}

/// Splits a `state_values` key into key hash and version.
pub fn split_value_key(bytes: &[u8]) -> Result<(KeyHash, Version), StorageError> {
    if bytes.len() != 40 {
        let detail = format!("key of {} bytes, want 40", bytes.len());
        return Err(StorageError::corrupt("state_values", detail));
    }
    let mut kh = [0u8; 32];
    kh.copy_from_slice(&bytes[..32]);
    Ok((KeyHash(kh), decode_u64(&bytes[32..], "state_values")?))
}

/// What a stale entry makes garbage once its version is pruned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StaleTarget {
    /// A JMT node; holds the `state_nodes` key (borsh `NodeKey`).
    Node(Vec<u8>),
    /// A state value version; holds the `state_values` key.
    Value([u8; 40]),
}

/// One `state_stale` record: `target` is not visible at `since` or any later version,
/// so it can be deleted once every version before `since` is pruned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleEntry {
    pub since: Version,
    pub target: StaleTarget,
}

impl StaleEntry {
    /// The `state_stale` key: since BE ‖ tag ‖ payload. (The commit appends
    /// keys in place with [`StaleEntry::append_node_key`] and
    /// [`StaleEntry::append_value_key`]; tests build them whole.)
    #[cfg(test)]
    pub fn key(&self) -> Vec<u8> {
        let (tag, payload): (u8, &[u8]) = match &self.target {
            StaleTarget::Node(k) => (TAG_NODE, k),
            StaleTarget::Value(k) => (TAG_VALUE, k),
        };
        let mut out = Vec::with_capacity(9 + payload.len());
        out.extend_from_slice(&self.since.to_be_bytes());
        out.push(tag);
        out.extend_from_slice(payload);
        out
    }

    /// Appends the key of an entry naming the node `node_key` (the bytes
    /// [`StaleEntry::key`] gives) to `out`, without building the entry.
    pub fn append_node_key(
        out: &mut Vec<u8>,
        since: Version,
        node_key: &jmt::storage::NodeKey,
    ) -> std::io::Result<()> {
        out.extend_from_slice(&since.to_be_bytes());
        out.push(TAG_NODE);
        borsh::BorshSerialize::serialize(node_key, out)
    }

    /// Appends the key of an entry naming the `state_values` key `target`
    /// (the bytes [`StaleEntry::key`] gives) to `out`.
    pub fn append_value_key(out: &mut Vec<u8>, since: Version, target: &[u8; 40]) {
        out.extend_from_slice(&since.to_be_bytes());
        out.push(TAG_VALUE);
        out.extend_from_slice(target);
    }

    /// Parses a `state_stale` key.
    pub fn parse(bytes: &[u8]) -> Result<Self, StorageError> {
        const WHAT: &str = "state_stale";
        if bytes.len() < 9 {
            return Err(StorageError::corrupt(
                WHAT,
                format!("key of {} bytes", bytes.len()),
            ));
        }
        let since = decode_u64(&bytes[..8], WHAT)?;
        let payload = &bytes[9..];
        let target = match bytes[8] {
            TAG_NODE if !payload.is_empty() => StaleTarget::Node(payload.to_vec()),
            TAG_VALUE => StaleTarget::Value(
                payload
                    .try_into()
                    .map_err(|_| StorageError::corrupt(WHAT, "value payload is not 40 bytes"))?,
            ),
            tag => return Err(StorageError::corrupt(WHAT, format!("bad tag {tag}"))),
        };
        Ok(StaleEntry { since, target })
    }

    /// The column family and key this entry makes garbage.
    pub fn target(&self) -> (&'static str, &[u8]) {
        match &self.target {
            StaleTarget::Node(k) => (crate::columns::STATE_NODES, k),
            StaleTarget::Value(k) => (crate::columns::STATE_VALUES, k),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_entry_round_trip_and_garbage() {
        let node = StaleEntry {
            since: 7,
            target: StaleTarget::Node(vec![1, 2, 3]),
        };
        assert_eq!(StaleEntry::parse(&node.key()).unwrap(), node);
        let kh = KeyHash([9; 32]);
        let value = StaleEntry {
            since: 8,
            target: StaleTarget::Value(value_key(&kh, 3)),
        };
        assert_eq!(StaleEntry::parse(&value.key()).unwrap(), value);
        // Ordered by version first.
        assert!(node.key() < value.key());
        // Appended in place, the same bytes.
        let nk = jmt::storage::NodeKey::new(
            7,
            borsh::from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0xa0]).unwrap(),
        );
        let entry = StaleEntry {
            since: 7,
            target: StaleTarget::Node(umbra_types::encode(&nk)),
        };
        let mut out = vec![1, 2];
        StaleEntry::append_node_key(&mut out, 7, &nk).unwrap();
        assert_eq!(out[2..], entry.key()[..]);
        let mut out = Vec::new();
        StaleEntry::append_value_key(&mut out, 8, &value_key(&kh, 3));
        assert_eq!(out, value.key());
        for bad in [
            &[][..],
            &[0u8; 8],
            &[0, 0, 0, 0, 0, 0, 0, 1, 1, 5],
            &[0u8, 0, 0, 0, 0, 0, 0, 1, 7],
        ] {
            assert!(matches!(
                StaleEntry::parse(bad),
                Err(StorageError::Corrupt { .. })
            ));
        }
    }

    #[test]
    fn value_key_and_head_round_trip() {
        let kh = KeyHash([3; 32]);
        assert_eq!(split_value_key(&value_key(&kh, 42)).unwrap(), (kh, 42));
        assert!(split_value_key(&[0; 39]).is_err());
        let h = umbra_types::sha256(b"x");
        assert_eq!(decode_head(&encode_head(5, &h)).unwrap(), (5, h));
        assert!(decode_head(&[0; 39]).is_err());
        assert!(decode_u64(&[1, 2], "t").is_err());
    }
}
