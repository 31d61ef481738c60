//! Elections of miners (aelf's terms): accounts announce candidacy by
//! locking a deposit, anyone votes by locking tokens for a while, and at
//! each term change the consensus engine takes the top `miners` candidates
//! by votes ([`elected`]). A miner caught signing two blocks at one height
//! loses its deposit: a share to whoever reports it, the rest to the reward
//! pool.
//!
//! Must not: decide consensus. This module only keeps the record; AEDPoS
//! reads [`elected`] as an input at term boundaries.

pub mod keys;
pub mod records;

#[cfg(test)]
mod tests;

pub use records::{Candidate, Vote};

use crate::boxes::ops::CallResult;
use crate::boxes::state::{load, store};
use crate::error::{ExecError, fail_codes};
use crate::overlay::Overlay;
use crate::params::ChainParams;
use crate::token::{CallFailure, credit, debit};
use umbra_storage::StateView;
use umbra_types::{Address, Amount, Event, Header, Height, PublicKey, Transaction};

/// Percent of a slashed deposit paid to the reporter; the rest goes to the
/// reward pool.
pub const REPORTER_SHARE_PERCENT: Amount = 10;

/// What an election call sees of its block.
pub struct ElectionEnv<'a> {
    pub chain_id: u64,
    pub height: Height,
    pub timestamp_ms: u64,
    pub params: &'a ChainParams,
}

fn fail(code: u16, reason: impl Into<String>) -> CallResult {
    Ok(Err(CallFailure {
        code,
        reason: reason.into(),
    }))
}

/// Runs an election call of `tx` (the sender's key matters: candidates
/// are keys, because miners sign blocks with them).
pub fn dispatch(state: &mut Overlay<'_>, env: &ElectionEnv<'_>, tx: &Transaction) -> CallResult {
    let key = tx.sender;
    let from = tx.sender_address();
    match &tx.payload {
        umbra_types::Payload::ElectionAnnounce => announce(state, env, &key, &from),
        umbra_types::Payload::ElectionQuit => quit(state, &key, &from),
        umbra_types::Payload::ElectionVote {
            candidate,
            amount,
            lock_ms,
        } => vote(state, env, &from, candidate, *amount, *lock_ms),
        umbra_types::Payload::ElectionWithdraw { vote } => withdraw(state, env, &from, *vote),
        umbra_types::Payload::ElectionReport { first, second } => {
            report(state, env, &from, first, second)
        }
        _ => Err(ExecError::Internal(
            "non-election call sent to the election module".into(),
        )),
    }
}

fn announce(
    state: &mut Overlay<'_>,
    env: &ElectionEnv<'_>,
    key: &PublicKey,
    from: &Address,
) -> CallResult {
    let mut c: Candidate = load(state, &keys::candidate(key))?.unwrap_or_default();
    if c.slashed {
        return fail(
            fail_codes::SLASHED,
            "this key was slashed and cannot stand again",
        );
    }
    if c.active {
        return fail(fail_codes::ALREADY_CANDIDATE, "already a candidate");
    }
    let mut list: Vec<PublicKey> = load(state, &keys::candidate_list())?.unwrap_or_default();
    if !list.contains(key) {
        if list.len() as u64 >= env.params.max_candidates {
            return fail(
                fail_codes::TOO_MANY_CANDIDATES,
                format!("the chain allows {} candidates", env.params.max_candidates),
            );
        }
        list.push(*key);
        store(state, keys::candidate_list(), &list);
    }
    let deposit = env.params.candidate_deposit;
    if !debit(state, from, deposit)? {
        return fail(
            fail_codes::INSUFFICIENT_BALANCE,
            format!("the candidate deposit is {deposit}"),
        );
    }
    c.deposit = deposit;
    c.active = true;
    c.announced_height = env.height;
    store(state, keys::candidate(key), &c);
    Ok(Ok(vec![Event::CandidateAnnounced {
        candidate: *key,
        deposit,
    }]))
}

fn quit(state: &mut Overlay<'_>, key: &PublicKey, from: &Address) -> CallResult {
    let Some(mut c) = load::<Candidate>(state, &keys::candidate(key))?.filter(|c| c.active) else {
        return fail(fail_codes::NOT_CANDIDATE, "not a candidate");
    };
    let refund = std::mem::take(&mut c.deposit);
    c.active = false;
    store(state, keys::candidate(key), &c);
    credit(state, from, refund)?;
    Ok(Ok(vec![Event::CandidateQuit {
        candidate: *key,
        refund,
    }]))
}

fn vote(
    state: &mut Overlay<'_>,
    env: &ElectionEnv<'_>,
    from: &Address,
    candidate: &PublicKey,
    amount: Amount,
    lock_ms: u64,
) -> CallResult {
    if amount == 0 {
        return fail(fail_codes::BAD_VOTE, "a vote must lock a positive amount");
    }
    if lock_ms < env.params.min_vote_lock_ms {
        return fail(
            fail_codes::BAD_VOTE,
            format!("votes lock for at least {} ms", env.params.min_vote_lock_ms),
        );
    }
    let Some(mut c) = load::<Candidate>(state, &keys::candidate(candidate))?.filter(|c| c.active)
    else {
        return fail(fail_codes::NOT_CANDIDATE, "that key is not a candidate");
    };
    let id: u64 = load(state, &keys::vote_count(from))?.unwrap_or(0);
    if id >= env.params.max_votes_per_account {
        return fail(
            fail_codes::BAD_VOTE,
            format!(
                "an account casts at most {} votes",
                env.params.max_votes_per_account
            ),
        );
    }
    if !debit(state, from, amount)? {
        return fail(
            fail_codes::INSUFFICIENT_BALANCE,
            "balance below the vote amount",
        );
    }
    c.votes = c.votes.saturating_add(amount);
    store(state, keys::candidate(candidate), &c);
    let unlock_ms = env.timestamp_ms.saturating_add(lock_ms);
    store(
        state,
        keys::vote(from, id),
        &Vote {
            candidate: *candidate,
            amount,
            unlock_ms,
            withdrawn: false,
        },
    );
    store(state, keys::vote_count(from), &(id + 1));
    Ok(Ok(vec![Event::Voted {
        voter: *from,
        candidate: *candidate,
        vote: id,
        amount,
        unlock_ms,
    }]))
}

