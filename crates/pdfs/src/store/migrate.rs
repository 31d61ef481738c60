//! Moving blocks of the old layout, one file per block under
//! `<dir>/blocks/<first byte, 2 hex>/<block id>`, into segments when a
//! store is opened.
//!
//! Each file whose bytes hash to its name is appended to the segments, then
//! deleted; a file that does not (torn, rotted) is deleted, as `get` would
//! have deleted it; leftover `*.tmp` files go too; then the emptied
//! directories. Files that are not the store's (other names, a block in the
//! wrong shard) are left alone, and so are the directories holding them. A
//! crash part way is harmless: a block appended but not yet deleted is
//! found in the index next time and only deleted.
//!
//! The imported blocks are counted but not refused for capacity: they were
//! already stored, and a store may be opened over its capacity.

use super::BlockStore;
use super::layout::{
    LEGACY_BLOCKS_DIR, ReadOutcome, TMP_SUFFIX, entries, parse_id, read_bounded, remove,
    remove_dir_if_empty, shard,
};
use crate::error::PdfsError;
use crate::limits::MAX_STORED_BLOCK;
use umbra_types::{Hash, sha256};

impl BlockStore {
    pub(super) fn migrate_legacy(&self) -> Result<(), PdfsError> {
        let legacy = self.dir.join(LEGACY_BLOCKS_DIR);
        if !legacy.is_dir() {
            return Ok(());
        }
        for (shard_name, shard_path, is_dir) in entries(&legacy)? {
            if !is_dir {
                if shard_name.ends_with(TMP_SUFFIX) {
                    remove(&shard_path)?;
                }
                continue;
            }
            for (name, path, is_dir) in entries(&shard_path)? {
                if is_dir {
                    continue;
                }
                if name.ends_with(TMP_SUFFIX) {
                    remove(&path)?;
                    continue;
                }
                let Some(id) = parse_id(&name).filter(|id| shard(id) == shard_name) else {
                    continue;
                };
                if let ReadOutcome::Bytes(bytes) = read_bounded(&path, MAX_STORED_BLOCK)?
                    && sha256(&bytes) == id
                {
                    self.import(&id, &bytes)?;
                }
                remove(&path)?;
            }
            remove_dir_if_empty(&shard_path)?;
        }
        remove_dir_if_empty(&legacy)
    }

    /// Appends a verified block unless it is already stored, counting it
    /// whatever the capacity.
    fn import(&self, id: &Hash, bytes: &[u8]) -> Result<(), PdfsError> {
        let record = self.lay_out_block(id, &[bytes])?;
        let mut w = self.writer();
        if self.live_at(id).is_some() {
            return Ok(());
        }
        let mut state = self.append_block(&mut w, id, &record)?;
        state.bytes += bytes.len() as u64;
        state.blocks += 1;
        Ok(())
    }
}
