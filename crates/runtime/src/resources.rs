//! Resource sets: the state keys a call reads and writes, declared before it
//! runs so the parallel executor can group non-conflicting transactions.

use crate::keys;
use crate::storage::keys as sk;
use umbra_types::{Address, MessageBody, Payload, Transaction};

/// What a transaction may touch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceSet {
    pub reads: Vec<Vec<u8>>,
    pub writes: Vec<Vec<u8>>,
    /// Accounts changed only by commutative additions (fees to the reward
    /// pool, storage payments); they never make two transactions conflict.
    /// Named, not keyed: every transaction has some, and a static list
    /// costs no allocation on the declaration path.
    pub deltas: &'static [Delta],
    /// False for calls that must run alone, after the parallel phase.
    pub parallel: bool,
}

impl ResourceSet {
    /// Whether the call may read or write `key`. A key inside a box's
    /// region is declared by declaring the region.
    pub fn declares(&self, key: &[u8]) -> bool {
        let has =
            |k: &[u8]| self.writes.iter().any(|w| w == k) || self.reads.iter().any(|r| r == k);
        has(key) || crate::boxes::keys::region_of(key).is_some_and(has)
    }
}

/// A shared account that transactions only add to, credited at the end of
/// the block (see `executor::Credits`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delta {
    /// Fees ([`crate::fees::reward_pool`]).
    RewardPool,
    /// Storage payments ([`crate::fees::storage_pool`]).
    StoragePool,
}

const FEE: &[Delta] = &[Delta::RewardPool];
const FEE_AND_STORAGE: &[Delta] = &[Delta::RewardPool, Delta::StoragePool];

/// The declared resource set of a transaction.
pub fn resources_of(tx: &Transaction) -> ResourceSet {
    resources_of_sender(tx, &tx.sender_address())
}

/// [`resources_of`] with the sender's address already derived from
/// `tx.sender`; `from` must be `tx.sender_address()`.
pub fn resources_of_sender(tx: &Transaction, from: &Address) -> ResourceSet {
    let sender = keys::account(from);
    match &tx.payload {
        Payload::Transfer { to, .. } => ResourceSet {
            reads: vec![],
            writes: vec![sender, keys::account(to)],
            deltas: FEE,
            parallel: true,
        },
        // Creation takes the next box id, and every create writes the
        // counter and id index: these run alone, after the parallel phase.
        Payload::BoxCreate { .. } => ResourceSet {
            reads: vec![],
            writes: vec![sender],
            deltas: FEE,
            parallel: false,
        },
        // A box call touches its own region and pays from the sender; the
        // owner's share of a gate payment is a delta, credited at the end
        // of the block. A gate that reaches other boxes (CALL, PUSH into
        // the owner's other boxes) is outside this set: the safety net
        // re-runs it in order.
        // A message linking to stored content reads the content's
        // allocation. (A gate's LINK names content the declaration cannot
        // know: the safety net re-runs such a call.)
        Payload::BoxPush { name, body } | Payload::BoxReplace { name, body, .. } => ResourceSet {
            reads: match body {
                MessageBody::Link { content_id, .. } => vec![sk::allocation(content_id)],
                MessageBody::Data(_) => vec![],
            },
            writes: vec![sender, crate::boxes::keys::region(name)],
            deltas: FEE,
            parallel: true,
        },
        Payload::BoxSetGate { name, .. }
        | Payload::BoxPull { name, .. }
        | Payload::BoxDelete { name, .. }
        | Payload::BoxAllow { name, .. } => ResourceSet {
            reads: vec![],
            writes: vec![sender, crate::boxes::keys::region(name)],
            deltas: FEE,
            parallel: true,
        },
        // Elections touch the shared candidate table: rare, so they run
        // alone, in block order.
        Payload::ElectionAnnounce
        | Payload::ElectionQuit
        | Payload::ElectionVote { .. }
        | Payload::ElectionWithdraw { .. }
        | Payload::ElectionReport { .. } => ResourceSet {
            reads: vec![],
            writes: vec![sender],
            deltas: FEE,
            parallel: false,
        },
        // Storage payments go to the storage pool as a delta. Allocating
        // content that expired under another owner also collects it,
        // touching that owner's and its readers' lists, which the
        // declaration cannot know: the safety net re-runs that rare case.
        Payload::StorageAlloc { content_id, .. } => ResourceSet {
            reads: vec![],
            writes: vec![
                sender,
                sk::allocation(content_id),
                sk::readers(content_id),
                sk::owned(from),
            ],
            deltas: FEE_AND_STORAGE,
            parallel: true,
        },
        Payload::StorageRenew { content_id, .. } => ResourceSet {
            reads: vec![],
            writes: vec![sender, sk::allocation(content_id)],
            deltas: FEE_AND_STORAGE,
            parallel: true,
        },
        Payload::StorageGrant {
            content_id, reader, ..
        } => ResourceSet {
            reads: vec![sk::allocation(content_id)],
            writes: vec![
                sender,
                sk::grant(content_id, reader),
                sk::readers(content_id),
                sk::granted(reader),
            ],
            deltas: FEE,
            parallel: true,
        },
        // Collection reaches the owner's and every reader's lists, and
        // storage nodes share one table: these run alone, in block order.
        Payload::StorageCollect { .. }
        | Payload::StorageRegister { .. }
        | Payload::StorageUnregister => ResourceSet {
            reads: vec![],
            writes: vec![sender],
            deltas: FEE,
            parallel: false,
        },
        Payload::SetEncryptionKey { .. } => ResourceSet {
            reads: vec![],
            writes: vec![sender, crate::boxes::keys::encryption_key(from)],
            deltas: FEE,
            parallel: true,
        },
    }
}
