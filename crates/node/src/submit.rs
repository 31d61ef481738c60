//! Admission of submitted transactions: every check a transaction must pass
//! before it enters the mempool, each failure with its RPC code.

use crate::chain::Chain;
use crate::mempool::{Admission, Mempool, Rejection};
use parking_lot::Mutex;
use umbra_crypto::{verify_transaction, verify_transactions_parallel};
use umbra_rpc::ErrorCode;
use umbra_runtime::{TxInvalid, check_stateless, required_fee};
use umbra_types::{DecodeError, Hash, Payload, Transaction, decode_bounded};

/// A refused submission: code (see `docs/RPC.md`) and a human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitError {
    pub code: i32,
    pub message: String,
}

impl SubmitError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        SubmitError {
            code: code.code(),
            message: message.into(),
        }
    }
}

impl From<Rejection> for SubmitError {
    fn from(r: Rejection) -> Self {
        SubmitError {
            code: r.code(),
            message: r.to_string(),
        }
    }
}

impl From<TxInvalid> for SubmitError {
    fn from(r: TxInvalid) -> Self {
        Rejection::Invalid(r).into()
    }
}

/// Parses the hex of a borsh-encoded transaction, bounded by `max_tx_bytes`.
pub fn decode_tx_hex(hex_str: &str, max_tx_bytes: u64) -> Result<Transaction, SubmitError> {
    let s = hex_str.strip_prefix("0x").unwrap_or(hex_str);
    // Check the size before decoding the hex, so a huge string allocates nothing.
    if s.len() as u64 > max_tx_bytes.saturating_mul(2) {
        return Err(SubmitError::new(
            ErrorCode::TxTooLarge,
            format!(
                "transaction is {} bytes, over the limit of {max_tx_bytes}",
                s.len() / 2
            ),
        ));
    }
    let bytes = hex::decode(s).map_err(|e| {
        SubmitError::new(
            ErrorCode::MalformedHex,
            format!("transaction is not valid hex: {e}"),
        )
    })?;
    decode_bounded::<Transaction>(&bytes, max_tx_bytes as usize).map_err(|e| match e {
        DecodeError::TooLarge { .. } => SubmitError::new(ErrorCode::TxTooLarge, e.to_string()),
        DecodeError::Malformed(m) => SubmitError::new(
            ErrorCode::DecodeFailed,
            format!("transaction does not decode: {m}"),
        ),
    })
}

/// Checks a decoded transaction whose signature is already verified and adds
/// it to the mempool.
pub fn admit(
    chain: &Chain,
    mempool: &Mutex<Mempool>,
    tx: Transaction,
) -> Result<(Hash, Admission), SubmitError> {
    let params = chain.params();
    check_stateless(&tx, chain.spec().chain_id, params)?;
    chain.check_ref_block(&tx)?;
    let fee = required_fee(params, &tx);
    if tx.max_fee < fee {
        return Err(TxInvalid::FeeTooLow {
            max_fee: tx.max_fee,
            required: fee,
        }
        .into());
    }
    let acct = chain
        .account(&tx.sender_address())
        .map_err(|e| SubmitError::new(ErrorCode::Internal, e.to_string()))?;
    if tx.nonce < acct.nonce {
        return Err(TxInvalid::NonceTooLow {
            expected: acct.nonce,
            got: tx.nonce,
        }
        .into());
    }
    let cost = match &tx.payload {
        Payload::Transfer { amount, .. } => fee.saturating_add(*amount),
        // What a gate charges is only known when it runs; the fee is the
        // least the sender must hold.
        _ => fee,
    };
    if acct.balance < cost {
        return Err(TxInvalid::InsufficientBalance {
            needed: cost,
            available: acct.balance,
        }
        .into());
    }
    let hash = tx.hash();
    if chain.store().tx_location(&hash).ok().flatten().is_some() {
        return Err(Rejection::AlreadyKnown.into());
    }
    let adm = mempool.lock().insert(tx, hash, acct.nonce)?;
    // Every caller verified the signature before admitting.
    chain.mark_verified(hash);
    Ok((hash, adm))
}

/// Decodes, verifies and admits one transaction.
pub fn submit_one(
    chain: &Chain,
    mempool: &Mutex<Mempool>,
    hex_str: &str,
) -> Result<(Hash, Admission), SubmitError> {
    let tx = decode_tx_hex(hex_str, chain.params().max_tx_bytes)?;
    verify_transaction(&tx)
        .map_err(|e| SubmitError::new(ErrorCode::BadSignature, e.to_string()))?;
    admit(chain, mempool, tx)
}

/// Submits many transactions, verifying their signatures in parallel batches.
pub fn submit_many(
    chain: &Chain,
    mempool: &Mutex<Mempool>,
    hexes: &[String],
) -> Vec<Result<(Hash, Admission), SubmitError>> {
    let decoded: Vec<Result<Transaction, SubmitError>> = hexes
        .iter()
        .map(|h| decode_tx_hex(h, chain.params().max_tx_bytes))
        .collect();
    let txs: Vec<Transaction> = decoded.iter().flatten().cloned().collect();
    let mut verdicts = verify_transactions_parallel(&txs).into_iter();
    decoded
        .into_iter()
        .map(|r| {
            let tx = r?;
            if verdicts.next() != Some(true) {
                // Verify alone for the precise reason (bad key vs bad signature).
                verify_transaction(&tx)
                    .map_err(|e| SubmitError::new(ErrorCode::BadSignature, e.to_string()))?;
            }
            admit(chain, mempool, tx)
        })
        .collect()
}
