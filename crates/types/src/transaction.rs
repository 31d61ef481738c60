//! Transactions: what a user signs and submits.

use crate::boxes::{GateKind, MessageBody};
use crate::hash::{Hash, sha256, sha256_parts};
use crate::keys::{Address, PublicKey, Signature};
use crate::storage::{Priority, StorageMode};
use crate::{Amount, ChainId, Height, codec};
use borsh::{BorshDeserialize, BorshSerialize};

/// Domain separator for transaction signatures, so a transaction signature
/// can never be reused as a block signature or anything else.
pub const TX_SIGNING_DOMAIN: &[u8] = b"umbra/tx/v1";

/// A recent block a transaction is anchored to. The transaction is valid only
/// while that block is on the chain and at most the validity window old, so a
/// transaction cannot be replayed on a fork or held back for ever.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
pub struct RefBlock {
    pub height: Height,
    /// First 4 bytes of the referenced block's hash.
    pub hash_prefix: [u8; 4],
}

impl RefBlock {
    pub fn new(height: Height, hash: &Hash) -> Self {
        let mut p = [0u8; 4];
        p.copy_from_slice(&hash.0[..4]);
        RefBlock {
            height,
            hash_prefix: p,
        }
    }
}

/// What a transaction does. New call types are appended as new variants so old
/// encodings stay valid.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Payload {
    /// Move native tokens from the sender to `to`.
    Transfer { to: Address, amount: Amount },
    /// Create a box named `name`, owned by the sender, for the creation fee.
    BoxCreate { name: String },
    /// Set or replace one of a box's gates (owner only). `code` is gate VM
    /// bytecode; an empty `code` removes the gate (back to the default).
    BoxSetGate {
        name: String,
        kind: GateKind,
        code: Vec<u8>,
    },
    /// Push a message into a box, through its write gate.
    BoxPush { name: String, body: MessageBody },
    /// Pull (read) a message of a box, through its read gate, which may
    /// charge for it. `index` defaults to the latest message.
    BoxPull { name: String, index: Option<u64> },
    /// Delete a message (owner only).
    BoxDelete { name: String, index: u64 },
    /// Replace a message's body (owner only).
    BoxReplace {
        name: String,
        index: u64,
        body: MessageBody,
    },
    /// Add (`allow`) or remove an address on a box's allow-list (owner only).
    BoxAllow {
        name: String,
        address: Address,
        allow: bool,
    },
    /// Register the sender's X25519 public key, so others can encrypt to it.
    SetEncryptionKey { key: [u8; 32] },
    /// Become a candidate for miner, locking the chain's candidate deposit.
    ElectionAnnounce,
    /// Stop being a candidate; the deposit comes back.
    ElectionQuit,
    /// Lock `amount` for `lock_ms` as votes for `candidate`.
    ElectionVote {
        candidate: PublicKey,
        amount: Amount,
        lock_ms: u64,
    },
    /// Take back a vote whose lock has expired.
    ElectionWithdraw { vote: u64 },
    /// Evidence that a miner signed two different blocks at one height: its
    /// deposit goes to the reporter and it stops being a candidate.
    ElectionReport {
        first: Box<crate::Header>,
        second: Box<crate::Header>,
    },
    /// Buy storage for content `content_id` (the Merkle root of its block
    /// hashes) for `period_ms`, paid up front to the storage pool. `blocks`
    /// must be [`crate::content_blocks`] of `size`.
    StorageAlloc {
        content_id: Hash,
        size: u64,
        blocks: u64,
        replicas: u8,
        priority: Priority,
        mode: StorageMode,
        period_ms: u64,
        public: bool,
    },
    /// Extend an allocation by `period_ms` (anyone may pay for it).
    StorageRenew { content_id: Hash, period_ms: u64 },
    /// Remove an expired allocation and its grants (anyone may).
    StorageCollect { content_id: Hash },
    /// Register (or update) the sender's storage node, locking the chain's
    /// storage node deposit on first registration.
    StorageRegister {
        peer_id: Vec<u8>,
        addrs: Vec<String>,
    },
    /// Unregister the sender's storage node; the deposit comes back.
    StorageUnregister,
    /// Give `reader` the content key of private content, wrapped to the
    /// reader's key (owner only; replaces an earlier grant to that reader).
    StorageGrant {
        content_id: Hash,
        reader: Address,
        wrapped_key: Vec<u8>,
    },
}

