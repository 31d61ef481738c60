//! Manifests kept beside the blocks, one file per content, named by its id.
//!
//! Manifests do not count towards the capacity: each is bounded by
//! `MAX_MANIFEST_BYTES` and a node only keeps those of contents it stores.

use super::BlockStore;
use super::layout::{
    MANIFESTS_DIR, ReadOutcome, entries, parse_id, read_bounded, remove, write_atomic,
};
use crate::error::PdfsError;
use crate::limits::MAX_MANIFEST_BYTES;
use crate::manifest::Manifest;
use std::path::PathBuf;
use umbra_types::Hash;

impl BlockStore {
    fn manifest_path(&self, content_id: &Hash) -> PathBuf {
        self.dir.join(MANIFESTS_DIR).join(content_id.to_hex())
    }

    /// Stores `m` under its content id (replacing an earlier copy). Refuses
    /// a manifest that does not validate.
    pub fn put_manifest(&self, m: &Manifest) -> Result<(), PdfsError> {
        m.validate()?;
        write_atomic(
            &self.manifest_path(&m.content_id()),
            self.next_seq(),
            &m.encode(),
        )
    }

    /// The stored manifest of `content_id`, `None` if there is none.
    ///
    /// A file that does not decode, or holds the manifest of another
    /// content, is [`PdfsError::BadManifest`] and is left in place (unlike a
    /// corrupt block, it is not deleted: `collect` must not guess which
    /// blocks it referenced). Storing a good copy with `put_manifest`
    /// replaces it.
    pub fn manifest(&self, content_id: &Hash) -> Result<Option<Manifest>, PdfsError> {
        let path = self.manifest_path(content_id);
        let bytes = match read_bounded(&path, MAX_MANIFEST_BYTES)? {
            ReadOutcome::Missing => return Ok(None),
            ReadOutcome::Oversize => {
                return Err(PdfsError::BadManifest(format!(
                    "{} is over {MAX_MANIFEST_BYTES} bytes",
                    path.display()
                )));
            }
            ReadOutcome::Bytes(b) => b,
        };
        let m = Manifest::decode(&bytes)
            .map_err(|e| PdfsError::BadManifest(format!("{}: {e}", path.display())))?;
        let actual = m.content_id();
        if actual != *content_id {
            return Err(PdfsError::BadManifest(format!(
                "{} holds the manifest of content {actual}",
                path.display()
            )));
        }
        Ok(Some(m))
    }

    /// Content ids with a stored manifest, sorted.
    pub fn contents(&self) -> Result<Vec<Hash>, PdfsError> {
        let mut ids: Vec<Hash> = entries(&self.dir.join(MANIFESTS_DIR))?
            .into_iter()
            .filter(|(_, _, is_dir)| !is_dir)
            .filter_map(|(name, _, _)| parse_id(&name))
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// Removes a stored manifest (its blocks stay until `collect`);
    /// `Ok(false)` if there was none.
    pub fn remove_manifest(&self, content_id: &Hash) -> Result<bool, PdfsError> {
        remove(&self.manifest_path(content_id))
    }
}
