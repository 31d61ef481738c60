//! umbra's peer-to-peer networking.
//!
//! Owns: the libp2p swarm of a node — TCP with noise and yamux; gossip of
//! transactions and blocks over gossipsub (`/umbra/<chain>/tx/1`,
//! `/umbra/<chain>/block/1`, every message signed by the sender's node key);
//! the sync request-response protocol (`/umbra/<chain>/sync/1`: status,
//! header and block ranges, block by hash) with size-checked borsh framing
//! and per-request timeouts; the content-block transfer protocol
//! (`/umbra/<chain>/content/1`: push and fetch blocks and manifests, ask
//! which blocks a peer holds) in the same framing; peer discovery with
//! identify and Kademlia (in server mode) from bootstrap peers; Kademlia
//! *provider records* ("this peer holds block H": announced with
//! [`NetworkHandle::start_providing`], found with
//! [`NetworkHandle::providers`]; no values are ever stored in the DHT);
//! peer scoring, temporary bans and manual blocks.
//!
//! Must not: hold business logic. It decodes what arrives (undecodable
//! gossip is rejected and its sender penalised) but does not validate
//! transactions or blocks: it hands them to the node as [`NetworkEvent`]s and
//! the node answers with [`NetworkHandle::report_validation`]; only accepted
//! messages are forwarded. Sync requests are answered from the node's
//! [`SyncProvider`], content requests from its [`ContentProvider`] (if it
//! stores content, see [`Network::start_with_content`]); what the answers
//! mean is the node's business too. It does not know pdfs types: content
//! messages carry bytes, hashes and Merkle proofs, and the only checks made
//! here are those bytes allow (a fetched block hashes to its id).
//!
//! Bird's-eye view: [`Network::start`] builds the swarm and spawns one task
//! (`service`) that owns all network state. The node talks to it through a
//! cloneable [`NetworkHandle`] (bounded command queue) and hears from it
//! through a bounded event queue that drops, rather than blocks, when full.
//! Pure parts — framing (`codec`), sync rules (`sync`), content rules
//! (`content`), the bounded provider-record store (`store`), the
//! scoreboard — are unit-tested without a swarm.

// Nothing from the network may reach a panic (DESIGN: no panic on input).
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

mod behaviour;
pub mod codec;
pub mod config;
pub mod content;
pub mod error;
pub mod event;
pub mod gossip;
pub mod handle;
pub mod names;
pub mod network;
pub mod scoreboard;
mod service;
mod store;
pub mod sync;

pub use config::{DEFAULT_MAX_BLOCK_BYTES, DEFAULT_MAX_TX_BYTES, NetworkConfig};
pub use content::{ContentProvider, ContentRequest, ContentResponse, MAX_HAS_IDS};
pub use error::NetworkError;
pub use event::NetworkEvent;
pub use gossip::GossipKind;
pub use handle::{NetworkHandle, PeerInfo, Verdict};
pub use libp2p::gossipsub::MessageId;
pub use libp2p::{Multiaddr, PeerId};
pub use network::{Network, peer_addr, peer_id_from_secret};
pub use scoreboard::{Offence, ScoreConfig, Scoreboard};
pub use sync::{ChainStatus, SyncProvider, SyncRequest, SyncResponse};
