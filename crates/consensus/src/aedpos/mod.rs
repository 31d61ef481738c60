//! AEDPoS (aelf's delegated proof of stake) as a pure state machine.
//!
//! Elected miners take turns in rounds of time slots ([`round`]). With its
//! first block in a round a miner commits to a secret (out value = H(in
//! value)) and reveals the one it committed the round before; the revealed
//! secrets, folded with the previous round's signatures, decide the next
//! round's order, so no single miner controls it ([`secret`]). The extra
//! block producer closes each round. A block becomes irreversible once
//! ⌊2N/3⌋+1 miners have mined in a round after implying it
//! ([`irreversible`]).
//!
//! The engine never reads a clock or a store: the caller passes the state
//! after the parent block, the parent header, the time, and the miners the
//! election currently chooses. [`Aedpos::apply`] returns the state after a
//! block or why the block breaks the rules; [`Aedpos::propose`] says what a
//! miner may produce now. The node keeps one state per block, so forks
//! each carry their own.

pub mod data;
pub mod equivocation;
pub mod irreversible;
pub mod round;
pub mod secret;

#[cfg(test)]
mod tests;

use borsh::{BorshDeserialize, BorshSerialize};
pub use data::{Behaviour, ConsensusData, MAX_CONSENSUS_BYTES};
pub use equivocation::{Equivocation, find_equivocation};
pub use round::{MinerInRound, Round};
use umbra_types::{Hash, Header, Height, PublicKey};

/// Protocol constants of an AEDPoS chain (part of the chain spec).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AedposConfig {
    /// Length of one time slot.
    pub interval_ms: u64,
    /// Blocks a miner may produce in its slot (the first plus tiny blocks).
    pub max_blocks_per_slot: u32,
    /// Minimum gap between two blocks of one slot.
    pub min_block_gap_ms: u64,
    /// Rounds per term; 0 keeps one term forever.
    pub rounds_per_term: u64,
    /// A miner that misses this many slots in a term is not kept for the
    /// next term.
    pub max_missed_slots: u64,
    /// When the head is this many blocks past the irreversible height,
    /// miners produce one block per slot until it catches up.
    pub throttle_lag_blocks: u64,
    /// Time from the block that closes a round to the next round's first
    /// slot. aelf waits one slot; 0 starts the next round at the closing
    /// block, so a block near a round's end is not kept from finality by
    /// an empty slot (see docs/CONSENSUS.md).
    pub round_gap_ms: u64,
}

impl Default for AedposConfig {
    fn default() -> Self {
        AedposConfig {
            interval_ms: 500,
            max_blocks_per_slot: 8,
            min_block_gap_ms: 50,
            rounds_per_term: 0,
            max_missed_slots: 4320,
            throttle_lag_blocks: 1024,
            round_gap_ms: 0,
        }
    }
}

/// The consensus state after a block.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct AedposState {
    pub round: Round,
    /// The round before: its out values are checked against reveals and its
    /// implied heights decide the irreversible height.
    pub previous: Option<Round>,
    /// Highest irreversible height on this chain; it only rises.
    pub irreversible: Height,
}

/// Why a block breaks AEDPoS rules.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AedposError {
    #[error("bad consensus bytes: {0}")]
    Decode(String),
    #[error("timestamp {got} is not after the parent's {parent}")]
    TimestampNotIncreasing { parent: u64, got: u64 },
    #[error("block claims round {got}, expected {expected}")]
    WrongRound { expected: u64, got: u64 },
    #[error("{0} is not a miner of this round")]
    NotMiner(String),
    #[error("timestamp {got} is outside the miner's slot [{start}, {end})")]
    OutsideSlot { start: u64, end: u64, got: u64 },
    #[error("the miner already committed its value in this round")]
    AlreadyMined,
    #[error("a tiny block needs the miner's first block of the slot before it")]
    NotMinedYet,
    #[error("the revealed in value does not hash to the out value committed last round")]
    BadReveal,
    #[error("slot already holds {0} blocks")]
    SlotFull(u32),
    #[error("blocks of one slot must be at least {gap} ms apart")]
    TooSoon { gap: u64 },
    #[error("irreversible height lags {lag} blocks behind: one block per slot")]
    Throttled { lag: u64 },
    #[error("this miner may not close the round at {0}")]
    NotCloser(u64),
    #[error("the round ends a term: expected a term change, got a round change")]
    TermChangeExpected,
    #[error("a term change is only allowed at the end of a term")]
    NotTermEnd,
    #[error("the term's miners differ from the election's")]
    WrongTermMiners,
}

/// What a miner may produce now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub timestamp_ms: u64,
    pub data: ConsensusData,
}

/// The AEDPoS engine: its configuration; all state is passed in.
#[derive(Clone, Debug, Default)]
pub struct Aedpos {
    pub config: AedposConfig,
}

impl Aedpos {
    pub fn new(config: AedposConfig) -> Self {
        Aedpos { config }
    }

    fn interval(&self) -> u64 {
        self.config.interval_ms.max(1)
    }

