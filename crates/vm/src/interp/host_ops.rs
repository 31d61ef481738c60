//! Instructions that ask the host: states, box messages, payments, the
//! allow-list and content storage.
//!
//! An inspect frame must not change anything: its mutating ops are answered
//! here without reaching the host, as if they had succeeded.

use super::{Fault, Frame, Machine};
use crate::env::Verb;
use crate::error::VmErrorKind;
use crate::host::StorageOp;
use crate::instr::Instr;
use crate::opcode::Op;
use crate::state::StateId;
use crate::value::{Int, Value, int_to_u128};

impl Machine<'_> {
    pub(super) fn state(&mut self, f: &mut Frame<'_>, id: StateId) -> Result<(), Fault> {
        let env = self.env;
        let v = match id {
            StateId::Write => Value::bool(f.verb == Verb::Write),
            StateId::Read => Value::bool(f.verb == Verb::Read),
            StateId::Inspect => Value::bool(f.verb == Verb::Inspect),
            StateId::Own => Value::bool(f.this.caller_is_owner),
            StateId::This => Value::Bytes(f.this.name.clone()),
            StateId::Entry => Value::Bytes(self.entry.to_vec()),
            StateId::Timestamp => Value::Int(Int::from(env.timestamp_ms)),
            StateId::Randomness => Value::Bytes(env.randomness.to_vec()),
            StateId::Caller => Value::Bytes(env.caller.to_vec()),
            StateId::Listed => Value::bool(self.host.listed(f.this, &env.caller)?),
            StateId::Message => Value::Bytes(env.message.clone()),
        };
        Ok(f.stack.push(v)?)
    }

    pub(super) fn host_op(&mut self, f: &mut Frame<'_>, op: Op) -> Result<(), Fault> {
        let inspecting = f.verb == Verb::Inspect;
        let this = f.this;
        let s = &mut f.stack;
        match op {
            Op::Push => {
                let target = s.pop_bytes(op)?;
                let data = s.pop_bytes(op)?;
                let ok = inspecting || self.host.push(this, &target, data)?;
                s.push_bool(ok)?;
            }
            Op::Pull => {
                let target = s.pop_bytes(op)?;
                let body = self.host.pull(this, &target)?.unwrap_or_default();
                s.push(Value::Bytes(body))?;
            }
            Op::Delete => {
                let target = s.pop_bytes(op)?;
                let ok = inspecting || self.host.delete(this, &target)?;
                s.push_bool(ok)?;
            }
            Op::Replace => {
                let target = s.pop_bytes(op)?;
                let data = s.pop_bytes(op)?;
                let ok = inspecting || self.host.replace(this, &target, data)?;
                s.push_bool(ok)?;
            }
            Op::Count => {
                let target = s.pop_bytes(op)?;
                let n = self.host.count(&target)?.ok_or(VmErrorKind::NoSuchBox)?;
                s.push_int(Int::from(n))?;
            }
            Op::Name => {
                let addr = s.pop_address(op)?;
                let name = self.host.name_of(&addr)?.unwrap_or_default();
                s.push(Value::Bytes(name))?;
            }
            Op::Find => {
                let name = s.pop_bytes(op)?;
                let addr = self.host.find(&name)?.map(|a| a.to_vec());
                s.push(Value::Bytes(addr.unwrap_or_default()))?;
            }
            Op::Balance => {
                let paid = self.host.paid_total(this)?;
                s.push_int(Int::from(paid))?;
            }
            Op::Pay => {
                let amount = int_to_u128(s.pop_int(op)?).ok_or(VmErrorKind::OutOfRange(op))?;
                if !inspecting {
                    self.host.pay(this, amount)?;
                }
                self.token_cost = self
                    .token_cost
                    .checked_add(amount)
                    .ok_or(VmErrorKind::Overflow)?;
            }
            Op::Time => {
                let now = self.env.timestamp_ms;
                // Never paid: time since the epoch, as the seed says.
                let since = self
                    .host
                    .last_paid_ms(this)?
                    .map_or(now, |last| now.saturating_sub(last));
                s.push_int(Int::from(since))?;
            }
            Op::Include | Op::Exclude => {
                let who = s.pop_address(op)?;
                if !inspecting {
                    if op == Op::Include {
                        self.host.include(this, &who)?;
                    } else {
                        self.host.exclude(this, &who)?;
                    }
                }
            }
            _ => return Err(VmErrorKind::OutOfRange(op).into()),
        }
        Ok(())
    }

    /// `ALLOC LINK ELNK WRITE READ`: decoded and charged like any host op, then
    /// handed to `Host::storage`, which nodes do not serve yet.
    pub(super) fn storage(&mut self, f: &mut Frame<'_>, instr: Instr<'_>) -> Result<(), Fault> {
        let inspecting = f.verb == Verb::Inspect;
        let this = f.this;
        let s = &mut f.stack;
        let v = match instr {
            Instr::Alloc(_) if inspecting => Value::Bytes(Vec::new()),
            Instr::Alloc(hashes) => self.host.storage(StorageOp::Alloc { this, hashes })?,
            Instr::Link(id) => self.host.storage(StorageOp::Link { this, id })?,
            Instr::Elnk { service, data } => self.host.storage(StorageOp::Elnk {
                this,
                service,
                data,
            })?,
            Instr::Plain(Op::Write) => {
                let value = s.pop_bytes(Op::Write)?;
                let key = s.pop_bytes(Op::Write)?;
                if inspecting {
                    Value::Bytes(Vec::new())
                } else {
                    self.host.storage(StorageOp::Write {
                        this,
                        key: &key,
                        value: &value,
                    })?
                }
            }
            Instr::Plain(Op::Read) => {
                let key = s.pop_bytes(Op::Read)?;
                self.host.storage(StorageOp::Read { this, key: &key })?
            }
            other => return Err(VmErrorKind::OutOfRange(other.op()).into()),
        };
        Ok(s.push(v)?)
    }
}
