//! The box calls: create, set a gate, push, pull, delete, replace, allow.
//!
//! Each runs in the transaction's child overlay: a failure (a refused gate,
//! a missing box, a wrong owner) drops everything the call wrote, payments
//! included, so a caller is only ever charged the transaction fee for a call
//! that did not go through.

use super::gate::{GateEnv, run_gate};
use super::keys;
use super::names::{check_name, skeleton};
use super::records::{BoxRecord, Gate, Message};
use super::state::{load, store};
use crate::error::{ExecError, fail_codes};
use crate::overlay::Overlay;
use crate::token::CallFailure;
use umbra_types::{Address, Event, GateKind, MessageBody};
use umbra_vm::{Script, Verb};

/// Result of a box call: events on success, a failure otherwise.
pub type CallResult = Result<Result<Vec<Event>, CallFailure>, ExecError>;

/// Most boxes one account may own (its list of names is one record).
pub const MAX_BOXES_PER_OWNER: usize = 1024;

fn fail(code: u16, reason: impl Into<String>) -> CallResult {
    Ok(Err(CallFailure {
        code,
        reason: reason.into(),
    }))
}

fn existing(state: &Overlay<'_>, name: &str) -> Result<Result<BoxRecord, CallFailure>, ExecError> {
    Ok(
        load::<BoxRecord>(state, &keys::record(name))?.ok_or_else(|| CallFailure {
            code: fail_codes::NO_SUCH_BOX,
            reason: format!("no box named `{name}`"),
        }),
    )
}

fn owned(
    state: &Overlay<'_>,
    name: &str,
    from: &Address,
) -> Result<Result<BoxRecord, CallFailure>, ExecError> {
    Ok(existing(state, name)?.and_then(|r| {
        if r.owner == *from {
            Ok(r)
        } else {
            Err(CallFailure {
                code: fail_codes::NOT_OWNER,
                reason: format!("only the owner of box `{name}` ({}) may do this", r.owner),
            })
        }
    }))
}

macro_rules! try_call {
    ($e:expr) => {
        match $e? {
            Ok(v) => v,
            Err(f) => return Ok(Err(f)),
        }
    };
}

pub fn create(
    state: &mut Overlay<'_>,
    env: &GateEnv<'_>,
    from: &Address,
    name: &str,
) -> CallResult {
    if let Err(e) = check_name(name) {
        return fail(fail_codes::BAD_NAME, e.to_string());
    }
    if let Some(r) = load::<BoxRecord>(state, &keys::record(name))? {
        return fail(
            fail_codes::BOX_EXISTS,
            format!("box `{name}` already exists (owner {})", r.owner),
        );
    }
    let sk = skeleton(name);
    if let Some(other) = state.get(&keys::skeleton(&sk))? {
        let existing = String::from_utf8_lossy(&other).into_owned();
        return fail(
            fail_codes::BAD_NAME,
            format!("box name `{name}` looks like the existing box `{existing}`"),
        );
    }
    let mut names: Vec<String> = load(state, &keys::owned(from))?.unwrap_or_default();
    if names.len() >= MAX_BOXES_PER_OWNER {
        return fail(
            fail_codes::TOO_MANY_BOXES,
            format!("an account may own at most {MAX_BOXES_PER_OWNER} boxes"),
        );
    }
    let id: u64 = load(state, &keys::counter())?.unwrap_or(0);
    store(state, keys::counter(), &(id + 1));
    let rec = BoxRecord {
        id,
        owner: *from,
        created_height: env.height,
        next_index: 0,
        live: 0,
    };
    store(state, keys::record(name), &rec);
    state.put(keys::skeleton(&sk), name.as_bytes().to_vec());
    state.put(
        keys::by_address(&keys::box_address(name)),
        name.as_bytes().to_vec(),
    );
    state.put(keys::by_id(id), name.as_bytes().to_vec());
    names.push(name.to_string());
    store(state, keys::owned(from), &names);
    Ok(Ok(vec![Event::BoxCreated {
        name: name.to_string(),
        owner: *from,
        id,
    }]))
}

/// Checks a gate script as the chain will: it decodes and its bound is
/// within the chain's limit. Returns the bound.
pub fn check_script(code: &[u8], max_gas: u64) -> Result<u64, String> {
    let script = Script::decode(code).map_err(|e| format!("invalid gate script: {e}"))?;
    let bound = script.gas_bound();
    if bound > max_gas {
        return Err(format!(
            "gate script's gas bound {bound} is over the chain's limit of {max_gas}"
        ));
    }
    Ok(bound)
}

pub fn set_gate(
    state: &mut Overlay<'_>,
    env: &GateEnv<'_>,
    from: &Address,
    name: &str,
    kind: GateKind,
    code: &[u8],
) -> CallResult {
    try_call!(owned(state, name, from));
    let key = keys::gate(name, kind);
    let gas_bound = if code.is_empty() {
        state.delete(key);
        0
    } else {
        let bound = match check_script(code, env.params.max_gate_gas) {
            Ok(b) => b,
            Err(e) => return fail(fail_codes::BAD_SCRIPT, e),
        };
        store(
            state,
            key,
            &Gate {
                code: code.to_vec(),
                gas_bound: bound,
            },
        );
        bound
    };
    Ok(Ok(vec![Event::GateSet {
        name: name.to_string(),
        kind,
        gas_bound,
    }]))
}