    /// The state at genesis: round 1 of term 1 starts one interval after
    /// the genesis time, miners in the given order.
    pub fn genesis(&self, miners: &[PublicKey], genesis_ms: u64) -> AedposState {
        AedposState {
            round: Round::first_of_term(1, 1, genesis_ms.saturating_add(self.interval()), miners),
            previous: None,
            irreversible: 0,
        }
    }

    fn term_ends(&self, round: &Round) -> bool {
        self.config.rounds_per_term > 0 && round.number.is_multiple_of(self.config.rounds_per_term)
    }

    /// The miners of the next term: the election's choice if it made one,
    /// else the current miners without those that missed too many slots
    /// (all of them if none would be left).
    pub fn next_term_miners(&self, state: &AedposState, elected: &[PublicKey]) -> Vec<PublicKey> {
        if !elected.is_empty() {
            let mut seen = std::collections::BTreeSet::new();
            return elected
                .iter()
                .filter(|k| seen.insert(**k))
                .copied()
                .collect();
        }
        let kept: Vec<PublicKey> = state
            .round
            .miners
            .iter()
            .filter(|m| {
                m.missed_slots.saturating_add(u64::from(!m.mined())) < self.config.max_missed_slots
            })
            .map(|m| m.key)
            .collect();
        if kept.is_empty() {
            state.round.miners.iter().map(|m| m.key).collect()
        } else {
            kept
        }
    }

    /// What `miner` may produce on top of `parent` (whose state is `state`)
    /// at `now_ms`, or `None` if nothing. `secret` derives its in values.
    pub fn propose(
        &self,
        state: &AedposState,
        parent: &Header,
        miner: &PublicKey,
        secret: &[u8; 32],
        elected: &[PublicKey],
        now_ms: u64,
    ) -> Option<Proposal> {
        let t = now_ms.max(parent.timestamp_ms.saturating_add(1));
        let round = &state.round;
        let me = round.miner(miner)?;
        let interval = self.interval();
        if round.closer_at(t, interval) == Some(me.order) {
            let behaviour = if self.term_ends(round) {
                Behaviour::NextTerm {
                    miners: self.next_term_miners(state, elected),
                }
            } else {
                Behaviour::NextRound
            };
            return Some(Proposal {
                timestamp_ms: t,
                data: ConsensusData {
                    round: round.number.saturating_add(1),
                    behaviour,
                },
            });
        }
        let (start, end) = round.slot(me.order, interval);
        if t < start || t >= end {
            return None;
        }
        let behaviour = if !me.mined() {
            let previous_in_value = state
                .previous
                .as_ref()
                .and_then(|p| p.miner(miner))
                .filter(|m| m.mined())
                .map_or(Hash::ZERO, |_| {
                    secret::in_value(secret, round.number.saturating_sub(1))
                });
            Behaviour::UpdateValue {
                out_value: secret::out_value(&secret::in_value(secret, round.number)),
                previous_in_value,
            }
        } else {
            let next_height = parent.height.saturating_add(1);
            if me.blocks >= self.config.max_blocks_per_slot
                || t < me
                    .last_block_ms
                    .saturating_add(self.config.min_block_gap_ms)
                || self.throttled(state, next_height).is_some()
            {
                return None;
            }
            Behaviour::TinyBlock
        };
        Some(Proposal {
            timestamp_ms: t,
            data: ConsensusData {
                round: round.number,
                behaviour,
            },
        })
    }

    /// When `miner` may next produce, at or after `now_ms`: the start of
    /// its slot or of its turn to close the round (for status displays).
    pub fn next_slot_ms(&self, state: &AedposState, miner: &PublicKey, now_ms: u64) -> Option<u64> {
        let round = &state.round;
        let me = round.miner(miner)?;
        let interval = self.interval();
        let (start, end) = round.slot(me.order, interval);
        if !me.mined() && now_ms < end {
            return Some(start.max(now_ms));
        }
        // The first interval from the extra slot on in which this miner's
        // order may close the round.
        let extra = round.extra_slot_start(interval);
        let from = now_ms.max(extra);
        let step = (from - extra) / interval;
        (step..step + u64::from(round.len()))
            .map(|k| extra.saturating_add(k.saturating_mul(interval)))
            .find(|&at| round.closer_at(at, interval) == Some(me.order))
            .map(|at| at.max(now_ms))
    }

    fn throttled(&self, state: &AedposState, height: Height) -> Option<u64> {
        let lag = height.saturating_sub(state.irreversible);
        (lag > self.config.throttle_lag_blocks).then_some(lag)
    }

