//! The irreversible height (aelf's "last irreversible block").
//!
//! Every miner's first block in a round records its height as the miner's
//! implied irreversible height. Take the miners that have mined in the
//! current round and their implied heights from the previous round (> 0),
//! sorted ascending. With at least ⌊2N/3⌋+1 of them, the height at index
//! ⌊(count−1)/3⌋ is irreversible: at least two thirds of those miners
//! reached it in the previous round and have built on this chain since.

use super::round::Round;
use umbra_types::Height;

/// Miners needed to move the irreversible height: ⌊2N/3⌋+1.
pub fn quorum(miners: usize) -> usize {
    miners * 2 / 3 + 1
}

/// The irreversible height implied by `current` and `previous`, if enough
/// miners have mined in `current`.
pub fn height(current: &Round, previous: Option<&Round>) -> Option<Height> {
    let previous = previous?;
    let mut implied: Vec<Height> = current
        .miners
        .iter()
        .filter(|m| m.mined())
        .filter_map(|m| previous.miner(&m.key))
        .map(|m| m.implied_irreversible)
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
    fn needs_a_quorum_of_current_miners() {
        let prev = round(&[Some(10), Some(11), Some(12), Some(13), Some(14)]);
        // Three of five mined now: not enough.
        let cur = round(&[Some(20), Some(21), Some(22), None, None]);
        assert_eq!(height(&cur, Some(&prev)), None);
        // Four: their previous heights 10..13, index (4-1)/3 = 1.
        let cur = round(&[Some(20), Some(21), Some(22), Some(23), None]);
        assert_eq!(height(&cur, Some(&prev)), Some(11));
        // All five: index (5-1)/3 = 1 of 10..14.
        let cur = round(&[Some(20), Some(21), Some(22), Some(23), Some(24)]);
        assert_eq!(height(&cur, Some(&prev)), Some(11));
        assert_eq!(height(&cur, None), None);
    }

    #[test]
    fn miners_absent_last_round_do_not_count() {
        let prev = round(&[Some(10), Some(11), None, None, Some(14)]);
        let cur = round(&[Some(20), Some(21), Some(22), Some(23), None]);
        assert_eq!(height(&cur, Some(&prev)), None);
    }
}
