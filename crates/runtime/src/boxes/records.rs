//! Box records as stored in state (borsh).

use borsh::{BorshDeserialize, BorshSerialize};
use umbra_types::{Address, Amount, MessageBody};

/// A box: who owns it and where its messages are.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct BoxRecord {
    /// Creation order; CALL only enters boxes with a smaller id.
    pub id: u64,
    pub owner: Address,
    pub created_height: u64,
    /// Index the next pushed message gets.
    pub next_index: u64,
    /// Messages not deleted.
    pub live: u64,
}

/// A gate script and its static gas bound.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Gate {
    pub code: Vec<u8>,
    pub gas_bound: u64,
}

/// A message in a box.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Message {
    /// The account that pushed it, or the box address when a gate did.
    pub from: Address,
    pub height: u64,
    pub timestamp_ms: u64,
    pub body: MessageBody,
}

/// What one payer has paid through one box's gates.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Payment {
    pub total: Amount,
    pub last_ms: u64,
}
