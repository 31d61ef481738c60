//! Receipts: what happened when a transaction ran.

use crate::boxes::GateKind;
use crate::hash::{Hash, sha256};
use crate::keys::{Address, PublicKey};
use crate::{Amount, codec};
use borsh::{BorshDeserialize, BorshSerialize};

/// Outcome of an included transaction. A failed transaction still pays its
/// fee and consumes its nonce; its other effects are discarded.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum TxStatus {
    Success,
    Failed { code: u16, reason: String },
}

/// Something a transaction did that clients may want to watch for.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Event {
    Transfer {
        from: Address,
        to: Address,
        amount: Amount,
    },
    BoxCreated {
        name: String,
        owner: Address,
        id: u64,
    },
    GateSet {
        name: String,
        kind: GateKind,
        /// Static gas bound of the new script; 0 when the gate was removed.
        gas_bound: u64,
    },
    MessagePushed {
        name: String,
        index: u64,
        from: Address,
    },
    MessagePulled {
        name: String,
        index: u64,
        reader: Address,
    },
    MessageDeleted {
        name: String,
        index: u64,
    },
    MessageReplaced {
        name: String,
        index: u64,
    },
    /// A gate charged `payer`. The owner's share and the reward pool's share
    /// are credited at the end of the block.
    GatePaid {
        name: String,
        payer: Address,
        owner: Address,
        to_owner: Amount,
        to_pool: Amount,
    },
    AllowListChanged {
        name: String,
        address: Address,
        allowed: bool,
    },
    EncryptionKeySet {
        account: Address,
        key: [u8; 32],
    },
    CandidateAnnounced {
        candidate: PublicKey,
        deposit: Amount,
    },
    CandidateQuit {
        candidate: PublicKey,
        refund: Amount,
    },
    Voted {
        voter: Address,
        candidate: PublicKey,
        vote: u64,
        amount: Amount,
        unlock_ms: u64,
    },
    VoteWithdrawn {
        voter: Address,
        vote: u64,
        amount: Amount,
    },
    /// A slashed deposit: a share to the reporter, the rest to the reward
    /// pool.
    MinerSlashed {
        miner: PublicKey,
        reporter: Address,
        to_reporter: Amount,
        to_pool: Amount,
    },
    /// Storage was bought; `paid` goes to the storage pool, credited at the
    /// end of the block.
    StorageAllocated {
        content_id: Hash,
        owner: Address,
        expires_ms: u64,
        paid: Amount,
    },
    /// An allocation was extended; `paid` goes to the storage pool, credited
    /// at the end of the block.
    StorageRenewed {
        content_id: Hash,
        payer: Address,
        expires_ms: u64,
        paid: Amount,
    },
    /// An expired allocation and its grants were removed.
    StorageCollected {
        content_id: Hash,
        owner: Address,
        collector: Address,
    },
    StorageGranted {
        content_id: Hash,
        reader: Address,
    },
    StorageNodeRegistered {
        operator: Address,
        peer_id: Vec<u8>,
        /// Deposit locked by this call (0 when an existing node updated
        /// its addresses).
        deposit: Amount,
    },
    StorageNodeUnregistered {
        operator: Address,
        refund: Amount,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Receipt {
    pub tx_hash: Hash,
    pub status: TxStatus,
    pub fee_paid: Amount,
    pub events: Vec<Event>,
}

impl Receipt {
    pub fn hash(&self) -> Hash {
        sha256(&codec::encode(self))
    }
}
