//! Numeric error codes of the RPC, documented in `docs/RPC.md`.

/// Every application error the node returns. JSON-RPC's own codes (-32700
/// parse error, -32600 invalid request, -32601 unknown method, -32602 invalid
/// params, -32603 internal, -32007 request too big) are used as the spec says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum ErrorCode {
    /// The transaction is not valid hex.
    MalformedHex = 1001,
    /// The bytes are not a valid transaction encoding (truncated, trailing bytes, bad tags).
    DecodeFailed = 1002,
    /// The transaction is larger than the chain allows.
    TxTooLarge = 1003,
    /// The signature does not verify, or the key is not a valid point.
    BadSignature = 1004,
    /// The transaction is for another chain.
    WrongChainId = 1005,
    /// The nonce was already used (a replay).
    NonceTooLow = 1006,
    /// The reference block is not on this chain (unknown height or hash prefix).
    UnknownRefBlock = 1007,
    /// The reference block is older than the validity window.
    RefBlockExpired = 1008,
    /// The sender cannot pay amount plus fee.
    InsufficientBalance = 1009,
    /// `max_fee` is below the chain's fee for this transaction.
    FeeTooLow = 1010,
    /// A transaction with the same sender and nonce is pending with an equal or higher fee.
    ReplacementUnderpriced = 1011,
    /// The same transaction is already pending or included.
    AlreadyKnown = 1012,
    /// The mempool is at its count or byte limit.
    MempoolFull = 1013,
    /// The sender has too many pending transactions.
    SenderQueueFull = 1014,
    /// The nonce is further ahead of the account nonce than the mempool holds.
    NonceTooFarAhead = 1015,
    /// The nonce does not follow the account nonce (only in block execution).
    NonceGap = 1016,
    /// A call's arguments are invalid before any state is read: a box name
    /// that breaks the naming rules, a gate script that does not decode or
    /// whose gas bound is over the limit, a message body over the limit.
    InvalidCall = 1017,
    /// A box call would fail against the current state (no such box, not
    /// the owner, the gate refuses, a look-alike name); nothing was
    /// submitted and nothing charged. The message gives the reason.
    CallRefused = 1018,
    /// The RPC method was given a transaction of another kind.
    WrongCallKind = 1019,
    /// No block at that height or hash.
    BlockNotFound = 2001,
    /// No transaction with that hash.
    TxNotFound = 2002,
    /// Not a valid `umb1…` address.
    InvalidAddress = 2003,
    /// Not a 64-hex-character hash.
    InvalidHash = 2004,
    /// Too many transactions in one batch.
    BatchTooLarge = 2005,
    /// No box with that name.
    BoxNotFound = 2006,
    /// No message at that index.
    MessageNotFound = 2007,
    /// The node does not offer this here: a solo chain has no rounds, a
    /// node off the network has no peers, admin methods are off.
    Unsupported = 2008,
    /// A parameter is malformed (a peer id that does not parse).
    InvalidParams = 2009,
    /// The node failed internally (disk error); the request may be retried.
    Internal = -32603,
}

impl ErrorCode {
    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn from_code(code: i32) -> Option<ErrorCode> {
        use ErrorCode::*;
        [
            MalformedHex,
            DecodeFailed,
            TxTooLarge,
            BadSignature,
            WrongChainId,
            NonceTooLow,
            UnknownRefBlock,
            RefBlockExpired,
            InsufficientBalance,
            FeeTooLow,
            ReplacementUnderpriced,
            AlreadyKnown,
            MempoolFull,
            SenderQueueFull,
            NonceTooFarAhead,
            NonceGap,
            InvalidCall,
            CallRefused,
            WrongCallKind,
            BlockNotFound,
            TxNotFound,
            InvalidAddress,
            InvalidHash,
            BatchTooLarge,
            BoxNotFound,
            MessageNotFound,
            Unsupported,
            InvalidParams,
            Internal,
        ]
        .into_iter()
        .find(|c| c.code() == code)
    }
}
