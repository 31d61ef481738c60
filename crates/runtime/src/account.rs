//! Accounts: a balance and the next nonce.

use borsh::{BorshDeserialize, BorshSerialize};
use umbra_types::Amount;

/// An account's state. An account that was never written reads as zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Account {
    pub balance: Amount,
    /// The nonce the account's next transaction must carry.
    pub nonce: u64,
}
