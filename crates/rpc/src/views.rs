//! JSON shapes of chain objects. Amounts are decimal strings of base units
//! (u128 does not fit a JSON number safely); hashes are lowercase hex.

use serde::{Deserialize, Serialize};
use umbra_types::{
    Address, Block, Event, Hash, Header, MessageBody, Payload, Receipt, Transaction, TxStatus,
    format_amount,
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
    /// The call: `transfer`, `box_create`, `box_set_gate`, `box_push`,
    /// `box_pull`, `box_delete`, `box_replace`, `box_allow`,
    /// `set_encryption_key`, `election_announce`, `election_quit`,
    /// `election_vote`, `election_withdraw`, `election_report`,
    /// `storage_alloc`, `storage_renew`, `storage_collect`,
    /// `storage_register`, `storage_unregister`, `storage_grant`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// The box a box call addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub box_name: Option<String>,
    /// The gate a `box_set_gate` sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
    /// The message index of a pull, delete or replace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// Size of the pushed body or gate script, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The candidate (public key, hex) an election vote is for, or the
    /// miner an equivocation report accuses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<String>,
    /// How long an election vote locks its amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_ms: Option<u64>,
    /// The content a storage call addresses (a grant's reader is `to`, an
    /// allocation's content size is `size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<Hash>,
    /// The period a storage allocation or renewal buys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_ms: Option<u64>,
}

