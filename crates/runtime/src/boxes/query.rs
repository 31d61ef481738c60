//! Read-only questions about boxes, for the RPC: nothing here writes state
//! that outlives the call.

use super::gate::{GateEnv, run_gate};
use super::keys;
use super::records::{BoxRecord, Gate, Message};
use super::state::load;
use crate::error::ExecError;
use crate::overlay::Overlay;
use crate::token::CallFailure;
use umbra_storage::StateView;
use umbra_types::{Address, Amount, Event, GateKind, Payload};
use umbra_vm::Verb;

/// One page of results and where the next page starts (`None` at the end).
pub type Page<T> = (Vec<T>, Option<u64>);

/// Most messages or boxes one page returns.
pub const MAX_PAGE: u64 = 256;

pub fn record(state: &dyn StateView, name: &str) -> Result<Option<BoxRecord>, ExecError> {
    if super::check_name(name).is_err() {
        return Ok(None);
    }
    load(state, &keys::record(name))
}

pub fn gate(state: &dyn StateView, name: &str, kind: GateKind) -> Result<Option<Gate>, ExecError> {
    load(state, &keys::gate(name, kind))
}

/// Messages `from..` (at most `limit`, capped at [`MAX_PAGE`]), skipping
/// deleted ones, and the index to ask for next (`None` at the end).
pub fn messages(
    state: &dyn StateView,
    name: &str,
    rec: &BoxRecord,
    from: u64,
    limit: u64,
) -> Result<Page<(u64, Message)>, ExecError> {
    let end = rec
        .next_index
        .min(from.saturating_add(limit.clamp(1, MAX_PAGE)));
    let mut out = Vec::new();
    for i in from..end {
        if let Some(m) = load::<Message>(state, &keys::message(name, i))? {
            out.push((i, m));
        }
    }
    Ok((out, (end < rec.next_index).then_some(end)))
}

/// The names of the boxes `owner` owns.
pub fn owned(state: &dyn StateView, owner: &Address) -> Result<Vec<String>, ExecError> {
    Ok(load(state, &keys::owned(owner))?.unwrap_or_default())
}

/// Boxes in creation order from id `from`, and the id to ask for next.
pub fn all(state: &dyn StateView, from: u64, limit: u64) -> Result<Page<(u64, String)>, ExecError> {
    let count: u64 = load(state, &keys::counter())?.unwrap_or(0);
    let end = count.min(from.saturating_add(limit.clamp(1, MAX_PAGE)));
    let mut out = Vec::new();
    for id in from..end {
        if let Some(n) = state.get(&keys::by_id(id))? {
            out.push((id, String::from_utf8_lossy(&n).into_owned()));
        }
    }
    Ok((out, (end < count).then_some(end)))
}

pub fn encryption_key(
    state: &dyn StateView,
    account: &Address,
) -> Result<Option<[u8; 32]>, ExecError> {
    Ok(state
        .get(&keys::encryption_key(account))?
        .and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok()))
}

/// What running one gate would do for a caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatePreview {
    pub kind: GateKind,
    /// Whether the box has a script for this gate (else the default rule).
    pub scripted: bool,
    pub gas_bound: u64,
    /// `gas_bound × fee_per_gas`, added to the transaction fee.
    pub gas_fee: Amount,
    /// Whether the gate would let the caller through (payments assumed to
    /// succeed).
    pub allowed: bool,
    /// Tokens the gate would charge.
    pub token_cost: Amount,
    /// Why it would refuse.
    pub reason: Option<String>,
}

/// Previews the read and write gates of box `name` for `caller`, after its
/// inspect gate agrees. Runs in inspect mode (no payment is taken) on a
/// scratch overlay that is thrown away.
pub fn inspect(
    state: &dyn StateView,
    env: &GateEnv<'_>,
    caller: &Address,
    name: &str,
    rec: &BoxRecord,
) -> Result<Result<Vec<GatePreview>, CallFailure>, ExecError> {
    let mut scratch = Overlay::new(state);
    if let Err(f) = run_gate(
        &mut scratch,
        env,
        caller,
        name,
        rec,
        GateKind::Inspect,
        Verb::Inspect,
        vec![],
    )? {
        return Ok(Err(f));
    }
    let mut out = Vec::new();
    for kind in [GateKind::Read, GateKind::Write] {
        let mut scratch = Overlay::new(state);
        let g = gate(state, name, kind)?;
        let gas_bound = g.as_ref().map_or(0, |g| g.gas_bound);
        let r = run_gate(
            &mut scratch,
            env,
            caller,
            name,
            rec,
            kind,
            Verb::Inspect,
            vec![],
        )?;
        let (allowed, token_cost, reason) = match r {
            Ok(p) => (true, p.token_cost, None),
            Err(f) => (false, 0, Some(f.reason)),
        };
        out.push(GatePreview {
            kind,
            scripted: g.is_some(),
            gas_bound,
            gas_fee: env
                .params
                .fee_per_gas
                .saturating_mul(Amount::from(gas_bound)),
            allowed,
            token_cost,
            reason,
        });
    }
    Ok(Ok(out))
}

/// Runs a call against `state` as the next block would, and throws the
/// writes away: the RPC's early answer to "would this go through?".
pub fn preview(
    state: &dyn StateView,
    env: &GateEnv<'_>,
    from: &Address,
    payload: &Payload,
) -> Result<Result<Vec<Event>, CallFailure>, ExecError> {
    let mut scratch = Overlay::new(state);
    super::dispatch(&mut scratch, env, from, payload)
}
