//! Cutting a byte stream into numbered blocks, each marked if it is the last.
//!
//! A reader that is not a file (stdin, a socket) does not say how long it
//! is: a block is known to be the last only when the read after it hits end
//! of file. So the chunker always holds one block read ahead.

use crate::error::PdfsError;
use crate::limits::{BLOCK_SIZE, TAG_BYTES};
use std::io::Read;

/// One plaintext block and its place in the content.
pub(crate) struct PlainBlock {
    pub index: u64,
    pub last: bool,
    pub bytes: Vec<u8>,
}

pub(crate) struct Chunker<R> {
    reader: R,
    /// The block after the last one handed out, read to learn whether that
    /// one was last. `None` once the final block has been handed out.
    ahead: Option<Vec<u8>>,
    next_index: u64,
    max_blocks: u64,
    /// Plaintext bytes handed out so far.
    total: u64,
}

impl<R: Read> Chunker<R> {
    /// Reads the first block. An empty stream gives one empty block.
    pub fn new(mut reader: R, max_blocks: u64) -> Result<Self, PdfsError> {
        let first = read_block(&mut reader)?;
        Ok(Chunker {
            reader,
            ahead: Some(first),
            next_index: 0,
            max_blocks,
            total: 0,
        })
    }

    /// Up to `max` next blocks, in order; empty once the content is done.
    /// Holds at most `max + 1` blocks of plaintext.
    pub fn next_batch(&mut self, max: usize) -> Result<Vec<PlainBlock>, PdfsError> {
        let mut batch = Vec::with_capacity(max.min(self.max_blocks as usize));
        while batch.len() < max {
            let Some(bytes) = self.ahead.take() else {
                break;
            };
            if self.next_index >= self.max_blocks {
                // There is data past the last block a content may have.
                return Err(PdfsError::TooLarge {
                    what: "content",
                    len: self.total + bytes.len() as u64,
                    max: self.max_blocks * BLOCK_SIZE as u64,
                });
            }
            let next = read_block(&mut self.reader)?;
            // Only the first block may be empty, so an empty read here is
            // the end of the stream, never an empty block.
            let last = next.is_empty();
            if !last {
                self.ahead = Some(next);
            }
            self.total += bytes.len() as u64;
            batch.push(PlainBlock {
                index: self.next_index,
                last,
                bytes,
            });
            self.next_index += 1;
        }
        Ok(batch)
    }

    /// Plaintext bytes handed out so far (the content size once done).
    pub fn total(&self) -> u64 {
        self.total
    }
}

/// Reads up to [`BLOCK_SIZE`] bytes, fewer only at end of stream. Short
/// reads (pipes) and interrupted reads are retried.
fn read_block(reader: &mut impl Read) -> Result<Vec<u8>, PdfsError> {
    // Room for the AEAD tag too, so that sealing the block where it lies
    // (`cipher::seal_owned`) does not move it. `read_to_end` fills the
    // spare capacity without zeroing it first and retries `Interrupted`;
    // `take` stops it at one block. Unlike the loop this replaced, it does
    // not clamp a `Read` impl that reports more bytes than it was given
    // (std panics on that broken contract); the readers umbra passes are
    // files and stdin, which keep it.
    let mut buf = Vec::with_capacity(BLOCK_SIZE + TAG_BYTES);
    reader
        .take(BLOCK_SIZE as u64)
        .read_to_end(&mut buf)
        .map_err(PdfsError::Read)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batches(data: &[u8], max: usize) -> Vec<(u64, bool, usize)> {
        let mut c = Chunker::new(data, u64::MAX).unwrap();
        let mut out = vec![];
        loop {
            let b = c.next_batch(max).unwrap();
            if b.is_empty() {
                break;
            }
            assert!(b.len() <= max);
            out.extend(b.into_iter().map(|p| (p.index, p.last, p.bytes.len())));
        }
        assert_eq!(c.total(), data.len() as u64);
        out
    }

    #[test]
    fn splits_and_marks_last() {
        assert_eq!(batches(&[], 3), vec![(0, true, 0)]);
        assert_eq!(batches(&[1], 3), vec![(0, true, 1)]);
        let b = BLOCK_SIZE;
        assert_eq!(batches(&vec![0; b], 1), vec![(0, true, b)]);
        assert_eq!(
            batches(&vec![0; b + 1], 1),
            vec![(0, false, b), (1, true, 1)]
        );
        assert_eq!(
            batches(&vec![0; 3 * b], 2),
            vec![(0, false, b), (1, false, b), (2, true, b)]
        );
    }

    #[test]
    fn too_many_blocks() {
        let data = vec![0u8; 2 * BLOCK_SIZE];
        let mut c = Chunker::new(&data[..], 2).unwrap();
        assert_eq!(c.next_batch(8).unwrap().len(), 2);
        let data = vec![0u8; 2 * BLOCK_SIZE + 1];
        let mut c = Chunker::new(&data[..], 2).unwrap();
        assert!(matches!(
            c.next_batch(8),
            Err(PdfsError::TooLarge {
                what: "content",
                ..
            })
        ));
    }
}
