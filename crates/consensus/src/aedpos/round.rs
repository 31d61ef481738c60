//! A round: every miner gets one time slot in order, then the extra block
//! producer closes the round by starting the next one.
//!
//! Slot arithmetic (interval `I`, `N` miners, round start `S`):
//! miner of order `k` (1-based) owns `[S + (k-1)·I, S + k·I)`; the extra slot
//! is `[S + N·I, S + (N+1)·I)`. If the extra producer is silent, the right to
//! close the round passes on one interval at a time to the following orders,
//! so a dead extra producer cannot stall the chain.

use borsh::{BorshDeserialize, BorshSerialize};
use umbra_types::{Hash, Height, PublicKey, sha256_parts};

/// One miner's place and record in a round.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct MinerInRound {
    pub key: PublicKey,
    /// 1-based position; the slot order.
    pub order: u32,
    /// H(in value), published with the miner's first block of the round.
    pub out_value: Option<Hash>,
    /// Decides the miner's order in the next round.
    pub signature: Option<Hash>,
    /// Height of the miner's latest block this round (or, in the previous
    /// round, of the block with which it closed that round): what it implies
    /// is irreversible once enough others build on it.
    pub implied_irreversible: Height,
    /// Blocks produced in this round's slot (the first plus tiny blocks).
    pub blocks: u32,
    /// Timestamp of the miner's last block this round (0 if none).
    pub last_block_ms: u64,
    /// Slots missed so far this term.
    pub missed_slots: u64,
}

impl MinerInRound {
    pub fn new(key: PublicKey, order: u32, missed_slots: u64) -> Self {
        MinerInRound {
            key,
            order,
            out_value: None,
            signature: None,
            implied_irreversible: 0,
            blocks: 0,
            last_block_ms: 0,
            missed_slots,
        }
    }

    pub fn mined(&self) -> bool {
        self.out_value.is_some()
    }
}

/// A round of time slots.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Round {
    pub number: u64,
    pub term: u64,
    /// Start of the first slot.
    pub start_ms: u64,
    /// Sorted by `order`, orders 1..=N.
    pub miners: Vec<MinerInRound>,
    /// Order of the miner that closes the round.
    pub extra_producer: u32,
}

impl Round {
    /// The first round of a term: `miners` in the given order, the first
    /// of them closing the round.
    pub fn first_of_term(number: u64, term: u64, start_ms: u64, miners: &[PublicKey]) -> Round {
        Round {
            number,
            term,
            start_ms,
            miners: miners
                .iter()
                .zip(1u32..)
                .map(|(k, order)| MinerInRound::new(*k, order, 0))
                .collect(),
            extra_producer: 1,
        }
    }

    pub fn len(&self) -> u32 {
        self.miners.len() as u32
    }

    pub fn is_empty(&self) -> bool {
        self.miners.is_empty()
    }

    pub fn miner(&self, key: &PublicKey) -> Option<&MinerInRound> {
        self.miners.iter().find(|m| m.key == *key)
    }

    pub fn miner_mut(&mut self, key: &PublicKey) -> Option<&mut MinerInRound> {
        self.miners.iter_mut().find(|m| m.key == *key)
    }

    /// `[start, end)` of the slot of the miner with `order`.
    pub fn slot(&self, order: u32, interval_ms: u64) -> (u64, u64) {
        let start = self
            .start_ms
            .saturating_add(u64::from(order.saturating_sub(1)).saturating_mul(interval_ms));
        (start, start.saturating_add(interval_ms))
    }

    /// Start of the extra slot, where the round may be closed.
    pub fn extra_slot_start(&self, interval_ms: u64) -> u64 {
        self.start_ms
            .saturating_add(u64::from(self.len()).saturating_mul(interval_ms))
    }

    /// The order allowed to close the round at `now_ms`, if any: the extra
    /// producer in the extra slot, then each following order for one
    /// interval in turn.
    pub fn closer_at(&self, now_ms: u64, interval_ms: u64) -> Option<u32> {
        let extra = self.extra_slot_start(interval_ms);
        if now_ms < extra || self.is_empty() || interval_ms == 0 {
            return None;
        }
        let n = u64::from(self.len());
        let step = (now_ms - extra) / interval_ms;
        let base = u64::from(self.extra_producer.max(1) - 1);
        // No overflow for any header timestamp: base < N ≤ extra, so
        // base + step < now_ms.
        Some(((base + step) % n) as u32 + 1)
    }

    /// The fold of this round's signatures in miner order:
    /// acc₀ = 0, accᵢ = H(accᵢ₋₁ ⊕ sigᵢ). (aelf folds in map order, which
    /// is fragile; order is part of consensus here.)
    pub fn signature_fold(&self) -> Hash {
        let mut acc = Hash::ZERO;
        for sig in self.miners.iter().filter_map(|m| m.signature) {
            acc = sha256_parts(&[&xor(&acc, &sig).0]);
        }
        acc
    }

