//! JSON views of content storage: allocations, grants, storage nodes and
//! price quotes. Amounts are decimal strings of base units, bytes are hex.

use serde::{Deserialize, Serialize};
use umbra_types::{Address, Allocation, Grant, Hash, StorageNode};

/// `storage_allocation`, `storage_list`: paid-for room for one content.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AllocationView {
    pub content_id: Hash,
    pub owner: Address,
    /// Content size, bytes.
    pub size: u64,
    /// 256 KiB blocks.
    pub blocks: u64,
    pub replicas: u8,
    /// 0 volatile, 1 normal, 2 high, 3 permanent-ish.
    pub priority: u8,
    /// `read-only` or `writable`.
    pub mode: String,
    /// Stored unencrypted; readers need no grant.
    pub public: bool,
    pub created_ms: u64,
    pub expires_ms: u64,
    /// Everything paid for it (allocation and renewals), base units.
    pub paid: String,
    /// Whether the head block's time has reached `expires_ms`: storage
    /// nodes may drop the content and anyone may collect or re-allocate it.
    pub expired: bool,
}

impl AllocationView {
    /// The view of `a` as of a head block with time `head_ms`.
    pub fn new(a: &Allocation, head_ms: u64) -> Self {
        AllocationView {
            content_id: a.content_id,
            owner: a.owner,
            size: a.size,
            blocks: a.blocks,
            replicas: a.replicas,
            priority: a.priority,
            mode: a.mode.as_str().to_string(),
            public: a.public,
            created_ms: a.created_ms,
            expires_ms: a.expires_ms,
            paid: a.paid.to_string(),
            expired: head_ms >= a.expires_ms,
        }
    }
}

/// `storage_grant`, `storage_grants`: a content key wrapped to a reader.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct GrantView {
    pub content_id: Hash,
    pub owner: Address,
    pub reader: Address,
    /// The HPKE envelope of the 32-byte content key, hex.
    pub wrapped_key: String,
    pub granted_ms: u64,
}

impl From<&Grant> for GrantView {
    fn from(g: &Grant) -> Self {
        GrantView {
            content_id: g.content_id,
            owner: g.owner,
            reader: g.reader,
            wrapped_key: hex::encode(&g.wrapped_key),
            granted_ms: g.granted_ms,
        }
    }
}

/// `storage_nodes`: one registered storage node.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StorageNodeView {
    pub operator: Address,
    /// The libp2p peer id's bytes, hex (its usual base58 text is the
    /// base58btc encoding of these bytes).
    pub peer_id_hex: String,
    /// Multiaddrs.
    pub addrs: Vec<String>,
    /// Locked deposit, base units.
    pub deposit: String,
    pub registered_ms: u64,
}

impl From<&StorageNode> for StorageNodeView {
    fn from(n: &StorageNode) -> Self {
        StorageNodeView {
            operator: n.operator,
            peer_id_hex: hex::encode(&n.peer_id),
            addrs: n.addrs.clone(),
            deposit: n.deposit.to_string(),
            registered_ms: n.registered_ms,
        }
    }
}

fn default_priority() -> u8 {
    1
}

fn default_mode() -> String {
    "read-only".into()
}

/// The parameter of `storage_price`: what an allocation would buy.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StoragePriceRequest {
    /// Content size, bytes.
    pub size: u64,
    pub replicas: u8,
    /// Defaults to 1 (normal).
    #[serde(default = "default_priority")]
    pub priority: u8,
    /// `read-only` (default) or `writable`.
    #[serde(default = "default_mode")]
    pub mode: String,
    pub period_ms: u64,
}

/// `storage_price`: the block count and what a `storage_alloc` of the
/// request costs, besides the transaction fee.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoragePriceView {
    /// The `blocks` a `StorageAlloc` of this size must carry.
    pub blocks: u64,
    /// Base units.
    pub price: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use umbra_types::StorageMode;

    #[test]
    fn allocation_view_marks_expiry_at_the_head_time() {
        let a = Allocation {
            owner: Address([1; 32]),
            content_id: Hash([2; 32]),
            size: 10,
            blocks: 1,
            replicas: 3,
            priority: 1,
            mode: StorageMode::Writable,
            public: false,
            created_ms: 5,
            expires_ms: 100,
            paid: 12_345,
        };
        let v = AllocationView::new(&a, 99);
        assert!(!v.expired);
        assert_eq!(v.mode, "writable");
        assert_eq!(v.paid, "12345");
        assert!(AllocationView::new(&a, 100).expired);
    }

    #[test]
    fn price_request_defaults_and_refuses_unknown_fields() {
        let r: StoragePriceRequest =
            serde_json::from_str(r#"{"size":1,"replicas":3,"period_ms":3600000}"#).unwrap();
        assert_eq!((r.priority, r.mode.as_str()), (1, "read-only"));
        assert!(
            serde_json::from_str::<StoragePriceRequest>(
                r#"{"size":1,"replicas":3,"period_ms":1,"periods":2}"#
            )
            .is_err()
        );
    }
}
