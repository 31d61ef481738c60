//! The gate VM's view of the chain: box state through the block's overlay.
//!
//! Storage failures are not the gate's fault: they are kept aside and stop
//! the block (an `ExecError`), while the VM only sees a host error.

use super::gate::GateEnv;
use super::keys;
use super::records::{BoxRecord, Gate, Message, Payment};
use super::state::{load, store};
use crate::error::ExecError;
use crate::overlay::Overlay;
use umbra_types::{Address, Amount, Event, GateKind, MessageBody};
use umbra_vm::{BoxInfo, Host, HostError, StorageOp, Value};

/// Share of every gate payment that goes to the reward pool, in percent
/// (seed §5.3: 95 % to the payment's target, 5 % to the pool).
pub const POOL_SHARE_PERCENT: Amount = 5;

pub struct GateHost<'o, 'a> {
    state: &'o mut Overlay<'a>,
    env: GateEnv<'o>,
    caller: Address,
    events: Vec<Event>,
    fatal: Option<ExecError>,
}

impl<'o, 'a> GateHost<'o, 'a> {
    pub fn new(state: &'o mut Overlay<'a>, env: &GateEnv<'o>, caller: Address) -> Self {
        GateHost {
            state,
            env: *env,
            caller,
            events: Vec::new(),
            fatal: None,
        }
    }

    /// The payment events, and a storage failure if one happened.
    pub fn finish(self) -> (Vec<Event>, Option<ExecError>) {
        (self.events, self.fatal)
    }

    fn keep<T>(&mut self, r: Result<T, ExecError>) -> Result<T, HostError> {
        r.map_err(|e| {
            let msg = e.to_string();
            self.fatal.get_or_insert(e);
            HostError::State(msg)
        })
    }

    fn name(bytes: &[u8]) -> Result<&str, HostError> {
        std::str::from_utf8(bytes)
            .ok()
            .filter(|n| super::names::check_name(n).is_ok())
            .ok_or_else(|| HostError::Refused("not a valid box name".into()))
    }

    fn record(&mut self, name: &str) -> Result<Option<BoxRecord>, HostError> {
        let r = load::<BoxRecord>(self.state, &keys::record(name));
        self.keep(r)
    }

    fn this_record(&mut self, this: &BoxInfo) -> Result<(String, BoxRecord), HostError> {
        let name = Self::name(&this.name)?.to_string();
        match self.record(&name)? {
            Some(r) => Ok((name, r)),
            None => Err(HostError::Refused(format!("box `{name}` does not exist"))),
        }
    }

    /// A box the running gate's owner also owns: the only kind a gate may
    /// push into or change, so a gate can never write past another owner's
    /// write gate.
    fn same_owner_target(
        &mut self,
        this: &BoxInfo,
        target: &[u8],
    ) -> Result<Option<(String, BoxRecord)>, HostError> {
        let (_, this_rec) = self.this_record(this)?;
        let Ok(name) = Self::name(target) else {
            return Ok(None);
        };
        let name = name.to_string();
        Ok(self
            .record(&name)?
            .filter(|r| r.owner == this_rec.owner)
            .map(|r| (name, r)))
    }

    fn payment(&mut self, this: &BoxInfo) -> Result<Payment, HostError> {
        let name = Self::name(&this.name)?.to_string();
        let r = load::<Payment>(self.state, &keys::payment(&name, &self.caller));
        Ok(self.keep(r)?.unwrap_or_default())
    }

    fn top_message(&mut self, name: &str, rec: &BoxRecord) -> Result<Option<Message>, HostError> {
        let Some(last) = rec.next_index.checked_sub(1) else {
            return Ok(None);
        };
        let r = load::<Message>(self.state, &keys::message(name, last));
        self.keep(r)
    }

    fn body(&self, data: Vec<u8>) -> Option<MessageBody> {
        (data.len() as u64 <= self.env.params.max_message_bytes).then_some(MessageBody::Data(data))
    }
}

impl Host for GateHost<'_, '_> {
    fn listed(&mut self, this: &BoxInfo, who: &[u8; 32]) -> Result<bool, HostError> {
        let name = Self::name(&this.name)?;
        let r = self.state.get(&keys::listed(name, &Address(*who)));
        Ok(self.keep(r.map_err(ExecError::from))?.is_some())
    }

    fn include(&mut self, this: &BoxInfo, who: &[u8; 32]) -> Result<(), HostError> {
        let name = Self::name(&this.name)?;
        self.state.put(keys::listed(name, &Address(*who)), vec![1]);
        Ok(())
    }

    fn exclude(&mut self, this: &BoxInfo, who: &[u8; 32]) -> Result<(), HostError> {
        let name = Self::name(&this.name)?;
        self.state.delete(keys::listed(name, &Address(*who)));
        Ok(())
    }

    fn paid_total(&mut self, this: &BoxInfo) -> Result<u128, HostError> {
        Ok(self.payment(this)?.total)
    }

    fn last_paid_ms(&mut self, this: &BoxInfo) -> Result<Option<u64>, HostError> {
        let p = self.payment(this)?;
        Ok((p.total > 0).then_some(p.last_ms))
    }

