//! The state a chain starts from.

use crate::account::Account;
use crate::{Changes, keys};
use umbra_types::{Address, Amount, encode};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GenesisError {
    #[error("account {0} is listed twice in the genesis balances")]
    Duplicate(Address),
    #[error("genesis balances overflow the total supply")]
    Overflow,
}

/// State changes of the genesis block: initial balances and the block record.
pub fn genesis_changes(
    balances: &[(Address, Amount)],
    timestamp_ms: u64,
) -> Result<Changes, GenesisError> {
    let mut changes = Changes::new();
    let mut total: Amount = 0;
    for (addr, amount) in balances {
        total = total.checked_add(*amount).ok_or(GenesisError::Overflow)?;
        let acct = Account {
            balance: *amount,
            nonce: 0,
        };
        if changes
            .insert(keys::account(addr), Some(encode(&acct)))
            .is_some()
        {
            return Err(GenesisError::Duplicate(*addr));
        }
    }
    changes.insert(keys::block_info(), Some(encode(&(0u64, timestamp_ms))));
    Ok(changes)
}
