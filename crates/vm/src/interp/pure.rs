//! Instructions that only touch the stack: arithmetic, bytes, logic, stack
//! shuffling and hashing.

use sha2::{Digest, Sha256};

use crate::error::VmErrorKind;
use crate::opcode::Op;
use crate::stack::Stack;
use crate::value::{Int, Value};

/// Whether `exec` implements `op`.
pub(super) fn handles(op: Op) -> bool {
    matches!(
        op,
        Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::Mod
            | Op::Min
            | Op::Max
            | Op::Cat
            | Op::Left
            | Op::Right
            | Op::Size
            | Op::Equal
            | Op::Not
            | Op::And
            | Op::Or
            | Op::Lt
            | Op::Gt
            | Op::Let
            | Op::Get
            | Op::Dup
            | Op::Drop
            | Op::Swap
            | Op::Sha256
    )
}

pub(super) fn exec(s: &mut Stack, op: Op) -> Result<(), VmErrorKind> {
    match op {
        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Mod | Op::Min | Op::Max | Op::And | Op::Or => {
            let b = s.pop_int(op)?;
            let a = s.pop_int(op)?;
            s.push_int(arith(op, a, b)?)
        }
        Op::Lt | Op::Gt | Op::Let | Op::Get => {
            let b = s.pop_int(op)?;
            let a = s.pop_int(op)?;
            s.push_bool(match op {
                Op::Lt => a < b,
                Op::Gt => a > b,
                Op::Let => a <= b,
                _ => a >= b,
            })
        }
        Op::Equal => {
            let b = s.pop(op)?.into_bytes();
            let a = s.pop(op)?.into_bytes();
            s.push_bool(a == b)
        }
        // Logical, not bitwise: bitwise NOT of 1 is -2, which is truthy.
        Op::Not => {
            let v = s.pop(op)?;
            s.push_bool(!v.is_truthy())
        }
        Op::Cat => {
            let b = s.pop_bytes(op)?;
            let mut a = s.pop_bytes(op)?;
            // Check before allocating the joined item.
            let size = a.len().saturating_add(b.len());
            if size > crate::limits::MAX_ITEM_BYTES {
                return Err(VmErrorKind::ItemTooLarge { size });
            }
            a.extend_from_slice(&b);
            s.push(Value::Bytes(a))
        }
        Op::Left | Op::Right => {
            let n = s.pop_int(op)?;
            let bytes = s.pop_bytes(op)?;
            let n = byte_count(n, bytes.len()).ok_or(VmErrorKind::OutOfRange(op))?;
            let part = if op == Op::Left {
                bytes.get(..n)
            } else {
                bytes.get(bytes.len().saturating_sub(n)..)
            };
            s.push(Value::Bytes(
                part.ok_or(VmErrorKind::OutOfRange(op))?.to_vec(),
            ))
        }
        Op::Size => {
            let v = s.pop(op)?;
            s.push_int(Int::from(u64::try_from(v.byte_len()).unwrap_or(u64::MAX)))
        }
        Op::Dup => {
            let v = s.top().cloned().ok_or(VmErrorKind::StackUnderflow(op))?;
            s.push(v)
        }
        Op::Drop => s.pop(op).map(drop),
        Op::Swap => {
            let b = s.pop(op)?;
            let a = s.pop(op)?;
            s.push(b)?;
            s.push(a)
        }
        Op::Sha256 => {
            let d = Sha256::digest(s.pop_bytes(op)?);
            s.push(Value::Bytes(d.to_vec()))
        }
        _ => Err(VmErrorKind::OutOfRange(op)),
    }
}

fn arith(op: Op, a: Int, b: Int) -> Result<Int, VmErrorKind> {
    let checked = |r: Option<Int>| r.ok_or(VmErrorKind::Overflow);
    match op {
        Op::Add => checked(a.checked_add(b)),
        Op::Sub => checked(a.checked_sub(b)),
        Op::Mul => checked(a.checked_mul(b)),
        // Truncating division, remainder takes the dividend's sign (as Rust);
        // MIN / -1 is the one overflow.
        Op::Div | Op::Mod if b == Int::ZERO => Err(VmErrorKind::DivisionByZero),
        Op::Div => checked(a.checked_div(b)),
        Op::Mod => checked(a.checked_rem(b)),
        Op::Min => Ok(a.min(b)),
        Op::Max => Ok(a.max(b)),
        Op::And => Ok(a & b),
        Op::Or => Ok(a | b),
        _ => Err(VmErrorKind::OutOfRange(op)),
    }
}

/// `n` as a count of bytes in `0..=len`.
fn byte_count(n: Int, len: usize) -> Option<usize> {
    if n < Int::ZERO || n > Int::from(u64::try_from(len).ok()?) {
        return None;
    }
    usize::try_from(n.as_u64()).ok()
}
