//! One frame's operand stack, enforcing the item, count and byte limits on
//! every push.

use crate::error::VmErrorKind;
use crate::limits::{MAX_ITEM_BYTES, MAX_STACK, MAX_STACK_BYTES};
use crate::opcode::Op;
use crate::value::{Int, Value};

#[derive(Debug, Default)]
pub(crate) struct Stack {
    items: Vec<Value>,
    bytes: usize,
}

impl Stack {
    pub(crate) fn push(&mut self, v: Value) -> Result<(), VmErrorKind> {
        if self.items.len() >= MAX_STACK {
            return Err(VmErrorKind::StackOverflow);
        }
        if let Value::Bytes(b) = &v
            && b.len() > MAX_ITEM_BYTES
        {
            return Err(VmErrorKind::ItemTooLarge { size: b.len() });
        }
        let bytes = self.bytes.saturating_add(v.footprint());
        if bytes > MAX_STACK_BYTES {
            return Err(VmErrorKind::MemoryLimit);
        }
        self.bytes = bytes;
        self.items.push(v);
        Ok(())
    }

    pub(crate) fn push_int(&mut self, i: Int) -> Result<(), VmErrorKind> {
        self.push(Value::Int(i))
    }

    pub(crate) fn push_bool(&mut self, b: bool) -> Result<(), VmErrorKind> {
        self.push(Value::bool(b))
    }

    pub(crate) fn pop(&mut self, op: Op) -> Result<Value, VmErrorKind> {
        let v = self.items.pop().ok_or(VmErrorKind::StackUnderflow(op))?;
        self.bytes = self.bytes.saturating_sub(v.footprint());
        Ok(v)
    }

    pub(crate) fn pop_int(&mut self, op: Op) -> Result<Int, VmErrorKind> {
        self.pop(op)?.to_int()
    }

    pub(crate) fn pop_bytes(&mut self, op: Op) -> Result<Vec<u8>, VmErrorKind> {
        Ok(self.pop(op)?.into_bytes())
    }

    /// Pops an item that must be exactly 32 bytes (an address).
    pub(crate) fn pop_address(&mut self, op: Op) -> Result<[u8; 32], VmErrorKind> {
        self.pop_bytes(op)?
            .try_into()
            .map_err(|_| VmErrorKind::OutOfRange(op))
    }

    pub(crate) fn top(&self) -> Option<&Value> {
        self.items.last()
    }

    pub(crate) fn take_top(&mut self) -> Option<Value> {
        let v = self.items.pop()?;
        self.bytes = self.bytes.saturating_sub(v.footprint());
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_enforced_on_push() {
        let mut s = Stack::default();
        for _ in 0..MAX_STACK {
            s.push_bool(true).unwrap();
        }
        assert_eq!(s.push_bool(true), Err(VmErrorKind::StackOverflow));

        let mut s = Stack::default();
        assert!(s.push(Value::Bytes(vec![0; MAX_ITEM_BYTES])).is_ok());
        assert_eq!(
            s.push(Value::Bytes(vec![0; MAX_ITEM_BYTES + 1])),
            Err(VmErrorKind::ItemTooLarge {
                size: MAX_ITEM_BYTES + 1
            })
        );
        for _ in 1..MAX_STACK_BYTES / MAX_ITEM_BYTES {
            s.push(Value::Bytes(vec![0; MAX_ITEM_BYTES])).unwrap();
        }
        assert_eq!(s.push(Value::Bytes(vec![1])), Err(VmErrorKind::MemoryLimit));
        s.pop(Op::Drop).unwrap();
        assert!(s.push(Value::Bytes(vec![1])).is_ok());
    }

    #[test]
    fn underflow_names_the_op() {
        let mut s = Stack::default();
        assert_eq!(s.pop(Op::Add), Err(VmErrorKind::StackUnderflow(Op::Add)));
    }
}
