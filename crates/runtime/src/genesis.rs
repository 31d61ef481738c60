//! The state a chain starts from.

use crate::account::Account;
use crate::{Changes, keys};
use std::collections::BTreeSet;
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
    let mut seen = BTreeSet::new();
    let mut changes = Vec::with_capacity(balances.len() + 1);
    let mut total: Amount = 0;
    for (addr, amount) in balances {
        total = total.checked_add(*amount).ok_or(GenesisError::Overflow)?;
        if !seen.insert(addr) {
            return Err(GenesisError::Duplicate(*addr));
        }
        let acct = Account {
            balance: *amount,
            nonce: 0,
        };
        changes.push((keys::account(addr), Some(encode(&acct))));
    }
    changes.push((keys::block_info(), Some(encode(&(0u64, timestamp_ms)))));
    // Keys are distinct: accounts were checked, the block record has its own prefix.
    Ok(Changes::from_distinct(changes))
}
