//! Garbage collection: dropping contents the node no longer keeps and every
//! block no remaining manifest refers to, then getting the disk space back.

use super::BlockStore;
use crate::error::PdfsError;
use std::collections::HashSet;
use umbra_types::Hash;

/// What [`BlockStore::collect`] removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Manifests removed (contents `keep` said no to).
    pub contents: u64,
    /// Blocks removed.
    pub blocks: u64,
    /// Bytes of blocks freed.
    pub bytes: u64,
}

impl BlockStore {
    /// Drops the manifest of every stored content for which `keep` says
    /// false, then every block not referenced by a remaining manifest. A
    /// block shared by a dropped and a kept content stays.
    ///
    /// Every kept manifest is read before anything is deleted: if one cannot
    /// be read, the error is returned and nothing is removed, because the
    /// store could not tell which blocks it needs.
    ///
    /// Blocks with no stored manifest are garbage by this rule, so a node
    /// stores a content's manifest before its blocks and does not collect
    /// while an upload without a manifest is in progress.
    ///
    /// Removing a block appends a tombstone; the space of dead records is
    /// freed by compacting, at the end, every sealed segment more than half
    /// dead (whatever made it so: this collection, `delete`s, corrupt
    /// records dropped by `get`). A compaction error is returned after the
    /// removals took effect; the next `collect` compacts again.
    pub fn collect(&self, keep: impl Fn(&Hash) -> bool) -> Result<GcReport, PdfsError> {
        self.collect_except(keep, |_| false)
    }

    /// [`BlockStore::collect`], sparing also every block `pinned` says yes
    /// to (blocks staged for content not yet allocated). `pinned` is asked
    /// just before each removal, so a block pinned while the collection
    /// runs is spared, as long as it is pinned before it is stored.
    pub fn collect_except(
        &self,
        keep: impl Fn(&Hash) -> bool,
        pinned: impl Fn(&Hash) -> bool,
    ) -> Result<GcReport, PdfsError> {
        let mut report = GcReport::default();
        // The blocks are listed before the manifests are read: a block
        // stored after its manifest (as uploads do) is then either not
        // listed, or its manifest is read. Listed after, a block uploaded
        // during the scan of a manifest stored during it would be taken.
        let held = self.block_ids()?;
        let mut referenced = HashSet::new();
        let mut dropped = Vec::new();
        for content in self.contents()? {
            if keep(&content) {
                if let Some(m) = self.manifest(&content)? {
                    referenced.extend(m.block_ids);
                }
            } else {
                dropped.push(content);
            }
        }
        for content in dropped {
            if self.remove_manifest(&content)? {
                report.contents += 1;
            }
        }
        for id in held {
            if referenced.contains(&id) || pinned(&id) {
                continue;
            }
            if let Some(len) = self.remove_block(&id)? {
                report.blocks += 1;
                report.bytes += len;
            }
        }
        self.compact()?;
        Ok(report)
    }
}
