//! Staged uploads: blocks a client uploads before its content is allocated,
//! adopted when the manifest arrives (see `umbra_pdfs::StageTicket` for
//! why). This is the one exception to "a node stores only blocks of
//! allocated content", and it is bounded four ways:
//!
//! - a session opens only with a ticket signed by an account that could pay
//!   for the cheapest allocation of everything it has staged here;
//! - a session holds at most its ticket's bytes and its content's number of
//!   blocks;
//! - all sessions together hold at most half of the store's capacity;
//! - a session ends when unused for its idle time (default
//!   [`DEFAULT_STAGE_IDLE`]) or [`STAGE_MAX_AGE`] after it opened, and its
//!   blocks that no manifest refers to go at the next garbage collection.
//!
//! Staged blocks are written to the block store as they arrive (so adopting
//! them costs no second write); the session pins them against garbage
//! collection until the manifest, which then refers to them, is stored.

use super::placement::closest;
use super::upload::Placed;
use super::{ContentError, ContentService, off_thread};
use bytes::Bytes;
use futures::StreamExt;
use rand_core::{OsRng, RngCore};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use umbra_pdfs::{StageTicket, TAG_BYTES, blocks_for};
use umbra_types::{Address, Hash, StorageMode};

/// By default, a session with no block uploaded for this long is dropped.
pub const DEFAULT_STAGE_IDLE: Duration = Duration::from_secs(600);
/// A session ends this long after it opened, used or not: staging is for
/// the time an upload takes, not a way to keep blocks without paying.
pub const STAGE_MAX_AGE: Duration = Duration::from_secs(2 * 3600);
/// How far a ticket's time may be from this node's clock, either way.
const TICKET_SKEW_MS: u64 = 300_000;
/// Most sessions open at once.
const MAX_SESSIONS: usize = 256;
/// Most tickets remembered as used (each until it could no longer be
/// accepted anyway); past this, new sessions wait.
const MAX_USED_TICKETS: usize = 65_536;
/// Staging may hold at most 1/`STAGING_SHARE` of the store's capacity
/// (the rest stays for content already paid for).
const STAGING_SHARE: u64 = 2;
/// Blocks placed at once when a manifest adopts staged blocks.
const PLACING: usize = 16;

/// One open upload.
struct Session {
    owner: Address,
    /// Blocks this ticket may stage: its content's block count (what its
    /// price is for).
    blocks_allowed: u64,
    /// Stored bytes the ticket allows (plaintext plus one tag per block).
    reserved: u64,
    used: u64,
    /// Every block staged, pinned against garbage collection.
    blocks: HashSet<Hash>,
    /// The staged blocks this session stored (the store lacked them), which
    /// this node may drop again once they are placed elsewhere.
    fresh: HashSet<Hash>,
    opened: Instant,
    last_active: Instant,
    /// Its manifest is stored. The pins stay until the next upkeep's sweep,
    /// which runs before its garbage collection: a collection that read the
    /// manifests before this one was stored must not find them unpinned.
    adopted: bool,
}

/// The open sessions, by token.
pub(crate) struct Staging {
    sessions: HashMap<String, Session>,
    /// Digests of tickets that opened a session, with the time (ms) after
    /// which the clock check refuses them anyway: a ticket opens one
    /// session, even after that session has ended.
    used_tickets: HashMap<Hash, u64>,
    /// A session unused this long is dropped.
    idle: Duration,
}

impl Staging {
    pub(crate) fn new(idle: Duration) -> Self {
        Staging {
            sessions: HashMap::new(),
            used_tickets: HashMap::new(),
            idle,
        }
    }

    fn expire(&mut self) {
        let now = now_ms();
        self.used_tickets.retain(|_, until| *until >= now);
        let idle = self.idle;
        self.sessions
            .retain(|_, s| s.last_active.elapsed() < idle && s.opened.elapsed() < STAGE_MAX_AGE);
    }

    /// The open, not yet adopted, session `token`.
    fn open(&mut self, token: &str) -> Result<&mut Session, ContentError> {
        self.expire();
        self.sessions
            .get_mut(token)
            .filter(|s| !s.adopted)
            .ok_or_else(|| ContentError::NoSession(token.to_owned()))
    }

    /// Whether an open session pins `block`.
    pub(crate) fn pinned(&self, block: &Hash) -> bool {
        self.sessions.values().any(|s| s.blocks.contains(block))
    }

