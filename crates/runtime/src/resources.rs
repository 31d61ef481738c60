//! Resource sets: the state keys a call reads and writes, declared before it
//! runs so the parallel executor can group non-conflicting transactions.

use crate::keys;
use umbra_types::{Payload, Transaction};

/// What a transaction may touch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceSet {
    pub reads: Vec<Vec<u8>>,
    pub writes: Vec<Vec<u8>>,
    /// Keys changed only by commutative additions (fees to the reward pool);
    /// they never make two transactions conflict.
    pub deltas: Vec<Vec<u8>>,
    /// False for calls that must run alone, after the parallel phase.
    pub parallel: bool,
}

impl ResourceSet {
    /// Whether the call may read or write `key`.
    pub fn declares(&self, key: &[u8]) -> bool {
        self.writes.iter().any(|k| k == key) || self.reads.iter().any(|k| k == key)
    }
}

/// The declared resource set of a transaction.
pub fn resources_of(tx: &Transaction) -> ResourceSet {
    let sender = keys::account(&tx.sender_address());
    let pool = keys::account(&crate::fees::reward_pool());
    match &tx.payload {
        Payload::Transfer { to, .. } => ResourceSet {
            reads: vec![],
            writes: vec![sender, keys::account(to)],
            deltas: vec![pool],
            parallel: true,
        },
    }
}