/// A body within the chain's size limit; a link must name live content of
/// exactly its size.
fn check_body(
    state: &Overlay<'_>,
    body: &MessageBody,
    env: &GateEnv<'_>,
) -> Result<Result<(), CallFailure>, ExecError> {
    let len = body.stored_len() as u64;
    if len > env.params.max_message_bytes {
        return Ok(Err(CallFailure {
            code: fail_codes::MESSAGE_TOO_LARGE,
            reason: format!(
                "message body is {len} bytes, over the limit of {}; store large content off chain and push a link",
                env.params.max_message_bytes
            ),
        }));
    }
    match body {
        MessageBody::Link { content_id, size } => {
            crate::storage::check_link(state, env.timestamp_ms, content_id, *size)
        }
        MessageBody::Data(_) => Ok(Ok(())),
    }
}

pub fn push(
    state: &mut Overlay<'_>,
    env: &GateEnv<'_>,
    from: &Address,
    name: &str,
    body: &MessageBody,
) -> CallResult {
    try_call!(check_body(state, body, env));
    let rec = try_call!(existing(state, name));
    let passed = try_call!(run_gate(
        state,
        env,
        from,
        name,
        &rec,
        GateKind::Write,
        Verb::Write,
        body.gate_view()
    ));
    // The gate may have pushed into this same box (or changed it): re-read.
    let mut rec = try_call!(existing(state, name));
    let index = rec.next_index;
    let msg = Message {
        from: *from,
        height: env.height,
        timestamp_ms: env.timestamp_ms,
        body: body.clone(),
    };
    store(state, keys::message(name, index), &msg);
    rec.next_index += 1;
    rec.live += 1;
    store(state, keys::record(name), &rec);
    let mut events = passed.events;
    events.push(Event::MessagePushed {
        name: name.to_string(),
        index,
        from: *from,
    });
    Ok(Ok(events))
}

fn message_at(
    state: &Overlay<'_>,
    name: &str,
    rec: &BoxRecord,
    index: Option<u64>,
) -> Result<Result<(u64, Message), CallFailure>, ExecError> {
    let missing = |what: String| CallFailure {
        code: fail_codes::NO_SUCH_MESSAGE,
        reason: what,
    };
    let Some(index) = index.or(rec.next_index.checked_sub(1)) else {
        return Ok(Err(missing(format!("box `{name}` has no messages"))));
    };
    Ok(load::<Message>(state, &keys::message(name, index))?
        .map(|m| (index, m))
        .ok_or_else(|| missing(format!("box `{name}` has no message {index}"))))
}

pub fn pull(
    state: &mut Overlay<'_>,
    env: &GateEnv<'_>,
    from: &Address,
    name: &str,
    index: Option<u64>,
) -> CallResult {
    let rec = try_call!(existing(state, name));
    let (index, msg) = try_call!(message_at(state, name, &rec, index));
    let passed = try_call!(run_gate(
        state,
        env,
        from,
        name,
        &rec,
        GateKind::Read,
        Verb::Read,
        msg.body.gate_view()
    ));
    let mut events = passed.events;
    events.push(Event::MessagePulled {
        name: name.to_string(),
        index,
        reader: *from,
    });
    Ok(Ok(events))
}

pub fn delete(state: &mut Overlay<'_>, from: &Address, name: &str, index: u64) -> CallResult {
    let mut rec = try_call!(owned(state, name, from));
    try_call!(message_at(state, name, &rec, Some(index)));
    state.delete(keys::message(name, index));
    rec.live = rec.live.saturating_sub(1);
    store(state, keys::record(name), &rec);
    Ok(Ok(vec![Event::MessageDeleted {
        name: name.to_string(),
        index,
    }]))
}

pub fn replace(
    state: &mut Overlay<'_>,
    env: &GateEnv<'_>,
    from: &Address,
    name: &str,
    index: u64,
    body: &MessageBody,
) -> CallResult {
    try_call!(check_body(state, body, env));
    let rec = try_call!(owned(state, name, from));
    let (_, mut msg) = try_call!(message_at(state, name, &rec, Some(index)));
    msg.body = body.clone();
    store(state, keys::message(name, index), &msg);
    Ok(Ok(vec![Event::MessageReplaced {
        name: name.to_string(),
        index,
    }]))
}

pub fn allow(
    state: &mut Overlay<'_>,
    from: &Address,
    name: &str,
    who: &Address,
    allowed: bool,
) -> CallResult {
    try_call!(owned(state, name, from));
    let key = keys::listed(name, who);
    if allowed {
        state.put(key, vec![1]);
    } else {
        state.delete(key);
    }
    Ok(Ok(vec![Event::AllowListChanged {
        name: name.to_string(),
        address: *who,
        allowed,
    }]))
}

pub fn set_encryption_key(state: &mut Overlay<'_>, from: &Address, key: &[u8; 32]) -> CallResult {
    state.put(keys::encryption_key(from), key.to_vec());
    Ok(Ok(vec![Event::EncryptionKeySet {
        account: *from,
        key: *key,
    }]))
}
