//! Why a transaction cannot be included, and block execution errors.

use umbra_types::Amount;

/// Reasons a transaction cannot be included in a block. A block containing
/// such a transaction is invalid. Each has a stable numeric code, shared with
/// the RPC (`docs/RPC.md`).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TxInvalid {
    #[error("transaction is {size} bytes, over the limit of {limit}")]
    TooLarge { size: u64, limit: u64 },
    #[error("wrong chain id: expected {expected}, got {got}")]
    WrongChainId { expected: u64, got: u64 },
    #[error("bad signature")]
    BadSignature,
    #[error(
        "nonce too low: account nonce is {expected}, transaction has {got} (replayed or already used)"
    )]
    NonceTooLow { expected: u64, got: u64 },
    #[error("nonce gap: account nonce is {expected}, transaction has {got}")]
    NonceGap { expected: u64, got: u64 },
    #[error("reference block {height} is not a known block of this chain")]
    UnknownRefBlock { height: u64 },
    #[error(
        "reference block {height} has expired (window is {window} blocks; current height {current})"
    )]
    RefBlockExpired {
        height: u64,
        window: u64,
        current: u64,
    },
    #[error("insufficient balance: need {needed}, have {available}")]
    InsufficientBalance { needed: Amount, available: Amount },
    #[error("max fee {max_fee} is below the required fee {required}")]
    FeeTooLow { max_fee: Amount, required: Amount },
    #[error("invalid call: {0}")]
    InvalidCall(String),
    #[error("state error: {0}")]
    State(String),
}

impl TxInvalid {
    /// Stable numeric code (see `docs/RPC.md`).
    pub fn code(&self) -> i32 {
        match self {
            TxInvalid::TooLarge { .. } => 1003,
            TxInvalid::BadSignature => 1004,
            TxInvalid::WrongChainId { .. } => 1005,
            TxInvalid::NonceTooLow { .. } => 1006,
            TxInvalid::UnknownRefBlock { .. } => 1007,
            TxInvalid::RefBlockExpired { .. } => 1008,
            TxInvalid::InsufficientBalance { .. } => 1009,
            TxInvalid::FeeTooLow { .. } => 1010,
            TxInvalid::NonceGap { .. } => 1016,
            TxInvalid::InvalidCall(_) => 1017,
            TxInvalid::State(_) => -32603,
        }
    }
}

/// Codes of `TxStatus::Failed` receipts: the transaction was included and paid
/// its fee, but its call had no effect.
pub mod fail_codes {
    /// The sender could pay the fee but not the amount.
    pub const INSUFFICIENT_BALANCE: u16 = 1;
    /// The receiver's balance would overflow.
    pub const BALANCE_OVERFLOW: u16 = 2;
    /// No box has that name.
    pub const NO_SUCH_BOX: u16 = 10;
    /// A box with that name exists.
    pub const BOX_EXISTS: u16 = 11;
    /// The name is not allowed or looks like an existing box's.
    pub const BAD_NAME: u16 = 12;
    /// Only the owner (of the box, or of the content) may do this.
    pub const NOT_OWNER: u16 = 13;
    /// The gate script ran and refused the caller.
    pub const GATE_REFUSED: u16 = 14;
    /// The gate script failed (a VM error, a payment the caller cannot make).
    pub const GATE_ERROR: u16 = 15;
    /// The gate script does not decode or its gas bound is too high.
    pub const BAD_SCRIPT: u16 = 16;
    /// The message body is over the chain's limit.
    pub const MESSAGE_TOO_LARGE: u16 = 17;
    /// No message at that index.
    pub const NO_SUCH_MESSAGE: u16 = 18;
    /// The account owns the most boxes allowed.
    pub const TOO_MANY_BOXES: u16 = 19;
    /// The sender is already an active candidate.
    pub const ALREADY_CANDIDATE: u16 = 20;
    /// The key is not an active candidate.
    pub const NOT_CANDIDATE: u16 = 21;
    /// The key was slashed for equivocating.
    pub const SLASHED: u16 = 22;
    /// The candidate table is full.
    pub const TOO_MANY_CANDIDATES: u16 = 23;
    /// A vote with no amount, too short a lock, an unknown id, or over the
    /// per-account limit.
    pub const BAD_VOTE: u16 = 24;
    /// The vote's lock has not expired.
    pub const VOTE_LOCKED: u16 = 25;
    /// The equivocation evidence does not prove anything.
    pub const BAD_EVIDENCE: u16 = 26;
    /// No live allocation for that content: never allocated, collected,
    /// or expired.
    pub const NOT_ALLOCATED: u16 = 30;
    /// The content is allocated and not expired (its owner renews it).
    pub const ALREADY_ALLOCATED: u16 = 31;
    /// The allocation has not expired, so it cannot be collected.
    pub const NOT_EXPIRED: u16 = 32;
    /// The account's list of owned (or granted) contents is full.
    pub const TOO_MANY_CONTENTS: u16 = 33;
    /// The content has granted its key to the most readers allowed.
    pub const TOO_MANY_GRANTS: u16 = 34;
    /// Public content needs no key, so it takes no grants.
    pub const PUBLIC_CONTENT: u16 = 35;
    /// Another operator registered that peer id.
    pub const PEER_ID_TAKEN: u16 = 36;
    /// The storage node table is full.
    pub const TOO_MANY_STORAGE_NODES: u16 = 37;
    /// The sender has no registered storage node.
    pub const NOT_STORAGE_NODE: u16 = 38;
    /// A message links to content with another size than allocated.
    pub const LINK_SIZE_MISMATCH: u16 = 39;
    /// A storage call's arguments break the chain's rules (normally refused
    /// before inclusion), or a renewal would go past the longest period.
    pub const BAD_STORAGE_CALL: u16 = 40;
}

/// Why a block could not be executed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("transaction {index} is invalid: {reason}")]
    InvalidTx { index: usize, reason: TxInvalid },
    #[error("state error: {0}")]
    State(#[from] umbra_storage::StorageError),
    #[error("corrupt state record at key {key}: {reason}")]
    CorruptState { key: String, reason: String },
    /// A bug in the executor itself; the block is not applied.
    #[error("executor fault: {0}")]
    Internal(String),
}