fn withdraw(state: &mut Overlay<'_>, env: &ElectionEnv<'_>, from: &Address, id: u64) -> CallResult {
    let Some(mut v) = load::<Vote>(state, &keys::vote(from, id))?.filter(|v| !v.withdrawn) else {
        return fail(fail_codes::BAD_VOTE, format!("no open vote {id}"));
    };
    if env.timestamp_ms < v.unlock_ms {
        return fail(
            fail_codes::VOTE_LOCKED,
            format!("vote {id} is locked until {} ms", v.unlock_ms),
        );
    }
    v.withdrawn = true;
    store(state, keys::vote(from, id), &v);
    if let Some(mut c) = load::<Candidate>(state, &keys::candidate(&v.candidate))? {
        c.votes = c.votes.saturating_sub(v.amount);
        store(state, keys::candidate(&v.candidate), &c);
    }
    credit(state, from, v.amount)?;
    Ok(Ok(vec![Event::VoteWithdrawn {
        voter: *from,
        vote: id,
        amount: v.amount,
    }]))
}

/// Whether two headers prove their proposer signed two blocks at one
/// height on this chain.
pub fn is_equivocation(chain_id: u64, a: &Header, b: &Header) -> bool {
    a.chain_id == chain_id
        && b.chain_id == chain_id
        && a.proposer == b.proposer
        && a.height == b.height
        && a.hash() != b.hash()
        && umbra_crypto::verify(&a.proposer, &a.signing_hash(), &a.signature).is_ok()
        && umbra_crypto::verify(&b.proposer, &b.signing_hash(), &b.signature).is_ok()
}

fn report(
    state: &mut Overlay<'_>,
    env: &ElectionEnv<'_>,
    from: &Address,
    first: &Header,
    second: &Header,
) -> CallResult {
    if !is_equivocation(env.chain_id, first, second) {
        return fail(
            fail_codes::BAD_EVIDENCE,
            "not two validly signed, different headers of one proposer at one height",
        );
    }
    let miner = first.proposer;
    let Some(mut c) = load::<Candidate>(state, &keys::candidate(&miner))? else {
        return fail(
            fail_codes::NOT_CANDIDATE,
            "the proposer never stood as a candidate",
        );
    };
    if c.slashed {
        return fail(fail_codes::SLASHED, "already slashed");
    }
    let deposit = std::mem::take(&mut c.deposit);
    c.slashed = true;
    c.active = false;
    store(state, keys::candidate(&miner), &c);
    // Only a share goes to the reporter: were it the whole deposit, a miner
    // could report itself (from any account) and lose nothing.
    let to_reporter = deposit / 100 * REPORTER_SHARE_PERCENT;
    let to_pool = deposit - to_reporter;
    credit(state, from, to_reporter)?;
    credit(state, &crate::fees::reward_pool(), to_pool)?;
    Ok(Ok(vec![Event::MinerSlashed {
        miner,
        reporter: *from,
        to_reporter,
        to_pool,
    }]))
}

/// One row of the candidate table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CandidateInfo {
    pub key: PublicKey,
    pub record: Candidate,
}

/// All candidates ever announced, best first: active before inactive, then
/// by votes (descending), then by key, so every node ranks them alike.
pub fn candidates(state: &dyn StateView) -> Result<Vec<CandidateInfo>, ExecError> {
    let list: Vec<PublicKey> = load(state, &keys::candidate_list())?.unwrap_or_default();
    let mut out = Vec::with_capacity(list.len());
    for key in list {
        if let Some(record) = load::<Candidate>(state, &keys::candidate(&key))? {
            out.push(CandidateInfo { key, record });
        }
    }
    out.sort_by(|a, b| {
        b.record
            .active
            .cmp(&a.record.active)
            .then(b.record.votes.cmp(&a.record.votes))
            .then(a.key.cmp(&b.key))
    });
    Ok(out)
}

/// The miners the election chooses: the top `n` active candidates with
/// votes, or nobody (the engine then keeps its miners) while fewer than
/// `n` qualify — a term must never shrink to a handful of miners because
/// few have stood yet.
pub fn elected(state: &dyn StateView, n: usize) -> Result<Vec<PublicKey>, ExecError> {
    let top: Vec<PublicKey> = candidates(state)?
        .into_iter()
        .filter(|c| c.record.active && c.record.votes > 0)
        .take(n)
        .map(|c| c.key)
        .collect();
    Ok(if top.len() < n || n == 0 {
        Vec::new()
    } else {
        top
    })
}

/// The vote `id` of `voter`, if cast.
pub fn vote_of(state: &dyn StateView, voter: &Address, id: u64) -> Result<Option<Vote>, ExecError> {
    load(state, &keys::vote(voter, id))
}

/// How many votes `voter` has cast.
pub fn votes_cast(state: &dyn StateView, voter: &Address) -> Result<u64, ExecError> {
    Ok(load(state, &keys::vote_count(voter))?.unwrap_or(0))
}
