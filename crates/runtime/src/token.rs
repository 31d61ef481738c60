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

/// Takes `amount` from `from` for a deposit, lock or payment; `false` (and
/// nothing changed) if the balance is short.
pub(crate) fn debit(
    state: &mut Overlay<'_>,
    from: &Address,
    amount: Amount,
) -> Result<bool, ExecError> {
    let mut acct = state.account(from)?;
    if acct.balance < amount {
        return Ok(false);
    }
    acct.balance -= amount;
    state.set_account(from, &acct);
    Ok(true)
}

/// Gives back what [`debit`] took (refunds, slashed deposits). Saturating:
/// the tokens came out of balances, so the total cannot overflow.
pub(crate) fn credit(
    state: &mut Overlay<'_>,
    to: &Address,
    amount: Amount,
) -> Result<(), ExecError> {
    let mut acct = state.account(to)?;
    acct.balance = acct.balance.saturating_add(amount);
    state.set_account(to, &acct);
    Ok(())
}
