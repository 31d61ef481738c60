//! What the VM may ask of the chain: the only way a gate reaches state.

use crate::value::Value;

/// The box a frame runs in, as the host describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxInfo {
    /// The box's name.
    pub name: Vec<u8>,
    /// The box's address.
    pub address: [u8; 32],
    /// Creation order; `CALL`/`INSPECT` only go to smaller ids.
    pub id: u64,
    /// Whether the acting account owns this box.
    pub caller_is_owner: bool,
}

/// A content-storage operation (`ALLOC LINK ELNK WRITE READ`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageOp<'a> {
    /// Allocate blocks with these hashes (`n × 32` bytes).
    Alloc {
        /// The box running the gate.
        this: &'a BoxInfo,
        /// Concatenated 32-byte block hashes.
        hashes: &'a [u8],
    },
    /// Push a link to stored content.
    Link {
        /// The box running the gate.
        this: &'a BoxInfo,
        /// The content id.
        id: &'a [u8; 32],
    },
    /// Push a link into an external service.
    Elnk {
        /// The box running the gate.
        this: &'a BoxInfo,
        /// The service's name.
        service: &'a [u8],
        /// The link data.
        data: &'a [u8],
    },
    /// Store `value` under `key`.
    Write {
        /// The box running the gate.
        this: &'a BoxInfo,
        /// The key.
        key: &'a [u8],
        /// The content.
        value: &'a [u8],
    },
    /// Read what is stored under `key`.
    Read {
        /// The box running the gate.
        this: &'a BoxInfo,
        /// The key.
        key: &'a [u8],
    },
}

/// A host failure; it aborts the run.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    /// Content storage ops are decoded and charged but not served yet.
    #[error("content storage is not available on this node yet")]
    StorageUnavailable,
    /// The host refused the operation.
    #[error("{0}")]
    Refused(String),
    /// Reading or writing chain state failed.
    #[error("state error: {0}")]
    State(String),
}

/// The chain as a gate sees it. The acting account is fixed for the whole run
/// (it is `Env::caller`), so per-caller questions do not take it again.
///
/// The interpreter never calls a mutating method from an inspect frame.
pub trait Host {
    /// Whether `who` is on `this` box's allow-list.
    fn listed(&mut self, this: &BoxInfo, who: &[u8; 32]) -> Result<bool, HostError>;
    /// Adds `who` to `this` box's allow-list.
    fn include(&mut self, this: &BoxInfo, who: &[u8; 32]) -> Result<(), HostError>;
    /// Removes `who` from `this` box's allow-list.
    fn exclude(&mut self, this: &BoxInfo, who: &[u8; 32]) -> Result<(), HostError>;
    /// Total the caller has paid through `this` box's gates.
    fn paid_total(&mut self, this: &BoxInfo) -> Result<u128, HostError>;
    /// Block time (ms) of the caller's last payment to `this` box.
    fn last_paid_ms(&mut self, this: &BoxInfo) -> Result<Option<u64>, HostError>;
    /// The caller pays `amount` to `this` box's owner.
    fn pay(&mut self, this: &BoxInfo, amount: u128) -> Result<(), HostError>;
    /// Adds a message to box `target`; `false` if not allowed.
    fn push(&mut self, this: &BoxInfo, target: &[u8], data: Vec<u8>) -> Result<bool, HostError>;
    /// The latest message body of box `target`.
    fn pull(&mut self, this: &BoxInfo, target: &[u8]) -> Result<Option<Vec<u8>>, HostError>;
    /// Deletes the latest message of box `target`; `false` if not allowed.
    fn delete(&mut self, this: &BoxInfo, target: &[u8]) -> Result<bool, HostError>;
    /// Replaces the latest message of box `target`; `false` if not allowed.
    fn replace(&mut self, this: &BoxInfo, target: &[u8], data: Vec<u8>) -> Result<bool, HostError>;
    /// Number of messages in box `target`; `None` if there is no such box.
    fn count(&mut self, target: &[u8]) -> Result<Option<u64>, HostError>;
    /// The name of the box at `address`.
    fn name_of(&mut self, address: &[u8; 32]) -> Result<Option<Vec<u8>>, HostError>;
    /// The address of the box named `name`.
    fn find(&mut self, name: &[u8]) -> Result<Option<[u8; 32]>, HostError>;
    /// The box named `name` and the read-gate code a `CALL`/`INSPECT` runs.
    fn call_target(&mut self, name: &[u8]) -> Result<Option<(BoxInfo, Vec<u8>)>, HostError>;
    /// Content storage; not served yet.
    fn storage(&mut self, op: StorageOp<'_>) -> Result<Value, HostError> {
        let _ = op;
        Err(HostError::StorageUnavailable)
    }
}

/// A host that refuses everything: for benchmarking pure computation and for
/// gates that must not touch state.
#[derive(Debug, Clone, Copy, Default)]
pub struct NullHost;

fn no_host<T>() -> Result<T, HostError> {
    Err(HostError::Refused("no host".into()))
}

impl Host for NullHost {
    fn listed(&mut self, _: &BoxInfo, _: &[u8; 32]) -> Result<bool, HostError> {
        no_host()
    }
    fn include(&mut self, _: &BoxInfo, _: &[u8; 32]) -> Result<(), HostError> {
        no_host()
    }
    fn exclude(&mut self, _: &BoxInfo, _: &[u8; 32]) -> Result<(), HostError> {
        no_host()
    }
    fn paid_total(&mut self, _: &BoxInfo) -> Result<u128, HostError> {
        no_host()
    }
    fn last_paid_ms(&mut self, _: &BoxInfo) -> Result<Option<u64>, HostError> {
        no_host()
    }
    fn pay(&mut self, _: &BoxInfo, _: u128) -> Result<(), HostError> {
        no_host()
    }
    fn push(&mut self, _: &BoxInfo, _: &[u8], _: Vec<u8>) -> Result<bool, HostError> {
        no_host()
    }
    fn pull(&mut self, _: &BoxInfo, _: &[u8]) -> Result<Option<Vec<u8>>, HostError> {
        no_host()
    }
    fn delete(&mut self, _: &BoxInfo, _: &[u8]) -> Result<bool, HostError> {
        no_host()
    }
    fn replace(&mut self, _: &BoxInfo, _: &[u8], _: Vec<u8>) -> Result<bool, HostError> {
        no_host()
    }
    fn count(&mut self, _: &[u8]) -> Result<Option<u64>, HostError> {
        no_host()
    }
    fn name_of(&mut self, _: &[u8; 32]) -> Result<Option<Vec<u8>>, HostError> {
        no_host()
    }
    fn find(&mut self, _: &[u8]) -> Result<Option<[u8; 32]>, HostError> {
        no_host()
    }
    fn call_target(&mut self, _: &[u8]) -> Result<Option<(BoxInfo, Vec<u8>)>, HostError> {
        no_host()
    }
    fn storage(&mut self, _: StorageOp<'_>) -> Result<Value, HostError> {
        no_host()
    }
}
