//! The native token: transfers between accounts.

use crate::error::{ExecError, fail_codes};
use crate::overlay::Overlay;
use umbra_types::{Address, Amount, Event};

/// A call failure: the transaction is included and pays its fee, but its
/// effects are discarded.
pub struct CallFailure {
    pub code: u16,
    pub reason: String,
}

/// Moves `amount` from `from` to `to`.
pub fn transfer(
    state: &mut Overlay<'_>,
    from: &Address,
    to: &Address,
    amount: Amount,
) -> Result<Result<Vec<Event>, CallFailure>, ExecError> {
    let mut sender = state.account(from)?;
    if sender.balance < amount {
        return Ok(Err(CallFailure {
            code: fail_codes::INSUFFICIENT_BALANCE,
            reason: format!("balance {} is below the amount {amount}", sender.balance),
        }));
    }
    sender.balance -= amount;
    state.set_account(from, &sender);
    let mut receiver = state.account(to)?;
    let Some(nb) = receiver.balance.checked_add(amount) else {
        return Ok(Err(CallFailure {
            code: fail_codes::BALANCE_OVERFLOW,
            reason: "receiver balance would overflow".into(),
        }));
    };
    receiver.balance = nb;
    state.set_account(to, &receiver);
    Ok(Ok(vec![Event::Transfer {
        from: *from,
        to: *to,
        amount,
    }]))
}
