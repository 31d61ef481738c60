//! What can go wrong on the content side, with the HTTP status each maps to.

use umbra_types::Hash;

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("content {0} is not allocated on chain")]
    NotAllocated(Hash),
    #[error("content {0} has expired")]
    Expired(Hash),
    #[error("the manifest does not match the allocation of {id}: {reason}")]
    ManifestMismatch { id: Hash, reason: String },
    #[error("no manifest for content {0} here: upload the manifest first")]
    NoManifest(Hash),
    #[error("content {id} has {blocks} blocks; there is no block {index}")]
    NoSuchBlock { id: Hash, index: u64, blocks: u64 },
    #[error("block {index} of {id} is not the block the manifest lists")]
    WrongBlock { id: Hash, index: u64 },
    #[error("no storage node could supply {what}")]
    Unavailable { what: String },
    #[error("this node is not a storage node (start it with --storage DIR)")]
    NotStorageNode,
    #[error("no storage node is registered on chain")]
    NoStorageNodes,
    #[error(transparent)]
    Pdfs(#[from] umbra_pdfs::PdfsError),
    #[error("cannot read chain state: {0}")]
    State(String),
    #[error("network: {0}")]
    Network(String),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("refused: {0}")]
    Forbidden(String),
    #[error("payment required: {0}")]
    PaymentRequired(String),
    #[error("no room to stage this upload: {0}")]
    StagingFull(String),
    #[error(
        "no upload session {0} here (sessions end after 10 minutes without an upload, and when the node restarts)"
    )]
    NoSession(String),
}

impl ContentError {
    /// The HTTP status the gateway answers with.
    pub fn status(&self) -> u16 {
        match self {
            ContentError::NotAllocated(_) | ContentError::NoManifest(_) => 404,
            ContentError::NoSuchBlock { .. } => 404,
            ContentError::Expired(_) => 410,
            ContentError::ManifestMismatch { .. } | ContentError::WrongBlock { .. } => 422,
            ContentError::Pdfs(e) if is_client_error(e) => 422,
            ContentError::Pdfs(umbra_pdfs::PdfsError::Full { .. }) => 507,
            ContentError::Unavailable { .. } | ContentError::NoStorageNodes => 503,
            ContentError::NotStorageNode => 501,
            ContentError::BadRequest(_) => 400,
            ContentError::Forbidden(_) => 403,
            ContentError::PaymentRequired(_) => 402,
            ContentError::StagingFull(_) => 507,
            ContentError::NoSession(_) => 404,
            ContentError::Pdfs(_) | ContentError::State(_) | ContentError::Network(_) => 500,
        }
    }
}

fn is_client_error(e: &umbra_pdfs::PdfsError) -> bool {
    use umbra_pdfs::PdfsError as E;
    matches!(
        e,
        E::HashMismatch { .. }
            | E::TooLarge { .. }
            | E::BadManifest(_)
            | E::Decrypt
            | E::MissingKey
    )
}
