//! The chain spec: everything that defines a chain at genesis.

use crate::engine::Engine;
use serde::{Deserialize, Serialize};
use std::path::Path;
use umbra_consensus::Solo;
use umbra_consensus::aedpos::{Aedpos, AedposConfig};
use umbra_crypto::{DEV_ACCOUNT_NAMES, Keypair, dev_keypair};
use umbra_runtime::{ChainParams, GenesisError, genesis_changes};
use umbra_types::{Address, Amount, PublicKey, parse_amount};

/// Most miners an AEDPoS chain may have (slots per round).
pub const MAX_MINERS: usize = 256;

/// Largest spec file read.
const MAX_SPEC_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSpec {
    pub name: String,
    pub chain_id: u64,
    pub genesis_time_ms: u64,
    pub consensus: ConsensusSpec,
    pub balances: Vec<GenesisBalance>,
    #[serde(default)]
    pub params: ChainParams,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusSpec {
    /// `solo` (one authority; devnets) or `aedpos` (elected miners in rounds
    /// of time slots; see docs/CONSENSUS.md).
    pub engine: String,
    /// Public keys (hex): the solo authority, or AEDPoS's genesis miners in
    /// the slot order of the first round.
    pub authorities: Vec<PublicKey>,
    /// solo: the block interval; aedpos: the length of a time slot.
    pub block_time_ms: u64,
    /// AEDPoS constants beyond the slot length (defaults when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aedpos: Option<AedposSpec>,
}

/// AEDPoS protocol constants (see `umbra_consensus::aedpos::AedposConfig`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AedposSpec {
    pub max_blocks_per_slot: u32,
    pub min_block_gap_ms: u64,
    /// Rounds per term; 0 keeps the genesis miners forever.
    pub rounds_per_term: u64,
    pub max_missed_slots: u64,
    pub throttle_lag_blocks: u64,
    /// Time from a round's closing block to the next round's first slot
    /// (aelf: one slot; here 0 unless the spec says otherwise).
    pub round_gap_ms: u64,
}

