//! An in-memory host for tests, the sdk's tests and the fuzz targets.
//!
//! It follows the runtime's rules where a gate can observe them: `PUSH`,
//! `DELETE` and `REPLACE` only reach boxes with the same owner as `this`, and
//! payments are recorded per (box, payer) with the block time.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use crate::host::{BoxInfo, Host, HostError};

/// One box in the in-memory chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemBox {
    /// Creation order.
    pub id: u64,
    /// `sha256(name)`.
    pub address: [u8; 32],
    /// The owning account.
    pub owner: [u8; 32],
    /// The read-gate code `CALL`/`INSPECT` run.
    pub read_gate: Vec<u8>,
    /// Messages, oldest first.
    pub messages: Vec<Vec<u8>>,
    /// The allow-list.
    pub listed: BTreeSet<[u8; 32]>,
}

/// What one payer has paid through one box.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Paid {
    /// Sum of all payments.
    pub total: u128,
    /// Block time of the latest.
    pub last_ms: u64,
}

/// An in-memory chain: boxes by name, allow-lists and payments.
#[derive(Debug, Clone, Default)]
pub struct MemHost {
    /// The acting account (what `Env::caller` should also be).
    pub caller: [u8; 32],
    /// Block time recorded with payments.
    pub now_ms: u64,
    /// Boxes by name.
    pub boxes: BTreeMap<Vec<u8>, MemBox>,
    /// Payments by (box name, payer).
    pub paid: BTreeMap<(Vec<u8>, [u8; 32]), Paid>,
    /// Every `pay` call in order: (box name, amount).
    pub pay_log: Vec<(Vec<u8>, u128)>,
    /// Makes `pay` fail, to test that a failed payment aborts the run.
    pub refuse_payments: bool,
}

/// The address `MemHost` gives a box name.
pub fn mem_address(name: &[u8]) -> [u8; 32] {
    Sha256::digest(name).into()
}

impl MemHost {
    /// An empty chain where `caller` acts at time `now_ms`.
    pub fn new(caller: [u8; 32], now_ms: u64) -> MemHost {
        MemHost {
            caller,
            now_ms,
            ..MemHost::default()
        }
    }

    /// Adds (or replaces) a box and returns how a frame would see it.
    pub fn add_box(
        &mut self,
        name: &[u8],
        id: u64,
        owner: [u8; 32],
        read_gate: Vec<u8>,
    ) -> BoxInfo {
        let b = MemBox {
            id,
            address: mem_address(name),
            owner,
            read_gate,
            ..MemBox::default()
        };
        self.boxes.insert(name.to_vec(), b);
        self.info(name).unwrap_or_else(|| BoxInfo {
            name: name.to_vec(),
            address: mem_address(name),
            id,
            caller_is_owner: owner == self.caller,
        })
    }

    /// The box as a frame sees it, for the current caller.
    pub fn info(&self, name: &[u8]) -> Option<BoxInfo> {
        self.boxes.get(name).map(|b| BoxInfo {
            name: name.to_vec(),
            address: b.address,
            id: b.id,
            caller_is_owner: b.owner == self.caller,
        })
    }

    /// What `who` has paid through box `name`.
    pub fn paid_by(&self, name: &[u8], who: &[u8; 32]) -> Paid {
        self.paid
            .get(&(name.to_vec(), *who))
            .copied()
            .unwrap_or_default()
    }

    fn same_owner(&self, this: &BoxInfo, target: &[u8]) -> Option<&[u8]> {
        let owner = self.boxes.get(&this.name)?.owner;
        let (name, t) = self.boxes.get_key_value(target)?;
        (t.owner == owner).then_some(name.as_slice())
    }

    fn box_mut(&mut self, name: &[u8]) -> Result<&mut MemBox, HostError> {
        self.boxes
            .get_mut(name)
            .ok_or_else(|| HostError::State("no such box".into()))
    }
}

impl Host for MemHost {
    fn listed(&mut self, this: &BoxInfo, who: &[u8; 32]) -> Result<bool, HostError> {
        Ok(self
            .boxes
            .get(&this.name)
            .is_some_and(|b| b.listed.contains(who)))
    }

    fn include(&mut self, this: &BoxInfo, who: &[u8; 32]) -> Result<(), HostError> {
        self.box_mut(&this.name)?.listed.insert(*who);
        Ok(())
    }

    fn exclude(&mut self, this: &BoxInfo, who: &[u8; 32]) -> Result<(), HostError> {
        self.box_mut(&this.name)?.listed.remove(who);
        Ok(())
    }

    fn paid_total(&mut self, this: &BoxInfo) -> Result<u128, HostError> {
        Ok(self.paid_by(&this.name, &self.caller).total)
    }

    fn last_paid_ms(&mut self, this: &BoxInfo) -> Result<Option<u64>, HostError> {
        Ok(self
            .paid
            .get(&(this.name.clone(), self.caller))
            .map(|p| p.last_ms))
    }

    fn pay(&mut self, this: &BoxInfo, amount: u128) -> Result<(), HostError> {
        if self.refuse_payments {
            return Err(HostError::Refused("insufficient balance".into()));
        }
        let now = self.now_ms;
        let p = self
            .paid
            .entry((this.name.clone(), self.caller))
            .or_default();
        p.total = p
            .total
            .checked_add(amount)
            .ok_or_else(|| HostError::State("payment total overflow".into()))?;
        p.last_ms = now;
        self.pay_log.push((this.name.clone(), amount));
        Ok(())
    }

    fn push(&mut self, this: &BoxInfo, target: &[u8], data: Vec<u8>) -> Result<bool, HostError> {
        let Some(name) = self.same_owner(this, target).map(<[u8]>::to_vec) else {
            return Ok(false);
        };
        self.box_mut(&name)?.messages.push(data);
        Ok(true)
    }

    fn pull(&mut self, _this: &BoxInfo, target: &[u8]) -> Result<Option<Vec<u8>>, HostError> {
        Ok(self
            .boxes
            .get(target)
            .and_then(|b| b.messages.last().cloned()))
    }

    fn delete(&mut self, this: &BoxInfo, target: &[u8]) -> Result<bool, HostError> {
        let Some(name) = self.same_owner(this, target).map(<[u8]>::to_vec) else {
            return Ok(false);
        };
        Ok(self.box_mut(&name)?.messages.pop().is_some())
    }

    fn replace(&mut self, this: &BoxInfo, target: &[u8], data: Vec<u8>) -> Result<bool, HostError> {
        let Some(name) = self.same_owner(this, target).map(<[u8]>::to_vec) else {
            return Ok(false);
        };
        match self.box_mut(&name)?.messages.last_mut() {
            Some(m) => {
                *m = data;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn count(&mut self, target: &[u8]) -> Result<Option<u64>, HostError> {
        Ok(self
            .boxes
            .get(target)
            .map(|b| u64::try_from(b.messages.len()).unwrap_or(u64::MAX)))
    }

    fn name_of(&mut self, address: &[u8; 32]) -> Result<Option<Vec<u8>>, HostError> {
        Ok(self
            .boxes
            .iter()
            .find(|(_, b)| &b.address == address)
            .map(|(n, _)| n.clone()))
    }

    fn find(&mut self, name: &[u8]) -> Result<Option<[u8; 32]>, HostError> {
        Ok(self.boxes.get(name).map(|b| b.address))
    }

    fn call_target(&mut self, name: &[u8]) -> Result<Option<(BoxInfo, Vec<u8>)>, HostError> {
        let code = self.boxes.get(name).map(|b| b.read_gate.clone());
        Ok(self.info(name).zip(code))
    }
}
