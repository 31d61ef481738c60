//! Ready-made gate scripts.
//!
//! A box has a write gate and a read gate; each function here returns one
//! script. The owner passes the paid gates for free. Each returns `Err` only
//! when its parameters cannot be encoded (for example a reply over 64 KiB).

use umbra_vm::{Op, StateId};

use crate::builder::{BuildError, ScriptBuilder};

/// Everyone passes.
pub fn anyone() -> Result<Vec<u8>, BuildError> {
    ScriptBuilder::new().op(Op::Ok).build()
}

/// Nobody passes.
pub fn nobody() -> Result<Vec<u8>, BuildError> {
    ScriptBuilder::new().op(Op::Fail).build()
}

/// Only the box's owner passes.
pub fn owner_only() -> Result<Vec<u8>, BuildError> {
    ScriptBuilder::new().state(StateId::Own).op(Op::Ret).build()
}

/// The owner and accounts on the box's allow-list pass (a newsletter's
/// read gate).
pub fn owner_or_listed() -> Result<Vec<u8>, BuildError> {
    ScriptBuilder::new()
        .state(StateId::Own)
        .state(StateId::Listed)
        .op(Op::Or)
        .op(Op::Ret)
        .build()
}

/// Only accounts on the allow-list pass.
pub fn listed_only() -> Result<Vec<u8>, BuildError> {
    ScriptBuilder::new()
        .state(StateId::Listed)
        .op(Op::Ret)
        .build()
}

/// The owner passes free; everyone else pays `price` on every access.
pub fn pay_per_access(price: u128) -> Result<Vec<u8>, BuildError> {
    owner_free().push_u128(price).op(Op::Pay).op(Op::Ok).build()
}

/// The owner passes free; everyone else pays `price` once, after which
/// everything they have paid through this box covers it.
pub fn pay_once(price: u128) -> Result<Vec<u8>, BuildError> {
    owner_free()
        .op(Op::Balance)
        .push_u128(price)
        .op(Op::Get)
        .skip_to("pay")
        .op(Op::Ok)
        .label("pay")
        .push_u128(price)
        .op(Op::Pay)
        .op(Op::Ok)
        .build()
}

/// The owner passes free; everyone else pays `price` when their last payment
/// is `period_ms` or more old (or they never paid).
pub fn subscription(price: u128, period_ms: u64) -> Result<Vec<u8>, BuildError> {
    owner_free()
        .op(Op::Time)
        .push_u128(u128::from(period_ms))
        .op(Op::Lt)
        .skip_to("pay")
        .op(Op::Ok)
        .label("pay")
        .push_u128(price)
        .op(Op::Pay)
        .op(Op::Ok)
        .build()
}

/// A write gate for an inbox: anyone may write, and each write pushes
/// `caller address || reply` into box `outbox` (the runtime only lets a gate
/// push into boxes with the same owner). The write passes even if that push
/// is refused.
pub fn autoresponder(outbox: &str, reply: &[u8]) -> Result<Vec<u8>, BuildError> {
    ScriptBuilder::new()
        .state(StateId::Caller)
        .push_bytes(reply)
        .op(Op::Cat)
        .push_str(outbox)
        .op(Op::Push)
        .op(Op::Drop)
        .op(Op::Ok)
        .build()
}

/// A self-service list: pay `price`, get added to the allow-list, pass.
/// Pair it with `listed_only` or `owner_or_listed` as the read gate.
pub fn pay_and_join(price: u128) -> Result<Vec<u8>, BuildError> {
    ScriptBuilder::new()
        .push_u128(price)
        .op(Op::Pay)
        .state(StateId::Caller)
        .op(Op::Include)
        .op(Op::Ok)
        .build()
}

/// `STATE own; SKIP check; OK; check:` — the owner leaves here, free.
fn owner_free() -> ScriptBuilder {
    ScriptBuilder::new()
        .state(StateId::Own)
        .skip_to("check")
        .op(Op::Ok)
        .label("check")
}
