//! JSON shapes of chain objects. Amounts are decimal strings of base units
//! (u128 does not fit a JSON number safely); hashes are lowercase hex.

use serde::{Deserialize, Serialize};
use umbra_types::{
    Address, Block, Event, Hash, Header, Payload, Receipt, Transaction, TxStatus, format_amount,
};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct HeaderView {
    pub hash: Hash,
    pub height: u64,
    pub parent_hash: Hash,
    pub timestamp_ms: u64,
    pub proposer: Address,
    pub tx_root: Hash,
    pub state_root: Hash,
    pub receipts_root: Hash,
    pub consensus: String,
    pub signature: String,
}

impl From<&Header> for HeaderView {
    fn from(h: &Header) -> Self {
        HeaderView {
            hash: h.hash(),
            height: h.height,
            parent_hash: h.parent_hash,
            timestamp_ms: h.timestamp_ms,
            proposer: h.proposer.address(),
            tx_root: h.tx_root,
            state_root: h.state_root,
            receipts_root: h.receipts_root,
            consensus: hex::encode(&h.consensus),
            signature: h.signature.to_hex(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TxView {
    pub hash: Hash,
    pub chain_id: u64,
    pub sender: Address,
    pub sender_key: String,
    pub nonce: u64,
    pub ref_block_height: u64,
    pub ref_block_prefix: String,
    pub max_fee: String,
    /// The call: `transfer`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
}

impl From<&Transaction> for TxView {
    fn from(tx: &Transaction) -> Self {
        let (to, amount) = match &tx.payload {
            Payload::Transfer { to, amount } => (Some(*to), Some(amount.to_string())),
        };
        TxView {
            hash: tx.hash(),
            chain_id: tx.chain_id,
            sender: tx.sender_address(),
            sender_key: tx.sender.to_hex(),
            nonce: tx.nonce,
            ref_block_height: tx.ref_block.height,
            ref_block_prefix: hex::encode(tx.ref_block.hash_prefix),
            max_fee: tx.max_fee.to_string(),
            kind: tx.payload.kind().to_string(),
            to,
            amount,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventView {
    Transfer {
        from: Address,
        to: Address,
        amount: String,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReceiptView {
    /// `success` or `failed`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_reason: Option<String>,
    pub fee_paid: String,
    pub events: Vec<EventView>,
}

impl From<&Receipt> for ReceiptView {
    fn from(r: &Receipt) -> Self {
        let (status, fail_code, fail_reason) = match &r.status {
            TxStatus::Success => ("success".to_string(), None, None),
            TxStatus::Failed { code, reason } => {
                ("failed".to_string(), Some(*code), Some(reason.clone()))
            }
        };
        ReceiptView {
            status,
            fail_code,
            fail_reason,
            fee_paid: r.fee_paid.to_string(),
            events: r
                .events
                .iter()
                .map(|e| match e {
                    Event::Transfer { from, to, amount } => EventView::Transfer {
                        from: *from,
                        to: *to,
                        amount: amount.to_string(),
                    },
                })
                .collect(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct BlockView {
    pub header: HeaderView,
    pub transactions: Vec<TxView>,
}

impl From<&Block> for BlockView {
    fn from(b: &Block) -> Self {
        BlockView {
            header: (&b.header).into(),
            transactions: b.transactions.iter().map(Into::into).collect(),
        }
    }
}

/// Where a transaction is: in a block, ready in the mempool, or held in the
/// mempool waiting for an earlier nonce.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TxState {
    Included,
    Pending,
    Queued,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TxLookup {
    pub status: TxState,
    pub tx: TxView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<ReceiptView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_height: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_hash: Option<Hash>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccountView {
    pub address: Address,
    /// Base units.
    pub balance: String,
    /// With 9 decimals.
    pub balance_display: String,
    /// Nonce of the account's next transaction in the chain state.
    pub nonce: u64,
    /// Next nonce counting transactions ready in the mempool.
    pub pending_nonce: u64,
    pub height: u64,
}

impl AccountView {
    pub fn new(
        address: Address,
        balance: u128,
        nonce: u64,
        pending_nonce: u64,
        height: u64,
    ) -> Self {
        AccountView {
            address,
            balance: balance.to_string(),
            balance_display: format_amount(balance),
            nonce,
            pending_nonce,
            height,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatusView {
    pub chain_id: u64,
    pub version: String,
    pub height: u64,
    pub head_hash: Hash,
    pub irreversible_height: u64,
    pub peers: u64,
    pub consensus: String,
    pub block_time_ms: u64,
    pub mempool_ready: u64,
    pub mempool_queued: u64,
    /// Whether this node proposes blocks.
    pub producing: bool,
    /// The block executor and its scheduling counters.
    #[serde(default)]
    pub executor: ExecutorView,
}

/// The executor as `node_status` shows it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExecutorView {
    /// `parallel` or `sequential`.
    pub kind: String,
    pub threads: u64,
    /// Runs of transactions executed on several threads.
    pub parallel_phases: u64,
    /// Runs executed on one thread (one group dominated, or too short).
    pub sequential_phases: u64,
    /// Transactions re-run because they touched undeclared state.
    pub rerun_txs: u64,
    /// Blocks re-executed sequentially by the safety net.
    pub full_fallbacks: u64,
}

/// One entry of a `tx_submitBatch` answer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SubmitOutcome {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<Hash>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<SubmitError>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SubmitError {
    pub code: i32,
    pub message: String,
}
