//! `CALL` and `INSPECT`: running an older box's gate as a nested frame.
//!
//! Only boxes with a smaller id can be entered, so calls form a strictly
//! descending chain and can never recurse; the callee's static bound must fit
//! the budget the caller declared, which is what the caller's own bound
//! counted.

use super::{Fault, Frame, Machine};
use crate::env::{Verb, Verdict};
use crate::error::{VmError, VmErrorKind};
use crate::limits::MAX_CALL_DEPTH;
use crate::opcode::Op;
use crate::script::Script;
use crate::value::Int;

impl Machine<'_> {
    pub(super) fn call(
        &mut self,
        f: &mut Frame<'_>,
        budget: u32,
        inspect: bool,
    ) -> Result<(), Fault> {
        let op = if inspect { Op::Inspect } else { Op::Call };
        let name = f.stack.pop_bytes(op)?;
        let (callee, code) = self
            .host
            .call_target(&name)?
            .ok_or(VmErrorKind::NoSuchBox)?;
        if callee.id >= f.this.id {
            return Err(VmErrorKind::CallNotOlder {
                callee: callee.id,
                this: f.this.id,
            }
            .into());
        }
        let depth = f.depth.saturating_add(1);
        if depth > MAX_CALL_DEPTH {
            return Err(VmErrorKind::CallDepth.into());
        }
        let script = Script::decode(&code).map_err(VmErrorKind::BadScript)?;
        if script.gas_bound() > u64::from(budget) {
            return Err(VmErrorKind::CalleeBound {
                bound: script.gas_bound(),
                budget,
            }
            .into());
        }
        // An inspection stays an inspection all the way down: nothing a
        // nested CALL does may pay or mutate either.
        let verb = if inspect || f.verb == Verb::Inspect {
            Verb::Inspect
        } else {
            Verb::Read
        };
        let cost_before = self.token_cost;
        let verdict = self
            .run_frame(&script, &callee, verb, depth)
            .map_err(Fault::Nested)?;
        if inspect {
            // The callee's PAYs are a quote, not a charge.
            let quote = self.token_cost.saturating_sub(cost_before);
            self.token_cost = cost_before;
            let answer = match verdict {
                Verdict::Pass => Int::from(quote),
                Verdict::Fail => Int::from(-1i32),
            };
            f.stack.push_int(answer)?;
        } else {
            f.stack.push_bool(verdict == Verdict::Pass)?;
        }
        Ok(())
    }
}

// `Fault::Nested` carries errors already located in the callee's frame.
impl From<VmError> for Fault {
    fn from(e: VmError) -> Fault {
        Fault::Nested(e)
    }
}
