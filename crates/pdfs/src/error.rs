//! The one error type of the crate: every operation here fails for a reason
//! a caller can show a user (a path, two hashes, a limit).

use std::path::PathBuf;
use umbra_types::Hash;

#[derive(Debug, thiserror::Error)]
pub enum PdfsError {
    /// A file or directory of the block store could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The content being encoded could not be read.
    #[error("reading the content: {0}")]
    Read(#[source] std::io::Error),
    /// Bytes do not hash to the id they were offered or fetched under.
    #[error("block hash mismatch: expected {expected}, got {got}")]
    HashMismatch { expected: Hash, got: Hash },
    /// Input over one of the limits in this crate.
    #[error("{what} is {len} bytes, over the limit of {max}")]
    TooLarge {
        what: &'static str,
        len: u64,
        max: u64,
    },
    /// The block store has no room for a block.
    #[error("block store full: {used} of {capacity} bytes used, {need} more needed")]
    Full { used: u64, capacity: u64, need: u64 },
    /// Authenticated decryption failed: the wrong key, or the bytes, the block
    /// index, its "last" flag or the content id were changed. Deliberately no
    /// hint of which.
    #[error("cannot decrypt: wrong key or tampered data")]
    Decrypt,
    /// The cipher refused to encrypt (cannot happen for inputs within the
    /// limits; kept rather than panicking).
    #[error("cannot encrypt")]
    Encrypt,
    /// A manifest that does not decode or is inconsistent.
    #[error("bad manifest: {0}")]
    BadManifest(String),
    /// The content is encrypted and no key was given.
    #[error("the content is encrypted and no key was given")]
    MissingKey,
    /// A block index past the end of the content.
    #[error("no block {index}: the content has {count} blocks")]
    NoSuchBlock { index: u64, count: u64 },
    /// A stored block whose length is not what the manifest says it must be.
    #[error("block {index} is {got} bytes, the manifest says {expected}")]
    BlockLength { index: u64, expected: u64, got: u64 },
    /// A wrapped key opened, but does not hold a 32-byte content key.
    #[error("the wrapped key holds {0} bytes, not a 32-byte content key")]
    WrappedKeyLength(usize),
    /// A sink given to `encode_stream` could not take a block (the upload
    /// stopped, the peer went away); the sink says why.
    #[error("{0}")]
    Sink(String),
    /// Key wrapping failed for a reason other than a wrong key (an invalid
    /// reader public key, an unknown envelope version, a short envelope).
    #[error("key wrapping: {0}")]
    KeyWrap(#[source] umbra_crypto::EncryptionError),
}

impl PdfsError {
    /// An [`PdfsError::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PdfsError::Io {
            path: path.into(),
            source,
        }
    }
}