    fn pay(&mut self, this: &BoxInfo, amount: u128) -> Result<(), HostError> {
        let (name, rec) = self.this_record(this)?;
        let caller = self.caller;
        let acct = self.state.account(&caller);
        let mut acct = self.keep(acct)?;
        if acct.balance < amount {
            return Err(HostError::Refused(format!(
                "the caller cannot pay {amount}: balance is {}",
                acct.balance
            )));
        }
        acct.balance -= amount;
        self.state.set_account(&caller, &acct);
        let mut p = self.payment(this)?;
        p.total = p.total.saturating_add(amount);
        p.last_ms = self.env.timestamp_ms;
        store(self.state, keys::payment(&name, &caller), &p);
        let to_pool = amount / 100 * POOL_SHARE_PERCENT + amount % 100 * POOL_SHARE_PERCENT / 100;
        self.events.push(Event::GatePaid {
            name,
            payer: caller,
            owner: rec.owner,
            to_owner: amount - to_pool,
            to_pool,
        });
        Ok(())
    }

    fn push(&mut self, this: &BoxInfo, target: &[u8], data: Vec<u8>) -> Result<bool, HostError> {
        let Some((name, mut rec)) = self.same_owner_target(this, target)? else {
            return Ok(false);
        };
        let Some(body) = self.body(data) else {
            return Ok(false);
        };
        let from_box = Self::name(&this.name)?;
        let msg = Message {
            from: keys::box_address(from_box),
            height: self.env.height,
            timestamp_ms: self.env.timestamp_ms,
            body,
        };
        let index = rec.next_index;
        store(self.state, keys::message(&name, index), &msg);
        rec.next_index += 1;
        rec.live += 1;
        store(self.state, keys::record(&name), &rec);
        self.events.push(Event::MessagePushed {
            name,
            index,
            from: msg.from,
        });
        Ok(true)
    }

    fn pull(&mut self, _this: &BoxInfo, target: &[u8]) -> Result<Option<Vec<u8>>, HostError> {
        let Ok(name) = Self::name(target) else {
            return Ok(None);
        };
        let name = name.to_string();
        let Some(rec) = self.record(&name)? else {
            return Ok(None);
        };
        Ok(self.top_message(&name, &rec)?.map(|m| m.body.gate_view()))
    }

    fn delete(&mut self, this: &BoxInfo, target: &[u8]) -> Result<bool, HostError> {
        let Some((name, mut rec)) = self.same_owner_target(this, target)? else {
            return Ok(false);
        };
        if self.top_message(&name, &rec)?.is_none() {
            return Ok(false);
        }
        let index = rec.next_index - 1;
        self.state.delete(keys::message(&name, index));
        rec.live = rec.live.saturating_sub(1);
        store(self.state, keys::record(&name), &rec);
        self.events.push(Event::MessageDeleted { name, index });
        Ok(true)
    }

    fn replace(&mut self, this: &BoxInfo, target: &[u8], data: Vec<u8>) -> Result<bool, HostError> {
        let Some((name, rec)) = self.same_owner_target(this, target)? else {
            return Ok(false);
        };
        let Some(mut msg) = self.top_message(&name, &rec)? else {
            return Ok(false);
        };
        let Some(body) = self.body(data) else {
            return Ok(false);
        };
        msg.body = body;
        let index = rec.next_index - 1;
        store(self.state, keys::message(&name, index), &msg);
        self.events.push(Event::MessageReplaced { name, index });
        Ok(true)
    }

    fn count(&mut self, target: &[u8]) -> Result<Option<u64>, HostError> {
        let Ok(name) = Self::name(target) else {
            return Ok(None);
        };
        let name = name.to_string();
        Ok(self.record(&name)?.map(|r| r.live))
    }

    fn name_of(&mut self, address: &[u8; 32]) -> Result<Option<Vec<u8>>, HostError> {
        let r = self.state.get(&keys::by_address(&Address(*address)));
        self.keep(r.map_err(ExecError::from))
    }

    fn find(&mut self, name: &[u8]) -> Result<Option<[u8; 32]>, HostError> {
        let Ok(name) = Self::name(name) else {
            return Ok(None);
        };
        let name = name.to_string();
        Ok(self.record(&name)?.map(|_| keys::box_address(&name).0))
    }

    fn call_target(&mut self, name: &[u8]) -> Result<Option<(BoxInfo, Vec<u8>)>, HostError> {
        let Ok(name) = Self::name(name) else {
            return Ok(None);
        };
        let name = name.to_string();
        let Some(rec) = self.record(&name)? else {
            return Ok(None);
        };
        let gate = load::<Gate>(self.state, &keys::gate(&name, GateKind::Read));
        // A box without a read gate lets anyone read: the one-byte OK script.
        let code = self
            .keep(gate)?
            .map_or_else(|| vec![umbra_vm::Op::Ok as u8], |g| g.code);
        let info = BoxInfo {
            name: name.as_bytes().to_vec(),
            address: keys::box_address(&name).0,
            id: rec.id,
            caller_is_owner: rec.owner == self.caller,
        };
        Ok(Some((info, code)))
    }

    /// `LINK id` pushes the content id back when the content is allocated
    /// and live at the block's time, and refuses otherwise. The other
    /// storage operations are not served on chain.
    fn storage(&mut self, op: StorageOp<'_>) -> Result<Value, HostError> {
        match op {
            StorageOp::Link { id, .. } => {
                let content = umbra_types::Hash(*id);
                let live =
                    crate::storage::live_allocation(self.state, &content, self.env.timestamp_ms);
                match self.keep(live)? {
                    Some(_) => Ok(Value::Bytes(id.to_vec())),
                    None => Err(HostError::Refused(format!(
                        "content {content} is not allocated"
                    ))),
                }
            }
            _ => Err(HostError::StorageUnavailable),
        }
    }
}
