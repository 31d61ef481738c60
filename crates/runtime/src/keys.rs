//! Layout of state keys. Each module owns a one-byte prefix so keys of
//! different modules can never collide.

use umbra_types::Address;

/// Prefix of account records.
pub const ACCOUNT_PREFIX: u8 = b'a';
/// Prefix of system records.
pub const SYSTEM_PREFIX: u8 = b's';

/// Key of an account record.
pub fn account(addr: &Address) -> Vec<u8> {
    let mut k = Vec::with_capacity(33);
    k.push(ACCOUNT_PREFIX);
    k.extend_from_slice(&addr.0);
    k
}

/// Key holding the current block's height, time and proposer. Written by every
/// block, so the state root commits to the block and the state tree always
/// gets a new version.
pub fn block_info() -> Vec<u8> {
    vec![SYSTEM_PREFIX, b'b']
}

/// Key of the consensus engine's state after the block (AEDPoS rounds).
/// Written by the node, never by transactions: no call declares or touches
/// it, and the executors' safety net would catch one that did.
pub fn consensus_state() -> Vec<u8> {
    vec![SYSTEM_PREFIX, b'c']
}