    /// Drops idle and adopted sessions (upkeep calls this before it
    /// collects garbage); returns how many stay open.
    pub(crate) fn sweep(&mut self) -> usize {
        self.expire();
        self.sessions.retain(|_, s| !s.adopted);
        self.sessions.len()
    }
}

/// The answer to opening a session.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct StageOpened {
    /// Names the session in `PUT /uploads/{token}/blocks/{block id}` and
    /// `POST /content/{id}/manifest?upload={token}`.
    pub token: String,
    /// Stored bytes the session may hold.
    pub reserved: u64,
    /// Seconds without an upload after which the session is dropped.
    pub idle_seconds: u64,
}

/// What a node is staging, and its store (`GET /uploads`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct StagingStatus {
    /// This storage node's identity, as a stage ticket must name it.
    pub node: String,
    /// Sessions open (not idle past their time).
    pub sessions: usize,
    /// Stored bytes those sessions may take, and have taken.
    pub reserved: u64,
    pub used: u64,
    /// Most bytes all sessions may hold together.
    pub limit: u64,
    /// Blocks and bytes in the block store, staged or not.
    pub store_blocks: u64,
    pub store_used: u64,
    pub store_capacity: u64,
}

/// The answer to staging a block.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct StagedBlock {
    /// The block's id (its SHA-256), as this node computed it.
    pub block: Hash,
    /// False if the session or the store already had it.
    pub stored: bool,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Stored bytes a content of `size` plaintext bytes can take at most.
fn stored_bound(size: u64) -> u64 {
    size.saturating_add(blocks_for(size).saturating_mul(TAG_BYTES as u64))
}

impl ContentService {
    /// What this node is staging.
    pub fn staging_status(&self) -> StagingStatus {
        let mut staging = self.staging.lock();
        staging.expire();
        let open = staging.sessions.values().filter(|s| !s.adopted);
        let (sessions, reserved, used) = open.fold((0, 0, 0), |(n, r, u), s| {
            (n + 1, r + s.reserved, u + s.used)
        });
        StagingStatus {
            node: self.me.to_string(),
            sessions,
            reserved,
            used,
            limit: self.store.capacity_bytes() / STAGING_SHARE,
            store_blocks: self.store.block_count(),
            store_used: self.store.used_bytes(),
            store_capacity: self.store.capacity_bytes(),
        }
    }