    /// The next round, starting at `start_ms` (the closing block's time
    /// plus the configured gap). Miners
    /// that mined take order (signature mod N) + 1, scanning upward
    /// (wrapping) past taken orders; the rest fill the free orders in their
    /// current order and count a missed slot. The extra producer is
    /// (signature mod N) + 1 of the lowest-order miner that has one.
    pub fn next(&self, start_ms: u64) -> Round {
        let n = self.len();
        let mut taken = vec![false; n as usize];
        let mut placed: Vec<(u32, &MinerInRound)> = Vec::with_capacity(n as usize);
        for m in self.miners.iter() {
            if let Some(sig) = m.signature {
                let mut order = hash_mod(&sig, n);
                while taken[order as usize] {
                    order = (order + 1) % n;
                }
                taken[order as usize] = true;
                placed.push((order + 1, m));
            }
        }
        let mut free = (0..n).filter(|&o| !taken[o as usize]);
        for m in self.miners.iter().filter(|m| m.signature.is_none()) {
            if let Some(order) = free.next() {
                placed.push((order + 1, m));
            }
        }
        let mut miners: Vec<MinerInRound> = placed
            .into_iter()
            .map(|(order, m)| {
                let missed = m.missed_slots.saturating_add(u64::from(!m.mined()));
                MinerInRound::new(m.key, order, missed)
            })
            .collect();
        miners.sort_by_key(|m| m.order);
        let extra_producer = self
            .miners
            .iter()
            .find_map(|m| m.signature)
            .map_or(self.extra_producer, |sig| hash_mod(&sig, n) + 1);
        Round {
            number: self.number.saturating_add(1),
            term: self.term,
            start_ms,
            miners,
            extra_producer,
        }
    }
}

/// A hash as a big-endian integer, mod `n` (`n` > 0).
fn hash_mod(h: &Hash, n: u32) -> u32 {
    let n = u64::from(n.max(1));
    // Horner over bytes: exact for any length, no big integers needed.
    let r =
        h.0.iter()
            .fold(0u64, |acc, &b| (acc * 256 + u64::from(b)) % n);
    r as u32
}

pub(crate) fn xor(a: &Hash, b: &Hash) -> Hash {
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = a.0[i] ^ b.0[i];
    }
    Hash(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use umbra_types::sha256;

    fn key(i: u8) -> PublicKey {
        PublicKey([i; 32])
    }

    fn round(n: u8) -> Round {
        Round {
            number: 1,
            term: 1,
            start_ms: 1_000,
            miners: (1..=n)
                .map(|i| MinerInRound::new(key(i), u32::from(i), 0))
                .collect(),
            extra_producer: 1,
        }
    }

    #[test]
    fn hash_mod_matches_big_integer_arithmetic() {
        let mut h = [0u8; 32];
        h[31] = 7;
        h[30] = 1; // 263
        assert_eq!(hash_mod(&Hash(h), 5), 263 % 5);
        assert_eq!(hash_mod(&Hash([0xff; 32]), 1), 0);
        // 2^256 - 1 mod 7: 2^3 ≡ 1, 256 = 3·85 + 1, so 2^256 ≡ 2 and the
        // value is ≡ 1.
        assert_eq!(hash_mod(&Hash([0xff; 32]), 7), 1);
    }

    #[test]
    fn slots_and_closers() {
        let r = round(3);
        assert_eq!(r.slot(1, 500), (1_000, 1_500));
        assert_eq!(r.slot(3, 500), (2_000, 2_500));
        assert_eq!(r.extra_slot_start(500), 2_500);
        assert_eq!(r.closer_at(2_499, 500), None);
        assert_eq!(r.closer_at(2_500, 500), Some(1));
        assert_eq!(r.closer_at(3_000, 500), Some(2));
        assert_eq!(r.closer_at(4_000, 500), Some(1));
        // A header's timestamp can be anything: no overflow at the top.
        let late = Round {
            extra_producer: 3,
            ..round(3)
        };
        assert_eq!(
            late.closer_at(u64::MAX, 1),
            Some(((u64::MAX - 1_003 + 2) % 3) as u32 + 1)
        );
    }

    #[test]
    fn next_round_orders_by_signature_and_resolves_conflicts() {
        let mut r = round(4);
        // Two miners whose signatures want the same order.
        let sig = sha256(b"same");
        let want = hash_mod(&sig, 4) + 1;
        r.miners[0].signature = Some(sig);
        r.miners[0].out_value = Some(sha256(b"o1"));
        r.miners[2].signature = Some(sig);
        r.miners[2].out_value = Some(sha256(b"o3"));
        let next = r.next(5_000);
        assert_eq!(next.number, 2);
        assert_eq!(next.start_ms, 5_000);
        let order_of = |k: u8| next.miner(&key(k)).map(|m| m.order);
        assert_eq!(order_of(1), Some(want));
        assert_eq!(order_of(3), Some(want % 4 + 1));
        // Orders are a permutation of 1..=4.
        let mut orders: Vec<u32> = next.miners.iter().map(|m| m.order).collect();
        orders.sort();
        assert_eq!(orders, vec![1, 2, 3, 4]);
        // The two that did not mine missed a slot; the others did not.
        assert_eq!(next.miner(&key(2)).map(|m| m.missed_slots), Some(1));
        assert_eq!(next.miner(&key(1)).map(|m| m.missed_slots), Some(0));
        assert_eq!(next.extra_producer, want);
        assert!(next.miners.iter().all(|m| !m.mined()));
    }

    #[test]
    fn fold_depends_on_order_and_values() {
        let mut r = round(2);
        r.miners[0].signature = Some(sha256(b"a"));
        r.miners[1].signature = Some(sha256(b"b"));
        let f = r.signature_fold();
        r.miners.swap(0, 1);
        assert_ne!(f, r.signature_fold());
        assert_ne!(f, Hash::ZERO);
    }
}
