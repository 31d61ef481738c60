//! Boxes, messages and gates: the Phantasma content-hub layer.
//!
//! A box is a named message hub owned by an account. Its three gates (read,
//! write, inspect) are gate VM scripts the owner sets; they decide who may
//! read or write and what they pay. Gate payments go 95 % to the owner and
//! 5 % to the reward pool, credited at the end of the block.
//!
//! What a gate cannot do: hide anything. Every node stores every message, so
//! a read gate governs payment and the release of keys, not secrecy. Private
//! content is encrypted by the client (HPKE to the reader's registered
//! X25519 key) before it is pushed. `docs/BOXES.md` says this in full.

pub mod gate;
pub mod host;
pub mod keys;
pub mod names;
pub mod ops;
pub mod query;
pub mod records;
pub mod state;

pub use gate::{GateEnv, Passed, run_gate};
pub use names::{NameError, check_name, skeleton};
pub use records::{BoxRecord, Gate, Message, Payment};

use crate::error::ExecError;
use crate::overlay::Overlay;
use crate::params::ChainParams;
use umbra_types::{Address, Amount, GateKind, Payload};

/// The gas part of a call's fee: the static bound of the gate it runs,
/// times `fee_per_gas`. Known before the gate runs.
pub fn gas_fee(
    state: &Overlay<'_>,
    params: &ChainParams,
    payload: &Payload,
) -> Result<Amount, ExecError> {
    let (name, kind) = match payload {
        Payload::BoxPush { name, .. } => (name, GateKind::Write),
        Payload::BoxPull { name, .. } => (name, GateKind::Read),
        _ => return Ok(0),
    };
    if check_name(name).is_err() {
        return Ok(0);
    }
    let bound = gate::gate_bound(state, name, kind)?;
    Ok(params.fee_per_gas.saturating_mul(Amount::from(bound)))
}

/// Checks of a box call that need no state, done before a transaction is
/// admitted: a malformed call never reaches a block.
pub fn check_call(payload: &Payload, params: &ChainParams) -> Result<(), String> {
    if let Some(name) = payload.box_name() {
        check_name(name).map_err(|e| e.to_string())?;
    }
    let body = match payload {
        Payload::BoxSetGate { code, .. } if !code.is_empty() => {
            ops::check_script(code, params.max_gate_gas)?;
            None
        }
        Payload::BoxPush { body, .. } | Payload::BoxReplace { body, .. } => Some(body),
        _ => None,
    };
    if let Some(body) = body {
        let len = body.stored_len() as u64;
        if len > params.max_message_bytes {
            return Err(format!(
                "message body is {len} bytes, over the limit of {}",
                params.max_message_bytes
            ));
        }
    }
    Ok(())
}

/// Runs a box call (or encryption key registration) for `from`.
pub fn dispatch(
    state: &mut Overlay<'_>,
    env: &GateEnv<'_>,
    from: &Address,
    payload: &Payload,
) -> ops::CallResult {
    match payload {
        Payload::BoxCreate { name } => ops::create(state, env, from, name),
        Payload::BoxSetGate { name, kind, code } => {
            ops::set_gate(state, env, from, name, *kind, code)
        }
        Payload::BoxPush { name, body } => ops::push(state, env, from, name, body),
        Payload::BoxPull { name, index } => ops::pull(state, env, from, name, *index),
        Payload::BoxDelete { name, index } => ops::delete(state, from, name, *index),
        Payload::BoxReplace { name, index, body } => {
            ops::replace(state, env, from, name, *index, body)
        }
        Payload::BoxAllow {
            name,
            address,
            allow,
        } => ops::allow(state, from, name, address, *allow),
        Payload::SetEncryptionKey { key } => ops::set_encryption_key(state, from, key),
        _ => Err(ExecError::Internal(format!(
            "{} call sent to the boxes module",
            payload.kind()
        ))),
    }
}
#[cfg(test)]
pub(crate) mod tests;