    /// The state after `header` on top of `parent` (whose state is
    /// `state`), or why the header breaks the rules. `elected` is what the
    /// election chose as of the parent (only read at a term change).
    pub fn apply(
        &self,
        state: &AedposState,
        parent: &Header,
        header: &Header,
        elected: &[PublicKey],
    ) -> Result<AedposState, AedposError> {
        let data = ConsensusData::from_bytes(&header.consensus)
            .map_err(|e| AedposError::Decode(e.to_string()))?;
        let t = header.timestamp_ms;
        if t <= parent.timestamp_ms {
            return Err(AedposError::TimestampNotIncreasing {
                parent: parent.timestamp_ms,
                got: t,
            });
        }
        let interval = self.interval();
        let round = &state.round;
        let miner = &header.proposer;
        let me = round
            .miner(miner)
            .ok_or_else(|| AedposError::NotMiner(miner.address().to_string()))?;
        let expected = match data.behaviour {
            Behaviour::NextRound | Behaviour::NextTerm { .. } => round.number.saturating_add(1),
            _ => round.number,
        };
        if data.round != expected {
            return Err(AedposError::WrongRound {
                expected,
                got: data.round,
            });
        }
        let mut next = state.clone();
        match data.behaviour {
            Behaviour::UpdateValue {
                out_value,
                previous_in_value,
            } => {
                self.check_in_slot(round, me, t)?;
                if me.mined() {
                    return Err(AedposError::AlreadyMined);
                }
                let committed = state
                    .previous
                    .as_ref()
                    .and_then(|p| p.miner(miner))
                    .and_then(|m| m.out_value);
                match committed {
                    Some(o) if secret::out_value(&previous_in_value) != o => {
                        return Err(AedposError::BadReveal);
                    }
                    None if previous_in_value != Hash::ZERO => {
                        return Err(AedposError::BadReveal);
                    }
                    _ => {}
                }
                let signature =
                    secret::signature(state.previous.as_ref(), &previous_in_value, miner);
                if let Some(m) = next.round.miner_mut(miner) {
                    m.out_value = Some(out_value);
                    m.signature = Some(signature);
                    m.implied_irreversible = header.height;
                    m.blocks = 1;
                    m.last_block_ms = t;
                }
                let candidate = irreversible::height(&next.round, next.previous.as_ref());
                next.irreversible = next.irreversible.max(candidate.unwrap_or(0));
            }
            Behaviour::TinyBlock => {
                self.check_in_slot(round, me, t)?;
                if !me.mined() {
                    return Err(AedposError::NotMinedYet);
                }
                if me.blocks >= self.config.max_blocks_per_slot {
                    return Err(AedposError::SlotFull(me.blocks));
                }
                if t < me
                    .last_block_ms
                    .saturating_add(self.config.min_block_gap_ms)
                {
                    return Err(AedposError::TooSoon {
                        gap: self.config.min_block_gap_ms,
                    });
                }
                if let Some(lag) = self.throttled(state, header.height) {
                    return Err(AedposError::Throttled { lag });
                }
                if let Some(m) = next.round.miner_mut(miner) {
                    m.blocks += 1;
                    m.last_block_ms = t;
                    m.implied_irreversible = header.height;
                }
                let candidate = irreversible::height(&next.round, next.previous.as_ref());
                next.irreversible = next.irreversible.max(candidate.unwrap_or(0));
            }
            Behaviour::NextRound => {
                if round.closer_at(t, interval) != Some(me.order) {
                    return Err(AedposError::NotCloser(t));
                }
                if self.term_ends(round) {
                    return Err(AedposError::TermChangeExpected);
                }
                next.round = round.next(t.saturating_add(self.config.round_gap_ms));
                next.previous = Some(closed_by(round, miner, header.height));
                let candidate = irreversible::height(&next.round, next.previous.as_ref());
                next.irreversible = next.irreversible.max(candidate.unwrap_or(0));
            }
            Behaviour::NextTerm { miners } => {
                if round.closer_at(t, interval) != Some(me.order) {
                    return Err(AedposError::NotCloser(t));
                }
                if !self.term_ends(round) {
                    return Err(AedposError::NotTermEnd);
                }
                if miners != self.next_term_miners(state, elected) {
                    return Err(AedposError::WrongTermMiners);
                }
                next.round = Round::first_of_term(
                    round.number.saturating_add(1),
                    round.term.saturating_add(1),
                    t.saturating_add(self.config.round_gap_ms),
                    &miners,
                );
                next.previous = Some(closed_by(round, miner, header.height));
                let candidate = irreversible::height(&next.round, next.previous.as_ref());
                next.irreversible = next.irreversible.max(candidate.unwrap_or(0));
            }
        }
        Ok(next)
    }

    fn check_in_slot(&self, round: &Round, me: &MinerInRound, t: u64) -> Result<(), AedposError> {
        let (start, end) = round.slot(me.order, self.interval());
        if t < start || t >= end {
            return Err(AedposError::OutsideSlot { start, end, got: t });
        }
        Ok(())
    }
}

/// The round `round` as the closer's block at `height` leaves it: the closer
/// has now built on everything up to `height`, which counts as its implied
/// height while the next round has not heard from it.
fn closed_by(round: &Round, closer: &PublicKey, height: Height) -> Round {
    let mut closed = round.clone();
    if let Some(m) = closed.miner_mut(closer) {
        m.implied_irreversible = m.implied_irreversible.max(height);
    }
    closed
}
