//! Per-transaction outcomes of a block, kept in the lists that produced
//! them (a work unit's, a sequential phase's, a re-run's) and read out once,
//! in block order, into the block output.
//!
//! Copying 20,000 outcomes into one staging vector by index and then out
//! again cost two passes over ~2 MB on the block's serial path; here each
//! outcome moves once, and the only extra work is one index per transaction.

use crate::error::{ExecError, TxInvalid};
use crate::executor::{BlockOutput, ExecMode};
use umbra_types::Receipt;

pub(super) type Outcome = Result<Receipt, TxInvalid>;

/// Outcomes of a block's transactions, by producing list.
pub(super) struct Outcomes {
    /// Each list in increasing transaction index.
    lists: Vec<Vec<(usize, Outcome)>>,
    /// The list holding each transaction's outcome; `NONE` until recorded.
    list_of: Vec<u32>,
}

const NONE: u32 = u32::MAX;

impl Outcomes {
    pub(super) fn new(txs: usize) -> Self {
        Outcomes {
            lists: Vec::new(),
            list_of: vec![NONE; txs],
        }
    }

    /// Adds a list of outcomes, in increasing transaction index.
    pub(super) fn add(&mut self, list: Vec<(usize, Outcome)>) {
        let id = self.lists.len() as u32;
        for (i, _) in &list {
            if let Some(slot) = self.list_of.get_mut(*i) {
                *slot = id;
            }
        }
        self.lists.push(list);
    }

    /// The block output, exactly as the sequential executor reports it:
    /// block order, and in `Import` mode the first invalid transaction fails
    /// the block. The caller adds the changes.
    pub(super) fn assemble(self, mode: ExecMode) -> Result<BlockOutput, ExecError> {
        let mut lists: Vec<_> = self.lists.into_iter().map(Vec::into_iter).collect();
        let mut out = BlockOutput::default();
        out.receipts.reserve(self.list_of.len());
        out.included.reserve(self.list_of.len());
        for (index, &id) in self.list_of.iter().enumerate() {
            let recorded = lists.get_mut(id as usize).and_then(Iterator::next);
            match recorded {
                Some((i, Ok(receipt))) if i == index => {
                    out.included.push(index);
                    out.receipts.push(receipt);
                }
                Some((i, Err(reason))) if i == index => match mode {
                    ExecMode::Import => return Err(ExecError::InvalidTx { index, reason }),
                    ExecMode::Produce => out.rejected.push((index, reason)),
                },
                _ => {
                    return Err(ExecError::Internal(format!(
                        "transaction {index} was never executed, or its outcome is out of order"
                    )));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use umbra_types::{Hash, TxStatus};

    fn ok(i: usize) -> (usize, Outcome) {
        let r = Receipt {
            tx_hash: Hash::ZERO,
            status: TxStatus::Success,
            fee_paid: i as u128,
            events: vec![],
        };
        (i, Ok(r))
    }

    #[test]
    fn interleaved_lists_come_out_in_block_order() {
        let mut o = Outcomes::new(6);
        o.add(vec![ok(1), ok(4)]);
        o.add(vec![ok(0), (2, Err(TxInvalid::BadSignature)), ok(5)]);
        o.add(vec![ok(3)]);
        let out = o.assemble(ExecMode::Produce).unwrap();
        assert_eq!(out.included, [0, 1, 3, 4, 5]);
        let fees: Vec<u128> = out.receipts.iter().map(|r| r.fee_paid).collect();
        assert_eq!(fees, [0, 1, 3, 4, 5]);
        assert_eq!(out.rejected, [(2, TxInvalid::BadSignature)]);
    }

    #[test]
    fn import_fails_on_the_first_invalid() {
        let mut o = Outcomes::new(3);
        o.add(vec![ok(0), (1, Err(TxInvalid::BadSignature)), ok(2)]);
        assert!(matches!(
            o.assemble(ExecMode::Import),
            Err(ExecError::InvalidTx { index: 1, .. })
        ));
    }

    #[test]
    fn a_missing_or_misordered_outcome_is_an_error() {
        let mut o = Outcomes::new(3);
        o.add(vec![ok(0), ok(2)]);
        assert!(matches!(
            o.assemble(ExecMode::Produce),
            Err(ExecError::Internal(_))
        ));
        let mut o = Outcomes::new(2);
        o.add(vec![ok(1), ok(0)]);
        assert!(matches!(
            o.assemble(ExecMode::Produce),
            Err(ExecError::Internal(_))
        ));
    }
}