    /// Opens a staging session for a signed ticket.
    pub async fn open_stage(&self, body: &[u8]) -> Result<StageOpened, ContentError> {
        let ticket = StageTicket::decode(body).map_err(ContentError::BadRequest)?;
        if ticket.node != self.me.to_string().as_bytes() {
            return Err(ContentError::Forbidden(
                "this stage ticket names another node".into(),
            ));
        }
        if now_ms().abs_diff(ticket.timestamp_ms) > TICKET_SKEW_MS {
            return Err(ContentError::Forbidden(format!(
                "the stage ticket's time is more than {} minutes from this node's clock",
                TICKET_SKEW_MS / 60_000
            )));
        }
        umbra_crypto::verify(&ticket.owner, &ticket.digest(), &ticket.signature).map_err(|_| {
            ContentError::Forbidden("the stage ticket's signature is invalid".into())
        })?;
        if ticket.size > umbra_pdfs::MAX_CONTENT_BYTES {
            return Err(ContentError::Pdfs(umbra_pdfs::PdfsError::TooLarge {
                what: "content",
                len: ticket.size,
                max: umbra_pdfs::MAX_CONTENT_BYTES,
            }));
        }
        let owner = ticket.owner.address();
        let balance = self
            .chain
            .account(&owner)
            .map_err(|e| ContentError::State(e.to_string()))?
            .balance;
        let reserved = stored_bound(ticket.size);
        let digest = ticket.digest();
        let mut staging = self.staging.lock();
        staging.expire();
        if staging.used_tickets.contains_key(&digest) {
            return Err(ContentError::Forbidden(
                "this stage ticket has opened a session already".into(),
            ));
        }
        if staging.used_tickets.len() >= MAX_USED_TICKETS {
            return Err(ContentError::StagingFull(
                "too many uploads opened here in the last minutes".into(),
            ));
        }
        // What the owner has staged here, with this ticket, must be payable:
        // at least the cheapest allocation of all of it (one copy, lowest
        // priority, read-only, the shortest period).
        let blocks = staging
            .sessions
            .values()
            .filter(|s| s.owner == owner)
            .map(|s| s.blocks_allowed)
            .sum::<u64>()
            .saturating_add(blocks_for(ticket.size));
        let params = self.chain.params();
        let least = umbra_runtime::storage::storage_price(
            params,
            blocks,
            1,
            0,
            StorageMode::ReadOnly,
            params.min_storage_period_ms,
        )
        .unwrap_or(u128::MAX);
        if balance < least {
            return Err(ContentError::PaymentRequired(format!(
                "{owner} holds {balance} units; staging {blocks} blocks here needs at least {least}, \
                 the cheapest allocation of them"
            )));
        }
        let held: u64 = staging.sessions.values().map(|s| s.reserved).sum();
        let limit = self.store.capacity_bytes() / STAGING_SHARE;
        if held.saturating_add(reserved) > limit {
            return Err(ContentError::StagingFull(format!(
                "staging holds {held} of {limit} bytes and this upload needs {reserved}"
            )));
        }
        if staging.sessions.len() >= MAX_SESSIONS {
            return Err(ContentError::StagingFull(format!(
                "{MAX_SESSIONS} uploads are open here already"
            )));
        }
        staging
            .used_tickets
            .insert(digest, ticket.timestamp_ms.saturating_add(TICKET_SKEW_MS));
        let mut raw = [0u8; 16];
        OsRng.fill_bytes(&mut raw);
        let token = hex::encode(raw);
        staging.sessions.insert(
            token.clone(),
            Session {
                owner,
                blocks_allowed: blocks_for(ticket.size),
                reserved,
                used: 0,
                blocks: HashSet::new(),
                fresh: HashSet::new(),
                opened: Instant::now(),
                last_active: Instant::now(),
                adopted: false,
            },
        );
        Ok(StageOpened {
            token,
            reserved,
            idle_seconds: staging.idle.as_secs(),
        })
    }

    /// Whether `token` names an open session (checked before a block's
    /// body is read, so a stranger cannot make the node read it).
    pub fn stage_is_open(&self, token: &str) -> bool {
        self.staging.lock().open(token).is_ok()
    }

