//! The mempool: transactions waiting for a block.
//!
//! Per-sender nonce queues: a transaction whose nonce follows the account's
//! nonce (directly or through other pending ones) is *pending* and can go into
//! the next block; one behind a gap is *queued* until the gap fills. One
//! sender's gap never blocks another sender. Bounded by count, bytes, per-sender
//! entries and how far ahead a nonce may be. Pure: the node feeds it account
//! nonces and the chain height.

use std::collections::{BTreeMap, HashMap};
use umbra_runtime::TxInvalid;
use umbra_types::{Address, Hash, Height, Transaction};

/// Limits of the mempool.
#[derive(Clone, Debug)]
pub struct MempoolConfig {
    pub max_txs: usize,
    pub max_bytes: usize,
    pub max_per_sender: usize,
    /// Most nonces a transaction may be ahead of its account's nonce.
    pub max_nonce_ahead: u64,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            max_txs: 100_000,
            max_bytes: 64 * 1024 * 1024,
            max_per_sender: 2_048,
            max_nonce_ahead: 2_048,
        }
    }
}

/// Why the mempool refused a transaction.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum Rejection {
    #[error(transparent)]
    Invalid(#[from] TxInvalid),
    #[error(
        "a transaction with nonce {nonce} from this sender is pending with max fee {existing}; a replacement must offer more"
    )]
    ReplacementUnderpriced { nonce: u64, existing: u128 },
    #[error("transaction is already known")]
    AlreadyKnown,
    #[error("mempool is full")]
    Full,
    #[error("sender has {0} pending transactions, the most allowed")]
    SenderQueueFull(usize),
    #[error("nonce {got} is more than {limit} ahead of the account nonce {expected}")]
    NonceTooFarAhead { expected: u64, got: u64, limit: u64 },
}

impl Rejection {
    /// Stable numeric code, the same the RPC returns (`docs/RPC.md`).
    pub fn code(&self) -> i32 {
        match self {
            Rejection::Invalid(e) => e.code(),
            Rejection::ReplacementUnderpriced { .. } => 1011,
            Rejection::AlreadyKnown => 1012,
            Rejection::Full => 1013,
            Rejection::SenderQueueFull(_) => 1014,
            Rejection::NonceTooFarAhead { .. } => 1015,
        }
    }
}

/// Where an accepted transaction sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Next in line: can be included in the next block.
    Pending,
    /// Waiting for an earlier nonce.
    Queued,
}

struct Entry {
    tx: Transaction,
    hash: Hash,
    size: usize,
}

#[derive(Default)]
struct SenderQueue {
    /// The account's nonce in the latest state the mempool was told about.
    account_nonce: u64,
    txs: BTreeMap<u64, Entry>,
}

impl SenderQueue {
    /// The nonce after the contiguous run starting at the account nonce.
    fn next_ready_nonce(&self) -> u64 {
        let mut n = self.account_nonce;
        for k in self.txs.range(self.account_nonce..).map(|(k, _)| *k) {
            if k != n {
                break;
            }
            n += 1;
        }
        n
    }
}

/// Transactions waiting for inclusion.
#[derive(Default)]
pub struct Mempool {
    cfg: MempoolConfig,
    senders: BTreeMap<Address, SenderQueue>,
    by_hash: HashMap<Hash, (Address, u64)>,
    bytes: usize,
}

