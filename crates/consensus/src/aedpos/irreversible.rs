//! The irreversible height (aelf's "last irreversible block").
//!
//! Every block a miner produces (its first block in a round, its tiny
//! blocks, the block that closes a round) records its height as the miner's
//! implied irreversible height: by producing it, the miner has built on
//! everything up to it. Take each miner's latest implied height on this
//! chain — this round's if it has mined in it, else the previous round's —
//! keeping those > 0, sorted ascending. With at least ⌊2N/3⌋+1 of them, the
//! height at index ⌊(count−1)/3⌋ is irreversible: at least ⌊2N/3⌋+1 miners
//! have produced a block at that height or above on this chain within the
//! last two rounds.
//!
//! aelf takes only the previous round's implied heights of the miners that
//! mined in the current round, so a block waits for the end of its round
//! and most of the next (about 1.5 rounds: 4.5 s for five miners at 500 ms
//! slots). Counting the latest block of each miner moves the irreversible
//! height with every block: a block's own producer counts at once, so it
//! waits for ⌊2N/3⌋ further miners' slots. It needs the same quorum of
//! distinct miners building on the block, and heights older than the
//! previous round never count, so a miner cut off for a round stops
//! counting; the fault simulation checks safety and liveness under it (and
//! fails with a quorum of ⌊N/3⌋+1).

use super::round::Round;
use umbra_types::Height;

/// Miners needed to move the irreversible height: ⌊2N/3⌋+1.
pub fn quorum(miners: usize) -> usize {
    miners * 2 / 3 + 1
}

/// The irreversible height implied by `current` and `previous`, if enough
/// miners have mined in `current`.
pub fn height(current: &Round, previous: Option<&Round>) -> Option<Height> {
    let mut implied: Vec<Height> = current
        .miners
        .iter()
        .filter_map(|m| {
            if m.mined() {
                Some(m.implied_irreversible)
            } else {
                previous?.miner(&m.key).map(|p| p.implied_irreversible)
            }
        })
        .filter(|&h| h > 0)
        .collect();
    if implied.len() < quorum(current.miners.len()) {
        return None;
    }
    implied.sort_unstable();
    implied.get((implied.len() - 1) / 3).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aedpos::round::MinerInRound;
    use umbra_types::{Hash, PublicKey};

    fn round(implied: &[Option<Height>]) -> Round {
        Round {
            number: 1,
            term: 1,
            start_ms: 0,
            miners: implied
                .iter()
                .zip(1u32..)
                .map(|(h, order)| {
                    let mut m = MinerInRound::new(PublicKey([order as u8; 32]), order, 0);
                    if let Some(h) = h {
                        m.out_value = Some(Hash([1; 32]));
                        m.implied_irreversible = *h;
                    }
                    m
                })
                .collect(),
            extra_producer: 1,
        }
    }

    #[test]
    fn quorum_is_two_thirds_plus_one() {
        assert_eq!(quorum(1), 1);
        assert_eq!(quorum(3), 3);
        assert_eq!(quorum(4), 3);
        assert_eq!(quorum(5), 4);
        assert_eq!(quorum(7), 5);
    }

    #[test]
    fn each_miners_latest_height_counts() {
        let prev = round(&[Some(10), Some(11), Some(12), Some(13), Some(14)]);
        // Nobody mined yet this round: last round's heights, index (5-1)/3.
        let cur = round(&[None, None, None, None, None]);
        assert_eq!(height(&cur, Some(&prev)), Some(11));
        // Two mined now: 20, 21 replace 10, 11 → 12, 13, 14, 20, 21.
        let cur = round(&[Some(20), Some(21), None, None, None]);
        assert_eq!(height(&cur, Some(&prev)), Some(13));
        // Four: 14, 20..23 → index 1 is 20.
        let cur = round(&[Some(20), Some(21), Some(22), Some(23), None]);
        assert_eq!(height(&cur, Some(&prev)), Some(20));
        // Without a previous round only this round's heights count.
        assert_eq!(height(&cur, None), Some(21));
        let cur = round(&[Some(20), Some(21), Some(22), None, None]);
        assert_eq!(height(&cur, None), None);
    }

    #[test]
    fn miners_silent_for_two_rounds_do_not_count() {
        // Two miners absent last round and silent now: three heights < 4.
        let prev = round(&[Some(10), Some(11), None, None, Some(14)]);
        let cur = round(&[Some(20), None, None, None, None]);
        assert_eq!(height(&cur, Some(&prev)), None);
        // A 2 | 3 split: the two keep mining, the others' heights age out.
        let prev = round(&[Some(10), Some(11), None, None, None]);
        let cur = round(&[Some(20), Some(21), None, None, None]);
        assert_eq!(height(&cur, Some(&prev)), None);
    }
}
