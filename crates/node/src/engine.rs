//! The consensus engine as the chain runs it.
//!
//! `solo` is stateless. AEDPoS keeps a state per block (the round, the
//! previous round, the irreversible height); the node stores it in the
//! state tree under [`keys::consensus_state`], written with the block's own
//! changes. So every fork carries its own consensus state, a restart or a
//! rollback finds the right one by reading the state at a height, and the
//! state root commits to it.

use umbra_consensus::aedpos::{
    Aedpos, AedposError, AedposState, ConsensusData, MAX_CONSENSUS_BYTES,
};
use umbra_consensus::{Consensus, ConsensusError, Solo};
use umbra_crypto::Keypair;
use umbra_runtime::{ExecError, election, keys};
use umbra_storage::{StateView, StorageError};
use umbra_types::{Header, Height, PublicKey, decode_bounded, encode, sha256_parts};

/// Largest encoded consensus state read back (two rounds of up to a few
/// hundred miners).
const MAX_STATE_BYTES: usize = 1 << 20;

/// A state key and the value a block writes to it.
pub type StateEntry = (Vec<u8>, Vec<u8>);

/// Why the engine could not answer.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("consensus: {0}")]
    Solo(#[from] ConsensusError),
    #[error("consensus: {0}")]
    Aedpos(#[from] AedposError),
    #[error("consensus state: {0}")]
    State(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Exec(#[from] ExecError),
}

/// What a miner may build now on a parent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposed {
    pub timestamp_ms: u64,
    pub consensus: Vec<u8>,
    /// A tiny block (a further block in the miner's slot): only worth
    /// producing when there are transactions.
    pub tiny: bool,
}

/// The engine a chain spec names.
pub enum Engine {
    Solo(Solo),
    Aedpos {
        engine: Aedpos,
        /// How many miners a term takes from the election.
        miners: usize,
        genesis_miners: Vec<PublicKey>,
    },
}

/// The secret a miner's in values come from: derived from its key, so a
/// restarted node reveals what it committed before the restart, and
/// nobody without the key can predict it.
pub fn miner_secret(key: &Keypair) -> [u8; 32] {
    sha256_parts(&[b"umbra/aedpos/miner-secret/v1", &key.seed()]).0
}

/// Reads the AEDPoS state from a state view.
pub fn read_state(state: &dyn StateView) -> Result<AedposState, EngineError> {
    let bytes = state
        .get(&keys::consensus_state())?
        .ok_or_else(|| EngineError::State("no consensus state in the state tree".into()))?;
    decode_bounded(&bytes, MAX_STATE_BYTES).map_err(|e| EngineError::State(e.to_string()))
}

impl Engine {
    pub fn name(&self) -> &'static str {
        match self {
            Engine::Solo(s) => s.name(),
            Engine::Aedpos { .. } => "aedpos",
        }
    }

    /// Whether `key` can ever propose on this chain as configured at
    /// genesis (solo authority or a genesis miner). For AEDPoS a node that
    /// is not a miner now may still become one at a term change, so the
    /// producer keeps watching.
    pub fn may_produce(&self, key: &PublicKey) -> bool {
        match self {
            Engine::Solo(s) => s.authority == *key,
            Engine::Aedpos { .. } => true,
        }
    }

    /// State entries genesis adds for the engine.
    pub fn genesis_entry(&self, genesis_ms: u64) -> Option<StateEntry> {
        match self {
            Engine::Solo(_) => None,
            Engine::Aedpos {
                engine,
                genesis_miners,
                ..
            } => Some((
                keys::consensus_state(),
                encode(&engine.genesis(genesis_miners, genesis_ms)),
            )),
        }
    }

    /// The election's miners, when the engine will read them: only a
    /// round that ends a term does. Reading the candidate table on every
    /// look at a slot (the producer looks every few milliseconds) would be
    /// hundreds of state reads for nothing.
    fn elected(
        &self,
        state: &dyn StateView,
        cs: &AedposState,
    ) -> Result<Vec<PublicKey>, EngineError> {
        match self {
            Engine::Solo(_) => Ok(vec![]),
            Engine::Aedpos { engine, miners, .. } => {
                let per = engine.config.rounds_per_term;
                if per == 0 || !cs.round.number.is_multiple_of(per) {
                    return Ok(vec![]);
                }
                Ok(election::elected(state, *miners)?)
            }
        }
    }

    /// What `key` may build on `parent` at `now_ms`; `state` is the state
    /// after `parent`.
    pub fn propose(
        &self,
        state: &dyn StateView,
        parent: &Header,
        key: &Keypair,
        now_ms: u64,
    ) -> Result<Option<Proposed>, EngineError> {
        match self {
            Engine::Solo(s) => {
                Ok(s.next_slot(parent, &key.public(), now_ms)
                    .map(|slot| Proposed {
                        timestamp_ms: slot.timestamp_ms,
                        consensus: slot.consensus,
                        tiny: false,
                    }))
            }
            Engine::Aedpos { engine, .. } => {
                let cs = read_state(state)?;
                let elected = self.elected(state, &cs)?;
                Ok(engine
                    .propose(
                        &cs,
                        parent,
                        &key.public(),
                        &miner_secret(key),
                        &elected,
                        now_ms,
                    )
                    .map(|p| Proposed {
                        timestamp_ms: p.timestamp_ms,
                        tiny: matches!(
                            p.data.behaviour,
                            umbra_consensus::aedpos::Behaviour::TinyBlock
                        ),
                        consensus: p.data.to_bytes(),
                    }))
            }
        }
    }

    /// When `key` may next produce at or after `now_ms` (for the producer's
    /// sleep and status displays); `None` if not a miner of the round.
    pub fn next_slot_ms(
        &self,
        state: &dyn StateView,
        parent: &Header,
        key: &PublicKey,
        now_ms: u64,
    ) -> Result<Option<u64>, EngineError> {
        match self {
            Engine::Solo(s) => Ok(s.next_slot(parent, key, now_ms).map(|x| x.timestamp_ms)),
            Engine::Aedpos { engine, .. } => {
                Ok(engine.next_slot_ms(&read_state(state)?, key, now_ms))
            }
        }
    }

    /// Checks `header`'s consensus rules on top of `parent` (whose state is
    /// `state`) and returns the state entry the block must write, if any.
    pub fn check(
        &self,
        state: &dyn StateView,
        parent: &Header,
        header: &Header,
    ) -> Result<Option<StateEntry>, EngineError> {
        match self {
            Engine::Solo(s) => {
                s.verify_header(header, parent)?;
                Ok(None)
            }
            Engine::Aedpos { engine, .. } => {
                if header.consensus.len() > MAX_CONSENSUS_BYTES {
                    return Err(AedposError::Decode(format!(
                        "{} consensus bytes, over {MAX_CONSENSUS_BYTES}",
                        header.consensus.len()
                    ))
                    .into());
                }
                // Decoded here as well as in `apply` only to fail fast on
                // garbage before reading the election.
                ConsensusData::from_bytes(&header.consensus)
                    .map_err(|e| AedposError::Decode(e.to_string()))?;
                let cs = read_state(state)?;
                let elected = self.elected(state, &cs)?;
                let next = engine.apply(&cs, parent, header, &elected)?;
                Ok(Some((keys::consensus_state(), encode(&next))))
            }
        }
    }

    /// The irreversible height a branch would reach: its consensus rules
    /// replayed header by header from `parent` (whose state is `state`),
    /// without executing any transaction. `None` for the solo engine, or if
    /// the replay fails. A branch crossing a term change is checked against
    /// the election as of `parent` (its own votes are not executed yet), so
    /// such a branch may fail here and is then judged by length alone.
    pub fn replay_irreversible<'h>(
        &self,
        state: &dyn StateView,
        parent: &Header,
        headers: impl IntoIterator<Item = &'h Header>,
    ) -> Option<Height> {
        let Engine::Aedpos { engine, .. } = self else {
            return None;
        };
        let mut cs = read_state(state).ok()?;
        let mut parent = parent;
        for h in headers {
            if h.consensus.len() > MAX_CONSENSUS_BYTES {
                return None;
            }
            let elected = self.elected(state, &cs).ok()?;
            cs = engine.apply(&cs, parent, h, &elected).ok()?;
            parent = h;
        }
        Some(cs.irreversible)
    }

    /// The irreversible height given the head and the state after it.
    pub fn irreversible_height(&self, state: &dyn StateView, head: &Header) -> Height {
        match self {
            Engine::Solo(s) => s.irreversible_height(head),
            Engine::Aedpos { .. } => read_state(state).map_or(0, |s| s.irreversible),
        }
    }

    /// The AEDPoS state after the block whose state is `state`.
    pub fn aedpos_state(&self, state: &dyn StateView) -> Result<Option<AedposState>, EngineError> {
        match self {
            Engine::Solo(_) => Ok(None),
            Engine::Aedpos { .. } => read_state(state).map(Some),
        }
    }

    /// The interval of a slot (solo: the block time).
    pub fn interval_ms(&self) -> u64 {
        match self {
            Engine::Solo(s) => s.interval_ms,
            Engine::Aedpos { engine, .. } => engine.config.interval_ms,
        }
    }
}