impl Payload {
    /// Short name of the call, used in receipts, fees and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Transfer { .. } => "transfer",
            Payload::BoxCreate { .. } => "box_create",
            Payload::BoxSetGate { .. } => "box_set_gate",
            Payload::BoxPush { .. } => "box_push",
            Payload::BoxPull { .. } => "box_pull",
            Payload::BoxDelete { .. } => "box_delete",
            Payload::BoxReplace { .. } => "box_replace",
            Payload::BoxAllow { .. } => "box_allow",
            Payload::SetEncryptionKey { .. } => "set_encryption_key",
            Payload::ElectionAnnounce => "election_announce",
            Payload::ElectionQuit => "election_quit",
            Payload::ElectionVote { .. } => "election_vote",
            Payload::ElectionWithdraw { .. } => "election_withdraw",
            Payload::ElectionReport { .. } => "election_report",
            Payload::StorageAlloc { .. } => "storage_alloc",
            Payload::StorageRenew { .. } => "storage_renew",
            Payload::StorageCollect { .. } => "storage_collect",
            Payload::StorageRegister { .. } => "storage_register",
            Payload::StorageUnregister => "storage_unregister",
            Payload::StorageGrant { .. } => "storage_grant",
        }
    }

    /// The content a storage call addresses, if any.
    pub fn content_id(&self) -> Option<&Hash> {
        match self {
            Payload::StorageAlloc { content_id, .. }
            | Payload::StorageRenew { content_id, .. }
            | Payload::StorageCollect { content_id }
            | Payload::StorageGrant { content_id, .. } => Some(content_id),
            _ => None,
        }
    }

    /// The box a call addresses, if any.
    pub fn box_name(&self) -> Option<&str> {
        match self {
            Payload::BoxCreate { name }
            | Payload::BoxSetGate { name, .. }
            | Payload::BoxPush { name, .. }
            | Payload::BoxPull { name, .. }
            | Payload::BoxDelete { name, .. }
            | Payload::BoxReplace { name, .. }
            | Payload::BoxAllow { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// The fields a sender signs.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct UnsignedTransaction {
    pub chain_id: ChainId,
    pub sender: PublicKey,
    pub nonce: u64,
    pub ref_block: RefBlock,
    /// The most the sender agrees to pay in fees; the charged fee is the
    /// chain's fee for this transaction, which must not exceed it.
    pub max_fee: Amount,
    pub payload: Payload,
}

impl UnsignedTransaction {
    /// The 32-byte message that is signed: a domain-separated hash of the
    /// canonical encoding.
    pub fn signing_hash(&self) -> Hash {
        sha256_parts(&[TX_SIGNING_DOMAIN, &codec::encode(self)])
    }

    pub fn with_signature(self, signature: Signature) -> Transaction {
        Transaction {
            chain_id: self.chain_id,
            sender: self.sender,
            nonce: self.nonce,
            ref_block: self.ref_block,
            max_fee: self.max_fee,
            payload: self.payload,
            signature,
        }
    }
}

/// A signed transaction.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Transaction {
    pub chain_id: ChainId,
    pub sender: PublicKey,
    pub nonce: u64,
    pub ref_block: RefBlock,
    pub max_fee: Amount,
    pub payload: Payload,
    pub signature: Signature,
}

impl Transaction {
    /// Hash of the whole signed encoding; identifies the transaction.
    pub fn hash(&self) -> Hash {
        sha256(&codec::encode(self))
    }

    pub fn sender_address(&self) -> Address {
        self.sender.address()
    }

    pub fn unsigned(&self) -> UnsignedTransaction {
        UnsignedTransaction {
            chain_id: self.chain_id,
            sender: self.sender,
            nonce: self.nonce,
            ref_block: self.ref_block,
            max_fee: self.max_fee,
            payload: self.payload.clone(),
        }
    }

    pub fn signing_hash(&self) -> Hash {
        self.unsigned().signing_hash()
    }

    /// Size of the canonical encoding, which is what fees per byte are charged on.
    pub fn encoded_len(&self) -> usize {
        // chain_id 8 + sender 32 + nonce 8 + ref 12 + max_fee 16 + signature 64
        140 + match &self.payload {
            Payload::Transfer { .. } => 1 + 32 + 16,
            // Variable-size calls are rare next to transfers; measure them.
            p => borsh::object_length(p).unwrap_or(usize::MAX - 140),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode_bounded, encode};
    use proptest::prelude::*;

    pub(crate) fn arb_tx() -> impl Strategy<Value = Transaction> {
        (
            any::<u64>(),
            any::<[u8; 32]>(),
            any::<u64>(),
            any::<u64>(),
            any::<[u8; 4]>(),
            any::<u128>(),
            any::<[u8; 32]>(),
            any::<u128>(),
            any::<[u8; 32]>(),
        )
            .prop_map(|(chain_id, pk, nonce, h, pre, fee, to, amount, sig)| {
                let mut s = [0u8; 64];
                s[..32].copy_from_slice(&sig);
                Transaction {
                    chain_id,
                    sender: PublicKey(pk),
                    nonce,
                    ref_block: RefBlock {
                        height: h,
                        hash_prefix: pre,
                    },
                    max_fee: fee,
                    payload: Payload::Transfer {
                        to: Address(to),
                        amount,
                    },
                    signature: Signature(s),
                }
            })
    }

    proptest! {
        #[test]
        fn round_trip(tx in arb_tx()) {
            let bytes = encode(&tx);
            prop_assert_eq!(bytes.len(), tx.encoded_len());
            let back: Transaction = decode_bounded(&bytes, 1 << 16).unwrap();
            prop_assert_eq!(&back, &tx);
            prop_assert_eq!(back.hash(), tx.hash());
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = decode_bounded::<Transaction>(&bytes, 1 << 16);
        }

        #[test]
        fn truncation_is_an_error(tx in arb_tx(), cut in 1usize..100) {
            let bytes = encode(&tx);
            let cut = cut.min(bytes.len());
            prop_assert!(decode_bounded::<Transaction>(&bytes[..bytes.len() - cut], 1 << 16).is_err());
        }

        #[test]
        fn trailing_bytes_are_an_error(tx in arb_tx(), extra in 1u8..=255) {
            let mut bytes = encode(&tx);
            bytes.push(extra);
            prop_assert!(decode_bounded::<Transaction>(&bytes, 1 << 16).is_err());
        }
    }

    #[test]
    fn storage_calls_are_appended_and_round_trip() {
        // The first storage call takes the tag after the last election
        // call: earlier encodings keep their meaning.
        let calls = [
            Payload::StorageAlloc {
                content_id: Hash([3; 32]),
                size: 5,
                blocks: 1,
                replicas: 3,
                priority: 1,
                mode: StorageMode::Writable,
                period_ms: 3_600_000,
                public: false,
            },
            Payload::StorageRenew {
                content_id: Hash([3; 32]),
                period_ms: 1,
            },
            Payload::StorageCollect {
                content_id: Hash([3; 32]),
            },
            Payload::StorageRegister {
                peer_id: vec![1, 2],
                addrs: vec!["/ip4/127.0.0.1/tcp/1".into()],
            },
            Payload::StorageUnregister,
            Payload::StorageGrant {
                content_id: Hash([3; 32]),
                reader: Address([4; 32]),
                wrapped_key: vec![5; 80],
            },
        ];
        for (i, p) in calls.iter().enumerate() {
            let bytes = encode(p);
            assert_eq!(bytes[0] as usize, 14 + i, "{}", p.kind());
            assert_eq!(&decode_bounded::<Payload>(&bytes, 1 << 16).unwrap(), p);
        }
        assert_eq!(calls[0].content_id(), Some(&Hash([3; 32])));
        assert_eq!(calls[4].content_id(), None);
    }

    #[test]
    fn limit_checked_first() {
        let err = decode_bounded::<Transaction>(&[0u8; 100], 10).unwrap_err();
        assert_eq!(
            err,
            crate::DecodeError::TooLarge {
                size: 100,
                limit: 10
            }
        );
    }
}
