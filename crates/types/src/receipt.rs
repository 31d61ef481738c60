//! Receipts: what happened when a transaction ran.

use crate::hash::{Hash, sha256};
use crate::keys::Address;
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