    /// Stores a block of a session, given as the frames it arrived in, if it
    /// hashes to `id` and fits in what the session's ticket allows.
    pub async fn stage_block(
        &self,
        token: &str,
        id: Hash,
        frames: Vec<Bytes>,
    ) -> Result<StagedBlock, ContentError> {
        let len = frames.iter().map(Bytes::len).sum::<usize>() as u64;
        {
            let mut staging = self.staging.lock();
            let s = staging.open(token)?;
            s.last_active = Instant::now();
            if s.blocks.contains(&id) {
                return Ok(StagedBlock {
                    block: id,
                    stored: false,
                });
            }
            if s.used.saturating_add(len) > s.reserved {
                return Err(ContentError::StagingFull(format!(
                    "the session's {} bytes are used up",
                    s.reserved
                )));
            }
            // As many blocks as the content has, whatever their size: tiny
            // blocks would otherwise cost a record (and index entry) each
            // for a few bytes of the reservation.
            if s.blocks.len() as u64 >= s.blocks_allowed {
                return Err(ContentError::StagingFull(format!(
                    "the session's {} blocks are used up",
                    s.blocks_allowed
                )));
            }
            // Pinned before it is stored, so a collection running now
            // cannot take it between the two.
            s.blocks.insert(id);
            s.used += len;
        }
        let store = self.store.clone();
        let stored = off_thread(move || {
            let parts: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
            store.put_parts(&id, &parts)
        })
        .await;
        let mut staging = self.staging.lock();
        let session = staging.sessions.get_mut(token);
        match stored {
            Ok(Ok(new)) => {
                if new && let Some(s) = session {
                    s.fresh.insert(id);
                }
                Ok(StagedBlock {
                    block: id,
                    stored: new,
                })
            }
            Ok(Err(e)) => {
                if let Some(s) = session {
                    s.blocks.remove(&id);
                    s.used -= len;
                }
                Err(match e {
                    umbra_pdfs::PdfsError::HashMismatch { .. } => {
                        ContentError::BadRequest(format!("the block's SHA-256 is not {id}"))
                    }
                    e => e.into(),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Places the blocks of content `id` (whose manifest is stored) that
    /// session `token` staged on their K nodes, and ends the session.
    /// Blocks this node lacks are listed as missing, for the client to
    /// upload the ordinary way; without an open session, all of them are.
    pub async fn adopt_staged(&self, id: &Hash, token: &str) -> Result<Placed, ContentError> {
        let manifest = self.manifest(id)?.ok_or(ContentError::NoManifest(*id))?;
        let alloc = self.live_allocation(id)?;
        let wanted = usize::from(alloc.replicas);
        let live = self.live_nodes().await?;
        if live.is_empty() {
            return Err(ContentError::NoStorageNodes);
        }
        // The stored manifest now keeps its blocks from garbage collection;
        // the session's pins go at the next sweep. Placing is done once, for
        // the holder of an open session: without one (it ended, the node
        // restarted, or it was adopted already) nothing is pushed, which
        // keeps a stranger from making this node send the content again and
        // again, and the client uploads every block the ordinary way.
        let fresh = match self.staging.lock().open(token) {
            Ok(s) => {
                s.adopted = true;
                std::mem::take(&mut s.fresh)
            }
            Err(_) => {
                return Ok(Placed {
                    replicas: 0,
                    wanted,
                    missing: (0..manifest.block_count()).collect(),
                });
            }
        };
        let placed: Vec<(u64, Option<usize>)> =
            futures::stream::iter(manifest.block_ids.iter().copied().enumerate())
                .map(|(i, block)| {
                    let (live, manifest, fresh) = (&live, &manifest, &fresh);
                    async move {
                        let copies = self
                            .place_held(id, manifest, i as u64, block, live, wanted, fresh)
                            .await;
                        (i as u64, copies)
                    }
                })
                .buffer_unordered(PLACING)
                .collect()
                .await;
        let mut missing: Vec<u64> = placed
            .iter()
            .filter(|(_, c)| c.is_none())
            .map(|(i, _)| *i)
            .collect();
        missing.sort_unstable();
        let replicas = placed.iter().filter_map(|(_, c)| *c).min().unwrap_or(0);
        Ok(Placed {
            replicas,
            wanted,
            missing,
        })
    }

    /// Puts a block this node holds on its K live nodes; the copies made,
    /// or `None` if this node does not hold it. A block this session stored
    /// only to pass on is dropped here once every target has it.
    #[allow(clippy::too_many_arguments)]
    async fn place_held(
        &self,
        id: &Hash,
        manifest: &umbra_pdfs::Manifest,
        index: u64,
        block: Hash,
        live: &[super::chain_view::Registered],
        wanted: usize,
        fresh: &HashSet<Hash>,
    ) -> Option<usize> {
        if !self.store.has(&block) {
            return None;
        }
        let targets = closest(&block, live, wanted);
        let here = targets.iter().any(|t| t.peer == self.me);
        let remote: Vec<_> = targets.iter().filter(|t| t.peer != self.me).collect();
        let mut copies = usize::from(here);
        if !remote.is_empty() {
            let store = self.store.clone();
            let data = match off_thread(move || store.get(&block)).await {
                Ok(Ok(Some(d))) => d,
                // Lost or found damaged since `has`: upload it again.
                _ => return None,
            };
            let pushes = remote
                .iter()
                .map(|t| self.push_block(t.peer, id, manifest, index, data.clone()));
            copies += futures::future::join_all(pushes)
                .await
                .into_iter()
                .filter(|ok| *ok)
                .count();
        }
        if !here && copies == targets.len() && fresh.contains(&block) {
            let store = self.store.clone();
            let _ = off_thread(move || store.delete(&block)).await;
        }
        // No copy where it belongs: the client uploads it again the
        // ordinary way, which reports why it cannot be placed.
        (copies > 0).then_some(copies)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_bound_covers_a_tag_per_block() {
        assert_eq!(stored_bound(0), TAG_BYTES as u64);
        assert_eq!(stored_bound(1), 1 + TAG_BYTES as u64);
        let block = umbra_pdfs::BLOCK_SIZE as u64;
        assert_eq!(
            stored_bound(2 * block + 1),
            2 * block + 1 + 3 * TAG_BYTES as u64
        );
        assert_eq!(stored_bound(u64::MAX), u64::MAX);
    }
}
