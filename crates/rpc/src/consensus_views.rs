//! JSON views of consensus and the peer-to-peer layer: the AEDPoS round
//! and the connected peers.

use serde::{Deserialize, Serialize};
use umbra_types::Address;

/// One miner's place in the current round.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RoundMinerView {
    /// Public key, hex.
    pub key: String,
    pub address: Address,
    /// 1-based slot order.
    pub order: u32,
    /// Start of its slot (Unix ms); the slot lasts `interval_ms`.
    pub slot_start_ms: u64,
    /// Whether it produced its first block of the round (committed its
    /// out value).
    pub mined: bool,
    /// Blocks it produced in this slot.
    pub blocks: u32,
    /// Slots it missed this term.
    pub missed_slots: u64,
    /// The height its first block implied irreversible (0 if none yet).
    pub implied_irreversible: u64,
}

/// `consensus_round`: the AEDPoS round after the head.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RoundView {
    /// Height of the head the round is read at.
    pub height: u64,
    pub round: u64,
    pub term: u64,
    pub start_ms: u64,
    pub interval_ms: u64,
    /// Order of the miner that closes the round.
    pub extra_producer: u32,
    /// When the extra slot (closing the round) starts.
    pub extra_slot_start_ms: u64,
    pub irreversible_height: u64,
    pub miners: Vec<RoundMinerView>,
}

/// A connected peer (`p2p_peers`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PeerView {
    pub peer_id: String,
    pub addr: String,
    pub score: i32,
    /// Whether it subscribes to this chain's block gossip.
    pub gossip: bool,
}

/// This node's place on the network (`p2p_info`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct P2pInfoView {
    pub peer_id: String,
    /// Full addresses (ending in `/p2p/<peer id>`) others can dial.
    pub listen_addrs: Vec<String>,
    pub peers: u64,
}
