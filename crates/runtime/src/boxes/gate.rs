//! Running a box's gate script on the gate VM.

use super::host::GateHost;
use super::keys;
use super::records::{BoxRecord, Gate};
use super::state::load;
use crate::error::{ExecError, fail_codes};
use crate::overlay::Overlay;
use crate::params::ChainParams;
use crate::token::CallFailure;
use umbra_types::{Address, Amount, Event, GateKind, Height};
use umbra_vm::{BoxInfo, Env, Script, Verb, Verdict};

/// What a gate may know besides state: the block's inputs.
#[derive(Clone, Copy)]
pub struct GateEnv<'a> {
    pub height: Height,
    pub timestamp_ms: u64,
    pub randomness: [u8; 32],
    pub params: &'a ChainParams,
}

/// A gate that let the caller through.
#[derive(Debug, Default)]
pub struct Passed {
    /// `GatePaid` events for what the gate charged.
    pub events: Vec<Event>,
    /// What the gate charged (or, in inspect mode, would charge).
    pub token_cost: Amount,
    pub gas_used: u64,
}

/// The gas bound of a box's gate (0 for a box without that gate, whose
/// default rule needs no script).
pub fn gate_bound(state: &Overlay<'_>, name: &str, kind: GateKind) -> Result<u64, ExecError> {
    Ok(load::<Gate>(state, &keys::gate(name, kind))?.map_or(0, |g| g.gas_bound))
}

/// Runs the `kind` gate of box `name` for `caller`. `verb` is what the
/// caller is doing; `Verb::Inspect` previews without paying. On a refusal
/// the caller gets a failure and the call's writes (payments included) are
/// dropped by the caller of this function.
#[allow(clippy::too_many_arguments)]
pub fn run_gate(
    state: &mut Overlay<'_>,
    env: &GateEnv<'_>,
    caller: &Address,
    name: &str,
    record: &BoxRecord,
    kind: GateKind,
    verb: Verb,
    message: Vec<u8>,
) -> Result<Result<Passed, CallFailure>, ExecError> {
    let Some(gate) = load::<Gate>(state, &keys::gate(name, kind))? else {
        return Ok(default_gate(name, record, kind, caller));
    };
    let script = match Script::decode(&gate.code) {
        Ok(s) => s,
        Err(e) => {
            return Ok(Err(CallFailure {
                code: fail_codes::GATE_ERROR,
                reason: format!(
                    "the {} gate of box `{name}` is not valid: {e}",
                    kind.as_str()
                ),
            }));
        }
    };
    let vm_env = Env {
        caller: caller.0,
        verb,
        timestamp_ms: env.timestamp_ms,
        randomness: env.randomness,
        message,
    };
    let this = BoxInfo {
        name: name.as_bytes().to_vec(),
        address: keys::box_address(name).0,
        id: record.id,
        caller_is_owner: record.owner == *caller,
    };
    let mut host = GateHost::new(state, env, *caller);
    let result = umbra_vm::run(&script, &vm_env, &this, &mut host, env.params.max_gate_gas);
    let (events, fatal) = host.finish();
    if let Some(e) = fatal {
        return Err(e);
    }
    match result {
        Ok(o) if o.verdict == Verdict::Pass => Ok(Ok(Passed {
            events,
            token_cost: o.token_cost,
            gas_used: o.gas_used,
        })),
        Ok(_) => Ok(Err(CallFailure {
            code: fail_codes::GATE_REFUSED,
            reason: format!("the {} gate of box `{name}` refused", kind.as_str()),
        })),
        Err(e) => Ok(Err(CallFailure {
            code: fail_codes::GATE_ERROR,
            reason: format!("the {} gate of box `{name}` failed: {e}", kind.as_str()),
        })),
    }
}

/// A box without a script for `kind`: only the owner writes; anyone reads
/// and inspects, for free.
fn default_gate(
    name: &str,
    record: &BoxRecord,
    kind: GateKind,
    caller: &Address,
) -> Result<Passed, CallFailure> {
    match kind {
        GateKind::Write if record.owner != *caller => Err(CallFailure {
            code: fail_codes::GATE_REFUSED,
            reason: format!("box `{name}` has no write gate, so only its owner may write"),
        }),
        _ => Ok(Passed::default()),
    }
}