impl Mempool {
    pub fn new(cfg: MempoolConfig) -> Self {
        Mempool {
            cfg,
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Adds a transaction whose signature, chain id, size, fee and reference
    /// block the caller has checked. `account_nonce` is the sender's nonce in
    /// the latest state.
    pub fn insert(
        &mut self,
        tx: Transaction,
        hash: Hash,
        account_nonce: u64,
    ) -> Result<Admission, Rejection> {
        if self.by_hash.contains_key(&hash) {
            return Err(Rejection::AlreadyKnown);
        }
        if tx.nonce < account_nonce {
            return Err(TxInvalid::NonceTooLow {
                expected: account_nonce,
                got: tx.nonce,
            }
            .into());
        }
        if tx.nonce - account_nonce > self.cfg.max_nonce_ahead {
            return Err(Rejection::NonceTooFarAhead {
                expected: account_nonce,
                got: tx.nonce,
                limit: self.cfg.max_nonce_ahead,
            });
        }
        let sender = tx.sender_address();
        let size = tx.encoded_len();
        let q = self.senders.entry(sender).or_default();
        if account_nonce > q.account_nonce {
            q.account_nonce = account_nonce;
        }
        let replacing = match q.txs.get(&tx.nonce) {
            Some(old) if tx.max_fee <= old.tx.max_fee => {
                return Err(Rejection::ReplacementUnderpriced {
                    nonce: tx.nonce,
                    existing: old.tx.max_fee,
                });
            }
            Some(old) => Some((old.hash, old.size)),
            None => None,
        };
        if replacing.is_none() {
            if q.txs.len() >= self.cfg.max_per_sender {
                return Err(Rejection::SenderQueueFull(q.txs.len()));
            }
            if self.by_hash.len() >= self.cfg.max_txs || self.bytes + size > self.cfg.max_bytes {
                return Err(Rejection::Full);
            }
        }
        if let Some((old_hash, old_size)) = replacing {
            self.by_hash.remove(&old_hash);
            self.bytes -= old_size;
        }
        let nonce = tx.nonce;
        q.txs.insert(nonce, Entry { tx, hash, size });
        self.by_hash.insert(hash, (sender, nonce));
        self.bytes += size;
        Ok(if nonce < q.next_ready_nonce() {
            Admission::Pending
        } else {
            Admission::Queued
        })
    }

    pub fn get(&self, hash: &Hash) -> Option<(&Transaction, Admission)> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        let q = self.senders.get(sender)?;
        let e = q.txs.get(nonce)?;
        let adm = if *nonce < q.next_ready_nonce() {
            Admission::Pending
        } else {
            Admission::Queued
        };
        Some((&e.tx, adm))
    }

    /// The next nonce the sender should use, counting pending transactions.
    pub fn pending_nonce(&self, sender: &Address, account_nonce: u64) -> u64 {
        match self.senders.get(sender) {
            Some(q) if q.account_nonce >= account_nonce => q.next_ready_nonce(),
            _ => account_nonce,
        }
    }

    /// Counts of pending and queued transactions.
    pub fn counts(&self) -> (usize, usize) {
        let mut pending = 0;
        for q in self.senders.values() {
            pending += (q.next_ready_nonce() - q.account_nonce) as usize;
        }
        (pending, self.len() - pending)
    }

    /// Pending transactions for the next block, senders taken in turns so one
    /// busy sender cannot fill a block; each sender's in nonce order.
    pub fn ready_batch(&self, max_txs: usize, max_bytes: usize) -> Vec<Transaction> {
        let mut runs: Vec<_> = self
            .senders
            .values()
            .map(|q| {
                let start = q.account_nonce;
                q.txs
                    .range(start..)
                    .enumerate()
                    .take_while(move |(i, (n, _))| **n == start + *i as u64)
                    .map(|(_, (_, e))| e)
            })
            .collect();
        let mut out = Vec::new();
        let mut bytes = 0usize;
        while out.len() < max_txs && !runs.is_empty() {
            let mut progressed = false;
            runs.retain_mut(|run| {
                if out.len() >= max_txs {
                    return false;
                }
                match run.next() {
                    Some(e) if bytes + e.size <= max_bytes => {
                        bytes += e.size;
                        out.push(e.tx.clone());
                        progressed = true;
                        true
                    }
                    _ => false,
                }
            });
            if !progressed {
                break;
            }
        }
        out
    }

    /// Removes one transaction (and nothing else), if present.
    pub fn remove(&mut self, hash: &Hash) -> Option<Transaction> {
        let (sender, nonce) = self.by_hash.remove(hash)?;
        let q = self.senders.get_mut(&sender)?;
        let e = q.txs.remove(&nonce)?;
        self.bytes -= e.size;
        if q.txs.is_empty() {
            self.senders.remove(&sender);
        }
        Some(e.tx)
    }

    /// After a block: drops what it included and everything its senders can no
    /// longer use, and purges transactions whose reference block will have
    /// expired for the next block.
    pub fn on_block(&mut self, included: &[Transaction], head: Height, ref_window: u64) {
        let mut advanced: BTreeMap<Address, u64> = BTreeMap::new();
        for tx in included {
            let n = advanced.entry(tx.sender_address()).or_default();
            *n = (*n).max(tx.nonce + 1);
        }
        for (sender, nonce) in advanced {
            if let Some(q) = self.senders.get_mut(&sender) {
                q.account_nonce = q.account_nonce.max(nonce);
                let stale: Vec<u64> = q.txs.range(..q.account_nonce).map(|(n, _)| *n).collect();
                for n in stale {
                    if let Some(e) = q.txs.remove(&n) {
                        self.by_hash.remove(&e.hash);
                        self.bytes -= e.size;
                    }
                }
                if q.txs.is_empty() {
                    self.senders.remove(&sender);
                }
            }
        }
        let next = head + 1;
        let expired: Vec<Hash> = self
            .senders
            .values()
            .flat_map(|q| q.txs.values())
            .filter(|e| next.saturating_sub(e.tx.ref_block.height) > ref_window)
            .map(|e| e.hash)
            .collect();
        for h in expired {
            self.remove(&h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use umbra_crypto::{Keypair, dev_keypair};
    use umbra_types::{Payload, RefBlock, UnsignedTransaction};

    fn tx(k: &Keypair, nonce: u64, fee: u128, ref_h: u64) -> (Transaction, Hash) {
        let t = k.sign_transaction(UnsignedTransaction {
            chain_id: 1,
            sender: k.public(),
            nonce,
            ref_block: RefBlock {
                height: ref_h,
                hash_prefix: [0; 4],
            },
            max_fee: fee,
            payload: Payload::Transfer {
                to: Address::default(),
                amount: 1,
            },
        });
        let h = t.hash();
        (t, h)
    }

    #[test]
    fn gaps_queue_and_fill() {
        let a = dev_keypair("alice");
        let b = dev_keypair("bob");
        let mut m = Mempool::new(MempoolConfig::default());
        let (t2, h2) = tx(&a, 2, 10, 0);
        assert_eq!(m.insert(t2, h2, 0), Ok(Admission::Queued));
        // Bob is not held up by Alice's gap.
        let (b0, hb0) = tx(&b, 0, 10, 0);
        assert_eq!(m.insert(b0, hb0, 0), Ok(Admission::Pending));
        assert_eq!(m.ready_batch(100, 1 << 20).len(), 1);
        let (t0, h0) = tx(&a, 0, 10, 0);
        assert_eq!(m.insert(t0, h0, 0), Ok(Admission::Pending));
        assert_eq!(m.get(&h2).unwrap().1, Admission::Queued);
        let (t1, h1) = tx(&a, 1, 10, 0);
        assert_eq!(m.insert(t1, h1, 0), Ok(Admission::Pending));
        assert_eq!(m.get(&h2).unwrap().1, Admission::Pending);
        assert_eq!(m.pending_nonce(&a.address(), 0), 3);
        let batch = m.ready_batch(100, 1 << 20);
        assert_eq!(batch.len(), 4);
        let alice: Vec<u64> = batch
            .iter()
            .filter(|t| t.sender == a.public())
            .map(|t| t.nonce)
            .collect();
        assert_eq!(alice, vec![0, 1, 2]);
        m.on_block(&batch, 1, 64);
        assert!(m.is_empty());
        assert_eq!(m.bytes(), 0);
    }

    #[test]
    fn replacement_needs_a_higher_fee() {
        let a = dev_keypair("alice");
        let mut m = Mempool::new(MempoolConfig::default());
        let (t, h) = tx(&a, 0, 10, 0);
        m.insert(t.clone(), h, 0).unwrap();
        assert_eq!(m.insert(t, h, 0), Err(Rejection::AlreadyKnown));
        let (same, hs) = tx(&a, 0, 10, 1);
        assert_eq!(m.insert(same, hs, 0).unwrap_err().code(), 1011);
        let (better, hb) = tx(&a, 0, 11, 0);
        assert_eq!(m.insert(better, hb, 0), Ok(Admission::Pending));
        assert!(m.get(&h).is_none());
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn limits_and_rejections() {
        let a = dev_keypair("alice");
        let cfg = MempoolConfig {
            max_txs: 3,
            max_bytes: 1 << 20,
            max_per_sender: 2,
            max_nonce_ahead: 5,
        };
        let mut m = Mempool::new(cfg);
        let (t, h) = tx(&a, 3, 10, 0);
        assert_eq!(m.insert(t, h, 4).unwrap_err().code(), 1006);
        let (t, h) = tx(&a, 10, 10, 0);
        assert_eq!(m.insert(t, h, 4).unwrap_err().code(), 1015);
        for n in 0..2 {
            let (t, h) = tx(&a, n, 10, 0);
            m.insert(t, h, 0).unwrap();
        }
        let (t, h) = tx(&a, 2, 10, 0);
        assert_eq!(m.insert(t, h, 0).unwrap_err().code(), 1014);
        let b = dev_keypair("bob");
        let (t, h) = tx(&b, 0, 10, 0);
        m.insert(t, h, 0).unwrap();
        let c = dev_keypair("carol");
        let (t, h) = tx(&c, 0, 10, 0);
        assert_eq!(m.insert(t, h, 0), Err(Rejection::Full));
    }

    #[test]
    fn expired_are_purged_and_blocks_are_fair() {
        let a = dev_keypair("alice");
        let b = dev_keypair("bob");
        let mut m = Mempool::new(MempoolConfig::default());
        for n in 0..5 {
            let (t, h) = tx(&a, n, 10, 10);
            m.insert(t, h, 0).unwrap();
        }
        let (t, h) = tx(&b, 0, 10, 50);
        m.insert(t, h, 0).unwrap();
        // Two slots: one each, not both to Alice.
        let two = m.ready_batch(2, 1 << 20);
        assert_eq!(two.iter().filter(|t| t.sender == b.public()).count(), 1);
        // At head 74 the next block is 75: Alice's reference (10) is 65 back, over 64.
        m.on_block(&[], 74, 64);
        assert_eq!(m.len(), 1);
        assert!(m.get(&h).is_some());
    }
}
