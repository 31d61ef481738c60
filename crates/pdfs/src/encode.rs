//! Streaming encoder: a reader in, stored blocks out through a sink, a
//! manifest at the end.
//!
//! Three stages overlap: while rayon's pool seals and hashes one window of
//! blocks, the calling thread hands the previous window to the sink and
//! reads the next one. Memory stays bounded (about four windows of 256 KiB
//! blocks) whatever the content's size, and the output does not depend on
//! the number of threads: blocks are numbered before they are sealed and
//! delivered in index order.

use crate::chunk::{Chunker, PlainBlock};
use crate::cipher::{block_id, seal_owned};
use crate::error::PdfsError;
use crate::key::ContentKey;
use crate::limits::MAX_BLOCKS;
use crate::manifest::{MANIFEST_VERSION, Manifest};
use crate::scheme::Scheme;
use rayon::prelude::*;
use std::io::Read;
use umbra_types::Hash;

/// Blocks per window, per rayon thread: two keeps every thread busy while
/// the slowest block of a window finishes.
const WINDOW_PER_THREAD: usize = 2;

/// A sealed block: its index, id and stored bytes.
type Sealed = (u64, Hash, Vec<u8>);

/// Reads `reader` to the end in [`crate::BLOCK_SIZE`] blocks, encrypts each
/// with `key` (`None`: [`Scheme::Public`], stored bytes = plaintext) and
/// calls `sink(index, id, stored)` for every block in index order. Returns
/// the manifest.
///
/// The first error (reading, sealing, or from the sink) stops the encoding
/// and is returned; blocks already given to the sink stay given. A content
/// over [`crate::MAX_CONTENT_BYTES`] is [`PdfsError::TooLarge`].
///
/// `key` must be fresh for this content (see [`ContentKey`]).
pub fn encode_stream<R: Read>(
    reader: R,
    key: Option<&ContentKey>,
    mut sink: impl FnMut(u64, Hash, &[u8]) -> Result<(), PdfsError>,
) -> Result<Manifest, PdfsError> {
    encode_with_limit(
        reader,
        key,
        |i, id, stored| sink(i, id, &stored),
        MAX_BLOCKS,
    )
}

/// [`encode_stream`] handing the sink each stored block by value, sealing
/// and hashing on the calling thread: for a one-pass upload, which sends
/// the blocks it hashes. There the network sets the pace, and rayon's idle
/// workers would spin while the sink waits, taking CPU the upload needs
/// (one thread seals and hashes ~1 GB/s, more than an upload moves).
pub fn encode_owned<R: Read>(
    reader: R,
    key: Option<&ContentKey>,
    mut sink: impl FnMut(u64, Hash, Vec<u8>) -> Result<(), PdfsError>,
) -> Result<Manifest, PdfsError> {
    let mut chunker = Chunker::new(reader, MAX_BLOCKS)?;
    let mut ids = Vec::new();
    loop {
        let batch = chunker.next_batch(1)?;
        if batch.is_empty() {
            break;
        }
        for b in batch {
            let stored = match key {
                Some(key) => seal_owned(key, b.index, b.last, b.bytes)?,
                None => b.bytes,
            };
            let id = block_id(&stored);
            ids.push(id);
            sink(b.index, id, stored)?;
        }
    }
    Ok(Manifest {
        version: MANIFEST_VERSION,
        size: chunker.total(),
        scheme: if key.is_some() {
            Scheme::Aes256Gcm
        } else {
            Scheme::Public
        },
        block_ids: ids,
    })
}

/// Like [`encode_stream`] but without computing block ids, handing the
/// sink each stored block by value, and sealing on the calling thread: for
/// a second pass over content whose manifest is already known (an upload).
/// There the network sets the pace; rayon's idle workers would spin while
/// the sink waits, taking the CPU the upload needs, and hashing again would
/// cost a fifth of the work. Returns the content's size.
pub fn seal_stream<R: Read>(
    reader: R,
    key: Option<&ContentKey>,
    mut sink: impl FnMut(u64, Vec<u8>) -> Result<(), PdfsError>,
) -> Result<u64, PdfsError> {
    let mut chunker = Chunker::new(reader, MAX_BLOCKS)?;
    loop {
        let batch = chunker.next_batch(1)?;
        if batch.is_empty() {
            return Ok(chunker.total());
        }
        for b in batch {
            let stored = match key {
                Some(key) => seal_owned(key, b.index, b.last, b.bytes)?,
                None => b.bytes,
            };
            sink(b.index, stored)?;
        }
    }
}

pub(crate) fn encode_with_limit<R: Read>(
    reader: R,
    key: Option<&ContentKey>,
    mut sink: impl FnMut(u64, Hash, Vec<u8>) -> Result<(), PdfsError>,
    max_blocks: u64,
) -> Result<Manifest, PdfsError> {
    let window = WINDOW_PER_THREAD * rayon::current_num_threads().max(1);
    let mut chunker = Chunker::new(reader, max_blocks)?;
    let mut ids = Vec::new();
    let mut to_seal = chunker.next_batch(window)?;
    let mut to_deliver: Vec<Sealed> = Vec::new();
    while !(to_seal.is_empty() && to_deliver.is_empty()) {
        let mut sealed: Option<Result<Vec<Sealed>, PdfsError>> = None;
        let batch = std::mem::take(&mut to_seal);
        let deliver = std::mem::take(&mut to_deliver);
        let slot = &mut sealed;
        // The pool seals `batch` while this thread does the IO: the sink for
        // the previous window, then reading the next. The reader and sink
        // never leave this thread, so neither needs to be `Send`.
        let next = rayon::in_place_scope(|scope| {
            if !batch.is_empty() {
                scope.spawn(move |_| *slot = Some(seal_batch(batch, key)));
            }
            for (index, id, stored) in deliver {
                ids.push(id);
                sink(index, id, stored)?;
            }
            chunker.next_batch(window)
        })?;
        if let Some(result) = sealed {
            to_deliver = result?;
        }
        to_seal = next;
    }
    let scheme = if key.is_some() {
        Scheme::Aes256Gcm
    } else {
        Scheme::Public
    };
    Ok(Manifest {
        version: MANIFEST_VERSION,
        size: chunker.total(),
        scheme,
        block_ids: ids,
    })
}

fn seal_batch(batch: Vec<PlainBlock>, key: Option<&ContentKey>) -> Result<Vec<Sealed>, PdfsError> {
    batch
        .into_par_iter()
        .map(|b| {
            let stored = match key {
                Some(key) => seal_owned(key, b.index, b.last, b.bytes)?,
                None => b.bytes,
            };
            Ok((b.index, block_id(&stored), stored))
        })
        .collect()
}
