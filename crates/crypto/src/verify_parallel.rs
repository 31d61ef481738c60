//! Signature checks for whole blocks: batches verified concurrently.
//!
//! A block of 20,000 transfers carries 20,000 signatures, the most expensive
//! part of checking it. Batch verification roughly halves the cost per
//! signature and the batches are independent, so they run on every core.
//! Under ZIP-215 a batch passes exactly when each member passes alone, so the
//! answer never depends on how the work was split.

use crate::verify::{verify_batch, verify_transaction};
use rayon::prelude::*;
use umbra_types::Transaction;

/// Transactions per batch. Large enough that the batch's fixed cost is small,
/// small enough that a 2,000-transaction block still spreads over the cores.
pub const SIGNATURE_CHUNK: usize = 256;

/// Whether every signature of `chunk` verifies, checked as one batch.
fn batch_ok(chunk: &[Transaction]) -> bool {
    let items: Vec<_> = chunk
        .iter()
        .map(|t| (t.sender, t.signing_hash(), t.signature))
        .collect();
    verify_batch(&items).is_ok()
}

/// Index of the first transaction whose signature does not verify, `None` if
/// all do. Runs on the current rayon pool.
pub fn first_invalid_signature(txs: &[Transaction]) -> Option<usize> {
    txs.par_chunks(SIGNATURE_CHUNK)
        .enumerate()
        .filter_map(|(c, chunk)| {
            if batch_ok(chunk) {
                return None;
            }
            // The batch says "some member is bad"; single checks say which.
            chunk
                .iter()
                .position(|t| verify_transaction(t).is_err())
                .map(|i| c * SIGNATURE_CHUNK + i)
        })
        .min()
}

/// Per-transaction verdicts (true = valid), computed in parallel batches.
pub fn verify_transactions_parallel(txs: &[Transaction]) -> Vec<bool> {
    let mut out = vec![true; txs.len()];
    out.par_chunks_mut(SIGNATURE_CHUNK)
        .zip(txs.par_chunks(SIGNATURE_CHUNK))
        .for_each(|(verdicts, chunk)| {
            if !batch_ok(chunk) {
                for (v, t) in verdicts.iter_mut().zip(chunk) {
                    *v = verify_transaction(t).is_ok();
                }
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev_keypair;
    use proptest::prelude::*;
    use umbra_types::{Payload, RefBlock, UnsignedTransaction};

    fn txs(n: usize) -> Vec<Transaction> {
        let k = dev_keypair("alice");
        let to = dev_keypair("bob").address();
        (0..n as u64)
            .map(|nonce| {
                k.sign_transaction(UnsignedTransaction {
                    chain_id: 1,
                    sender: k.public(),
                    nonce,
                    ref_block: RefBlock {
                        height: 0,
                        hash_prefix: [0; 4],
                    },
                    max_fee: 1,
                    payload: Payload::Transfer { to, amount: 1 },
                })
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        // Whatever is corrupted and wherever, the parallel answer is the
        // single-verification answer.
        #[test]
        fn agrees_with_single_verification(
            n in 0usize..700,
            corrupt in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..64, 1u8..=255), 0..4),
        ) {
            let mut v = txs(n);
            for (idx, byte, flip) in &corrupt {
                if n > 0 {
                    let i = idx.index(n);
                    v[i].signature.0[*byte] ^= flip;
                }
            }
            let single: Vec<bool> = v.iter().map(|t| verify_transaction(t).is_ok()).collect();
            prop_assert_eq!(verify_transactions_parallel(&v), single.clone());
            prop_assert_eq!(first_invalid_signature(&v), single.iter().position(|ok| !ok));
        }
    }
}
