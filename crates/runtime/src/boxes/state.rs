//! Typed reads and writes of box records.

use crate::error::ExecError;
use crate::overlay::{MAX_RECORD_BYTES, Overlay};
use borsh::{BorshDeserialize, BorshSerialize};
use umbra_storage::StateView;
use umbra_types::{decode_bounded, encode};

/// Reads and decodes the record at `key`; a record that does not decode is
/// corrupt state, which stops the block rather than guessing.
pub fn load<T: BorshDeserialize>(
    state: &dyn StateView,
    key: &[u8],
) -> Result<Option<T>, ExecError> {
    match state.get(key)? {
        None => Ok(None),
        Some(bytes) => decode_bounded(&bytes, MAX_RECORD_BYTES)
            .map(Some)
            .map_err(|e| ExecError::CorruptState {
                key: hex_key(key),
                reason: e.to_string(),
            }),
    }
}

pub fn store<T: BorshSerialize>(state: &mut Overlay<'_>, key: Vec<u8>, value: &T) {
    state.put(key, encode(value));
}

fn hex_key(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}
