//! The election methods of the RPC. Election calls themselves are ordinary
//! transactions (`tx_submit`); this reads the candidate table.

use crate::rpc_server::{RpcContext, internal};
use jsonrpsee::RpcModule;
use jsonrpsee::types::ErrorObjectOwned;
use umbra_rpc::{CandidateView, CandidatesView};
use umbra_runtime::election;

pub fn register(m: &mut RpcModule<RpcContext>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    m.register_method(
        "election_candidates",
        |_, ctx, _| -> Result<CandidatesView, ErrorObjectOwned> {
            let head = ctx.chain.head();
            let params = ctx.chain.params();
            let state = ctx.chain.store().state_at(head.height);
            let n = usize::try_from(params.miners).unwrap_or(usize::MAX);
            let elected = election::elected(&state, n).map_err(internal)?;
            let candidates = election::candidates(&state)
                .map_err(internal)?
                .into_iter()
                .map(|c| CandidateView {
                    key: c.key.to_hex(),
                    address: c.key.address(),
                    deposit: c.record.deposit.to_string(),
                    votes: c.record.votes.to_string(),
                    active: c.record.active,
                    slashed: c.record.slashed,
                    announced_height: c.record.announced_height,
                    elected: elected.contains(&c.key),
                })
                .collect();
            Ok(CandidatesView {
                height: head.height,
                miners: params.miners,
                deposit: params.candidate_deposit.to_string(),
                min_vote_lock_ms: params.min_vote_lock_ms,
                candidates,
            })
        },
    )?;
    Ok(())
}
