//! Turning equivocations the chain saw into `ElectionReport` transactions:
//! the evidence that slashes a miner's candidacy deposit (10 % to the
//! reporter, the rest to the reward pool).

use crate::chain::Chain;
use crate::mempool::Mempool;
use parking_lot::Mutex;
use umbra_consensus::aedpos::Equivocation;
use umbra_crypto::Keypair;
use umbra_runtime::{election, required_fee};
use umbra_types::{Payload, RefBlock, Transaction, UnsignedTransaction};

/// The report `key` signs for `ev`, or `None` when reporting would only
/// cost a fee: the miner never stood as a candidate (there is no deposit)
/// or is slashed already.
pub fn report_tx(
    chain: &Chain,
    mempool: &Mutex<Mempool>,
    key: &Keypair,
    ev: &Equivocation,
) -> Option<Transaction> {
    let head = chain.head();
    let state = chain.store().state_at(head.height);
    let slashable = election::candidates(&state)
        .ok()?
        .into_iter()
        .any(|c| c.key == ev.first.proposer && !c.record.slashed);
    if !slashable {
        return None;
    }
    let account = chain.account(&key.address()).ok()?;
    let nonce = mempool.lock().pending_nonce(&key.address(), account.nonce);
    let unsigned = |max_fee| UnsignedTransaction {
        chain_id: chain.spec().chain_id,
        sender: key.public(),
        nonce,
        ref_block: RefBlock::new(head.height, &head.hash()),
        max_fee,
        payload: Payload::ElectionReport {
            first: Box::new(ev.first.clone()),
            second: Box::new(ev.second.clone()),
        },
    };
    // The fee depends on the size, which the fee field does not change.
    let fee = required_fee(chain.params(), &key.sign_transaction(unsigned(0)));
    Some(key.sign_transaction(unsigned(fee)))
}
