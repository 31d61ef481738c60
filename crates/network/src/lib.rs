//! umbra's peer-to-peer networking.
//!
//! Owns: the libp2p swarm of a node — TCP with noise and yamux; gossip of
//! transactions and blocks over gossipsub (`/umbra/<chain>/tx/1`,
//! `/umbra/<chain>/block/1`, every message signed by the sender's node key);
//! the sync request-response protocol (`/umbra/<chain>/sync/1`: status,
//! header and block ranges, block by hash) with size-checked borsh framing
//! and per-request timeouts; peer discovery with identify and Kademlia (in
//! server mode) from bootstrap peers; peer scoring, temporary bans and manual
//! blocks.
//!
//! Must not: hold business logic. It decodes what arrives (undecodable
//! gossip is rejected and its sender penalised) but does not validate
//! transactions or blocks: it hands them to the node as [`NetworkEvent`]s and
//! the node answers with [`NetworkHandle::report_validation`]; only accepted
//! messages are forwarded. Sync requests are answered from the node's
//! [`SyncProvider`]; what the answers mean is the node's business too.
//!
//! Bird's-eye view: [`Network::start`] builds the swarm and spawns one task
//! (`service`) that owns all network state. The node talks to it through a
//! cloneable [`NetworkHandle`] (bounded command queue) and hears from it
//! through a bounded event queue that drops, rather than blocks, when full.
//! Pure parts — framing (`codec`), sync rules (`sync`), the scoreboard —
//! are unit-tested without a swarm.

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
pub mod error;
pub mod event;
pub mod gossip;
pub mod handle;
pub mod names;
pub mod network;
pub mod scoreboard;
mod service;
pub mod sync;

pub use config::{DEFAULT_MAX_BLOCK_BYTES, DEFAULT_MAX_TX_BYTES, NetworkConfig};
pub use error::NetworkError;
pub use event::NetworkEvent;
pub use gossip::GossipKind;
pub use handle::{NetworkHandle, PeerInfo, Verdict};
pub use libp2p::gossipsub::MessageId;
pub use libp2p::{Multiaddr, PeerId};
pub use network::{Network, peer_addr, peer_id_from_secret};
pub use scoreboard::{Offence, ScoreConfig, Scoreboard};
pub use sync::{ChainStatus, SyncProvider, SyncRequest, SyncResponse};