impl Default for AedposSpec {
    fn default() -> Self {
        let c = AedposConfig::default();
        AedposSpec {
            max_blocks_per_slot: c.max_blocks_per_slot,
            min_block_gap_ms: c.min_block_gap_ms,
            rounds_per_term: c.rounds_per_term,
            max_missed_slots: c.max_missed_slots,
            throttle_lag_blocks: c.throttle_lag_blocks,
            round_gap_ms: c.round_gap_ms,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisBalance {
    pub address: Address,
    /// Amount in base units, as a decimal string.
    pub amount: String,
    /// An optional label (dev account names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Why a spec cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read chain spec {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("chain spec {path} is not valid: {reason}")]
    Parse { path: String, reason: String },
    #[error("chain spec is not valid: {0}")]
    Invalid(String),
    #[error(transparent)]
    Genesis(#[from] GenesisError),
}

impl ChainSpec {
    pub fn load(path: &Path) -> Result<ChainSpec, SpecError> {
        let p = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| SpecError::Read {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        if meta.len() > MAX_SPEC_BYTES {
            return Err(SpecError::Read {
                path: p,
                reason: format!("file is over {MAX_SPEC_BYTES} bytes"),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|e| SpecError::Read {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        let spec: ChainSpec = serde_json::from_str(&text).map_err(|e| SpecError::Parse {
            path: p,
            reason: e.to_string(),
        })?;
        spec.validate()?;
        Ok(spec)
    }

    pub fn save(&self, path: &Path) -> Result<(), SpecError> {
        let text =
            serde_json::to_string_pretty(self).map_err(|e| SpecError::Invalid(e.to_string()))?;
        std::fs::write(path, text + "\n").map_err(|e| SpecError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    }

    pub fn validate(&self) -> Result<(), SpecError> {
        let c = &self.consensus;
        match c.engine.as_str() {
            "solo" => {
                if c.authorities.len() != 1 {
                    return Err(SpecError::Invalid(
                        "the solo engine needs exactly one authority".into(),
                    ));
                }
                if c.aedpos.is_some() {
                    return Err(SpecError::Invalid(
                        "`consensus.aedpos` is only for the aedpos engine".into(),
                    ));
                }
            }
            "aedpos" => {
                if c.authorities.is_empty() || c.authorities.len() > MAX_MINERS {
                    return Err(SpecError::Invalid(format!(
                        "the aedpos engine needs 1 to {MAX_MINERS} genesis miners"
                    )));
                }
                let distinct: std::collections::BTreeSet<_> = c.authorities.iter().collect();
                if distinct.len() != c.authorities.len() {
                    return Err(SpecError::Invalid("a genesis miner is listed twice".into()));
                }
                let a = c.aedpos.clone().unwrap_or_default();
                if a.max_blocks_per_slot == 0 {
                    return Err(SpecError::Invalid(
                        "consensus.aedpos.max_blocks_per_slot must be positive".into(),
                    ));
                }
                if self.params.miners == 0 || self.params.miners > MAX_MINERS as u64 {
                    return Err(SpecError::Invalid(format!(
                        "params.miners must be 1 to {MAX_MINERS}"
                    )));
                }
            }
            other => {
                return Err(SpecError::Invalid(format!(
                    "unknown consensus engine `{other}` (this build supports `solo` and `aedpos`)"
                )));
            }
        }
        if self.consensus.block_time_ms == 0 {
            return Err(SpecError::Invalid("block_time_ms must be positive".into()));
        }
        if self.params.ref_block_window == 0 {
            return Err(SpecError::Invalid(
                "params.ref_block_window must be positive".into(),
            ));
        }
        genesis_changes(&self.balances()?, self.genesis_time_ms)?;
        Ok(())
    }

    /// Genesis balances in base units.
    pub fn balances(&self) -> Result<Vec<(Address, Amount)>, SpecError> {
        self.balances
            .iter()
            .map(|b| {
                b.amount
                    .parse::<Amount>()
                    .map(|a| (b.address, a))
                    .map_err(|_| {
                        SpecError::Invalid(format!(
                            "balance of {} is not a base-unit integer: {}",
                            b.address, b.amount
                        ))
                    })
            })
            .collect()
    }

    /// The consensus engine the spec names. `block_time_ms` paces the solo
    /// engine (a node-local choice); AEDPoS slots are the spec's, since
    /// every miner must agree on them. Errors (rather than panicking) on a
    /// spec that was never validated.
    pub fn consensus_engine(&self, block_time_ms: u64) -> Result<Engine, SpecError> {
        self.validate()?;
        let c = &self.consensus;
        if c.engine == "aedpos" {
            let a = c.aedpos.clone().unwrap_or_default();
            return Ok(Engine::Aedpos {
                engine: Aedpos::new(AedposConfig {
                    interval_ms: c.block_time_ms,
                    max_blocks_per_slot: a.max_blocks_per_slot,
                    min_block_gap_ms: a.min_block_gap_ms,
                    rounds_per_term: a.rounds_per_term,
                    max_missed_slots: a.max_missed_slots,
                    throttle_lag_blocks: a.throttle_lag_blocks,
                    round_gap_ms: a.round_gap_ms,
                }),
                miners: self.params.miners as usize,
                genesis_miners: c.authorities.clone(),
            });
        }
        let authority = *c.authorities.first().ok_or_else(|| {
            SpecError::Invalid("the solo engine needs exactly one authority".into())
        })?;
        Ok(Engine::Solo(Solo {
            authority,
            interval_ms: block_time_ms,
        }))
    }
}

/// Balance of each dev account on a devnet.
pub const DEV_BALANCE: &str = "1000000";

/// Genesis balances of the ten `dev:` accounts, `DEV_BALANCE` each.
pub fn dev_balances() -> Vec<GenesisBalance> {
    let amount = parse_amount(DEV_BALANCE).unwrap_or_default().to_string();
    DEV_ACCOUNT_NAMES
        .iter()
        .map(|n| GenesisBalance {
            address: dev_keypair(n).address(),
            amount: amount.clone(),
            name: Some(format!("dev:{n}")),
        })
        .collect()
}

/// The devnet spec: the ten `dev:` accounts funded, and the dev validator key
/// as the single authority, funded too so that it can register the devnet
/// node as a storage node. All keys are public knowledge.
pub fn dev_spec(block_time_ms: u64, genesis_time_ms: u64) -> (ChainSpec, Keypair) {
    let validator = dev_keypair("validator");
    let mut balances = dev_balances();
    balances.push(GenesisBalance {
        address: validator.address(),
        amount: parse_amount(DEV_BALANCE).unwrap_or_default().to_string(),
        name: Some("dev:validator".into()),
    });
    let spec = ChainSpec {
        name: "umbra-devnet".into(),
        chain_id: 1337,
        genesis_time_ms,
        consensus: ConsensusSpec {
            engine: "solo".into(),
            authorities: vec![validator.public()],
            block_time_ms,
            aedpos: None,
        },
        balances,
        params: ChainParams::default(),
    };
    (spec, validator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_spec_round_trips_and_validates() {
        let (spec, v) = dev_spec(1000, 5);
        spec.validate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("spec.json");
        spec.save(&p).unwrap();
        assert_eq!(ChainSpec::load(&p).unwrap(), spec);
        assert_eq!(spec.consensus.authorities, vec![v.public()]);
        assert_eq!(
            spec.balances().unwrap().len(),
            11,
            "ten dev accounts and the validator"
        );
    }

    #[test]
    fn bad_specs_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("spec.json");
        std::fs::write(&p, "{not json").unwrap();
        assert!(matches!(ChainSpec::load(&p), Err(SpecError::Parse { .. })));
        let (mut spec, _) = dev_spec(1000, 5);
        spec.balances[1].address = spec.balances[0].address;
        assert!(matches!(
            spec.validate(),
            Err(SpecError::Genesis(GenesisError::Duplicate(_)))
        ));
        let (mut spec, _) = dev_spec(1000, 5);
        spec.balances[0].amount = "1.5".into();
        assert!(matches!(spec.validate(), Err(SpecError::Invalid(_))));
        assert!(matches!(
            ChainSpec::load(&dir.path().join("missing.json")),
            Err(SpecError::Read { .. })
        ));
    }
}