impl From<&Transaction> for TxView {
    fn from(tx: &Transaction) -> Self {
        let (mut to, mut amount, mut gate, mut index, mut size) = (None, None, None, None, None);
        let (mut candidate, mut lock_ms, mut period_ms) = (None, None, None);
        let body_len = |b: &MessageBody| b.stored_len() as u64;
        match &tx.payload {
            Payload::Transfer { to: t, amount: a } => {
                to = Some(*t);
                amount = Some(a.to_string());
            }
            Payload::BoxCreate { .. } | Payload::SetEncryptionKey { .. } => {}
            Payload::BoxSetGate { kind, code, .. } => {
                gate = Some(kind.as_str().to_string());
                size = Some(code.len() as u64);
            }
            Payload::BoxPush { body, .. } => size = Some(body_len(body)),
            Payload::BoxPull { index: i, .. } => index = *i,
            Payload::BoxDelete { index: i, .. } => index = Some(*i),
            Payload::BoxReplace { index: i, body, .. } => {
                index = Some(*i);
                size = Some(body_len(body));
            }
            Payload::BoxAllow { address, .. } => to = Some(*address),
            Payload::ElectionAnnounce | Payload::ElectionQuit => {}
            Payload::ElectionVote {
                candidate: c,
                amount: a,
                lock_ms: l,
            } => {
                candidate = Some(c.to_hex());
                amount = Some(a.to_string());
                lock_ms = Some(*l);
            }
            Payload::ElectionWithdraw { vote } => index = Some(*vote),
            Payload::ElectionReport { first, .. } => candidate = Some(first.proposer.to_hex()),
            Payload::StorageAlloc {
                size: s,
                period_ms: p,
                ..
            } => {
                size = Some(*s);
                period_ms = Some(*p);
            }
            Payload::StorageRenew { period_ms: p, .. } => period_ms = Some(*p),
            Payload::StorageGrant { reader, .. } => to = Some(*reader),
            Payload::StorageCollect { .. }
            | Payload::StorageRegister { .. }
            | Payload::StorageUnregister => {}
        }
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
            box_name: tx.payload.box_name().map(str::to_string),
            gate,
            index,
            candidate,
            lock_ms,
            size,
            content_id: tx.payload.content_id().copied(),
            period_ms,
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
    BoxCreated {
        name: String,
        owner: Address,
        id: u64,
    },
    GateSet {
        name: String,
        gate: String,
        gas_bound: u64,
    },
    MessagePushed {
        name: String,
        index: u64,
        from: Address,
    },
    MessagePulled {
        name: String,
        index: u64,
        reader: Address,
    },
    MessageDeleted {
        name: String,
        index: u64,
    },
    MessageReplaced {
        name: String,
        index: u64,
    },
    GatePaid {
        name: String,
        payer: Address,
        owner: Address,
        to_owner: String,
        to_pool: String,
    },
    AllowListChanged {
        name: String,
        address: Address,
        allowed: bool,
    },
    EncryptionKeySet {
        account: Address,
        key: String,
    },
    /// Keys are hex public keys; amounts base units as decimal strings.
    CandidateAnnounced {
        candidate: String,
        deposit: String,
    },
    CandidateQuit {
        candidate: String,
        refund: String,
    },
    Voted {
        voter: Address,
        candidate: String,
        vote: u64,
        amount: String,
        unlock_ms: u64,
    },
    VoteWithdrawn {
        voter: Address,
        vote: u64,
        amount: String,
    },
    MinerSlashed {
        miner: String,
        reporter: Address,
        to_reporter: String,
        to_pool: String,
    },
    /// `paid` (base units) goes to the storage pool.
    StorageAllocated {
        content_id: Hash,
        owner: Address,
        expires_ms: u64,
        paid: String,
    },
    StorageRenewed {
        content_id: Hash,
        payer: Address,
        expires_ms: u64,
        paid: String,
    },
    StorageCollected {
        content_id: Hash,
        owner: Address,
        collector: Address,
    },
    StorageGranted {
        content_id: Hash,
        reader: Address,
    },
    /// `peer_id_hex` is the libp2p peer id's bytes; `deposit` is what this
    /// call locked (0 for an update).
    StorageNodeRegistered {
        operator: Address,
        peer_id_hex: String,
        deposit: String,
    },
    StorageNodeUnregistered {
        operator: Address,
        refund: String,
    },
}

impl From<&Event> for EventView {
    fn from(e: &Event) -> Self {
        match e.clone() {
            Event::Transfer { from, to, amount } => EventView::Transfer {
                from,
                to,
                amount: amount.to_string(),
            },
            Event::BoxCreated { name, owner, id } => EventView::BoxCreated { name, owner, id },
            Event::GateSet {
                name,
                kind,
                gas_bound,
            } => EventView::GateSet {
                name,
                gate: kind.as_str().to_string(),
                gas_bound,
            },
            Event::MessagePushed { name, index, from } => {
                EventView::MessagePushed { name, index, from }
            }
            Event::MessagePulled {
                name,
                index,
                reader,
            } => EventView::MessagePulled {
                name,
                index,
                reader,
            },
            Event::MessageDeleted { name, index } => EventView::MessageDeleted { name, index },
            Event::MessageReplaced { name, index } => EventView::MessageReplaced { name, index },
            Event::GatePaid {
                name,
                payer,
                owner,
                to_owner,
                to_pool,
            } => EventView::GatePaid {
                name,
                payer,
                owner,
                to_owner: to_owner.to_string(),
                to_pool: to_pool.to_string(),
            },
            Event::AllowListChanged {
                name,
                address,
                allowed,
            } => EventView::AllowListChanged {
                name,
                address,
                allowed,
            },
            Event::EncryptionKeySet { account, key } => EventView::EncryptionKeySet {
                account,
                key: hex::encode(key),
            },
            Event::CandidateAnnounced { candidate, deposit } => EventView::CandidateAnnounced {
                candidate: candidate.to_hex(),
                deposit: deposit.to_string(),
            },
            Event::CandidateQuit { candidate, refund } => EventView::CandidateQuit {
                candidate: candidate.to_hex(),
                refund: refund.to_string(),
            },
            Event::Voted {
                voter,
                candidate,
                vote,
                amount,
                unlock_ms,
            } => EventView::Voted {
                voter,
                candidate: candidate.to_hex(),
                vote,
                amount: amount.to_string(),
                unlock_ms,
            },
            Event::VoteWithdrawn {
                voter,
                vote,
                amount,
            } => EventView::VoteWithdrawn {
                voter,
                vote,
                amount: amount.to_string(),
            },
            Event::MinerSlashed {
                miner,
                reporter,
                to_reporter,
                to_pool,
            } => EventView::MinerSlashed {
                miner: miner.to_hex(),
                reporter,
                to_reporter: to_reporter.to_string(),
                to_pool: to_pool.to_string(),
            },
            Event::StorageAllocated {
                content_id,
                owner,
                expires_ms,
                paid,
            } => EventView::StorageAllocated {
                content_id,
                owner,
                expires_ms,
                paid: paid.to_string(),
            },
            Event::StorageRenewed {
                content_id,
                payer,
                expires_ms,
                paid,
            } => EventView::StorageRenewed {
                content_id,
                payer,
                expires_ms,
                paid: paid.to_string(),
            },
            Event::StorageCollected {
                content_id,
                owner,
                collector,
            } => EventView::StorageCollected {
                content_id,
                owner,
                collector,
            },
            Event::StorageGranted { content_id, reader } => {
                EventView::StorageGranted { content_id, reader }
            }
            Event::StorageNodeRegistered {
                operator,
                peer_id,
                deposit,
            } => EventView::StorageNodeRegistered {
                operator,
                peer_id_hex: hex::encode(peer_id),
                deposit: deposit.to_string(),
            },
            Event::StorageNodeUnregistered { operator, refund } => {
                EventView::StorageNodeUnregistered {
                    operator,
                    refund: refund.to_string(),
                }
            }
        }
    }
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
            events: r.events.iter().map(Into::into).collect(),
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
    /// AEDPoS round and term after the head (absent for solo chains).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<u64>,
    /// When this node may next produce (Unix ms), if it is a miner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_slot_ms: Option<u64>,
    /// This node's libp2p peer id, when it is on a network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_id: Option<String>,
    /// Blocks of other branches kept for fork choice.
    #[serde(default)]
    pub side_blocks: u64,
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
