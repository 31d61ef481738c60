//! The chain: the block store and state, the executor and the consensus
//! engine, with the two ways a block gets in — produced here or imported — both
//! ending in the same atomic commit. Fork choice ([`Chain::receive`]) keeps
//! blocks of other branches aside and switches to a branch once it is longer
//! than the head, never below the irreversible height.

use crate::engine::{Engine, EngineError, Proposed};
use crate::forks::SidePool;
use crate::spec::{ChainSpec, SpecError};
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use umbra_consensus::aedpos::{Equivocation, find_equivocation};
use umbra_crypto::{Keypair, first_invalid_signature, verify_block_signature};
use umbra_runtime::{
    Account, BlockContext, ChainParams, ExecError, ExecMode, Executor, RefBlocks, TxInvalid,
    genesis_changes, keys,
};
use umbra_storage::{StateUpdate, StorageError, Store};
use umbra_types::{
    Address, Block, Hash, Header, Height, PublicKey, Receipt, Signature, Transaction,
    decode_bounded, merkle_root,
};

/// Meta key holding the genesis hash, so a data dir cannot be reused with
/// another spec.
const META_GENESIS: &str = "genesis";
/// Most equivocations held until the node reports them.
const MAX_EVIDENCE: usize = 64;
/// Meta key of the highest irreversible height this node has seen (BE u64);
/// fork choice never goes below it, across restarts too.
const META_IRREVERSIBLE: &str = "irreversible";

/// Why a block was refused. Nothing is written when import fails.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("block is for chain {got}, this is chain {expected}")]
    WrongChain { expected: u64, got: u64 },
    #[error("block height {got} does not follow the head {head}")]
    WrongHeight { head: Height, got: Height },
    #[error("block parent {got} is not the head {head}")]
    WrongParent { head: Hash, got: Hash },
    #[error("block timestamp {ts} is more than {drift} ms ahead of the local clock {now}")]
    FromTheFuture { ts: u64, now: u64, drift: u64 },
    #[error("block has {count} transactions / {bytes} bytes, over the limits")]
    TooBig { count: usize, bytes: u64 },
    #[error(transparent)]
    Consensus(#[from] EngineError),
    #[error("block signature does not verify")]
    BadBlockSignature,
    #[error("transaction {index} has a bad signature")]
    BadTxSignature { index: usize },
    #[error("transaction root does not match the transactions")]
    TxRootMismatch,
    #[error("receipts root does not match re-execution")]
    ReceiptsRootMismatch,
    #[error("state root {got} does not match re-execution ({expected})")]
    StateRootMismatch { expected: Hash, got: Hash },
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Chain(#[from] ChainError),
}

impl ImportError {
    /// Whether the block itself is bad (its sender should be penalised), as
    /// opposed to this node being unable to judge it now (its clock, its
    /// disk, a head that moved).
    pub fn is_invalid_block(&self) -> bool {
        match self {
            ImportError::FromTheFuture { .. }
            | ImportError::Storage(_)
            | ImportError::Chain(_)
            | ImportError::WrongParent { .. } => false,
            ImportError::Consensus(e) => {
                matches!(e, EngineError::Solo(_) | EngineError::Aedpos(_))
            }
            _ => true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error(
        "data dir holds chain with genesis {stored}, but the spec gives genesis {spec}: use another --data-dir (or --fresh for a devnet)"
    )]
    GenesisMismatch { stored: Hash, spec: Hash },
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("this node may not propose on top of the head now")]
    NotProposer,
    #[error("block {height} no longer extends the head {head}")]
    Stale { height: Height, head: Height },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// A block ready to commit with what executing it produced.
pub struct Executed {
    pub block: Block,
    pub receipts: Vec<Receipt>,
    pub update: StateUpdate,
    /// Transactions left out while producing, with the reason.
    pub rejected: Vec<(Hash, TxInvalid)>,
}

/// What [`Chain::receive`] did with a block.
#[derive(Debug)]
pub enum Received {
    /// It extended the head, possibly followed by kept blocks that build on
    /// it; the new heads in order.
    Extended(Vec<Header>),
    /// A branch it completed was longer: `reverted` left the chain (newest
    /// last), `applied` joined it.
    Reorganised {
        reverted: Vec<Block>,
        applied: Vec<Header>,
    },
    /// Kept aside: its branch is not longer than the head (yet).
    Side,
    /// Already on the chain or kept.
    Known,
    /// On a branch off below the irreversible height: it can never win, and
    /// is not kept.
    Stale,
    /// Its parent is unknown here: the sender has blocks this node lacks.
    Orphan,
}

/// Hash prefixes of the most recent blocks, for reference-block checks.
struct Recent {
    window: u64,
    prefixes: BTreeMap<Height, [u8; 4]>,
}

impl Recent {
    fn push(&mut self, h: &Header) {
        let mut p = [0u8; 4];
        p.copy_from_slice(&h.hash().0[..4]);
        self.prefixes.insert(h.height, p);
        let keep_from = h.height.saturating_sub(self.window + 1);
        self.prefixes = self.prefixes.split_off(&keep_from);
    }

    fn load(store: &Store, window: u64, head: Height) -> Result<Recent, StorageError> {
        let mut recent = Recent {
            window,
            prefixes: BTreeMap::new(),
        };
        let from = head.saturating_sub(window + 1);
        for h in from..=head {
            if let Some(hd) = store.header(h)? {
                recent.push(&hd);
            }
        }
        Ok(recent)
    }
}

impl RefBlocks for Recent {
    fn hash_prefix(&self, height: Height) -> Option<[u8; 4]> {
        self.prefixes.get(&height).copied()
    }
}

pub struct Chain {
    store: Store,
    spec: ChainSpec,
    engine: Engine,
    executor: Box<dyn Executor>,
    head: RwLock<Header>,
    recent: RwLock<Recent>,
    /// Highest irreversible height seen; never decreases.
    irreversible: AtomicU64,
    /// Blocks of other branches, kept until one wins or falls below the
    /// irreversible height.
    side: Mutex<SidePool>,
    genesis: Hash,
    /// Transactions whose signatures were checked on admission.
    verified: crate::verified::VerifiedTxs,
    /// Equivocations seen and not yet taken (see [`Chain::take_evidence`]).
    evidence: Mutex<Vec<Equivocation>>,
    /// Serialises produce/import/commit so two blocks never race for one height.
    write: Mutex<()>,
}

fn genesis_block(spec: &ChainSpec, state_root: Hash) -> Block {
    Block {
        header: Header {
            chain_id: spec.chain_id,
            height: 0,
            parent_hash: Hash::ZERO,
            timestamp_ms: spec.genesis_time_ms,
            proposer: PublicKey::default(),
            tx_root: Hash::ZERO,
            state_root,
            receipts_root: Hash::ZERO,
            consensus: vec![],
            signature: Signature::default(),
        },
        transactions: vec![],
    }
}

fn receipts_root(receipts: &[Receipt]) -> Hash {
    merkle_root(&receipts.iter().map(Receipt::hash).collect::<Vec<_>>())
}

fn tx_root(txs: &[Transaction]) -> Hash {
    merkle_root(&txs.iter().map(Transaction::hash).collect::<Vec<_>>())
}

impl Chain {
    /// Opens the chain in `store`, writing genesis if the store is empty.
    pub fn open(
        store: Store,
        spec: ChainSpec,
        engine: Engine,
        executor: Box<dyn Executor>,
    ) -> Result<Chain, ChainError> {
        spec.validate()?;
        let mut changes =
            genesis_changes(&spec.balances()?, spec.genesis_time_ms).map_err(SpecError::from)?;
        if let Some((k, v)) = engine.genesis_entry(spec.genesis_time_ms) {
            changes.insert(k, Some(v));
        }
        let head = match store.head()? {
            None => {
                let (root, update) = store.prepare_state(&changes, 0)?;
                let genesis = genesis_block(&spec, root);
                store.commit_block(&genesis, &[], update)?;
                store.meta_put(META_GENESIS, &genesis.hash().0)?;
                tracing::info!(target: "umbra::chain", hash = %genesis.hash(), "wrote genesis");
                genesis.header
            }
            Some((height, hash)) => {
                let g = store
                    .header(0)?
                    .ok_or_else(|| ChainError::Corrupt("genesis header missing".into()))?;
                // Recompute the spec's genesis (state root included) without writing it.
                let (root, _) = store.prepare_state(&changes, 0)?;
                let expected = genesis_block(&spec, root);
                let stored_ok = store.meta_get(META_GENESIS)?.as_deref() == Some(&g.hash().0[..]);
                if g.hash() != expected.hash() || !stored_ok {
                    return Err(ChainError::GenesisMismatch {
                        stored: g.hash(),
                        spec: expected.hash(),
                    });
                }
                let h = store
                    .header(height)?
                    .ok_or_else(|| ChainError::Corrupt(format!("head header {height} missing")))?;
                if h.hash() != hash {
                    return Err(ChainError::Corrupt(format!(
                        "head pointer {hash} does not match header {height}"
                    )));
                }
                h
            }
        };
        let recent = Recent::load(&store, spec.params.ref_block_window, head.height)?;
        let genesis = store
            .header(0)?
            .ok_or_else(|| ChainError::Corrupt("genesis header missing".into()))?
            .hash();
        let stored_lib =
            match store.meta_get(META_IRREVERSIBLE)? {
                Some(b) => u64::from_be_bytes(b.as_slice().try_into().map_err(|_| {
                    ChainError::Corrupt("irreversible height is not 8 bytes".into())
                })?),
                None => 0,
            };
        let lib = engine
            .irreversible_height(&store.state_at(head.height), &head)
            .max(stored_lib)
            .min(head.height);
        Ok(Chain {
            store,
            spec,
            engine,
            executor,
            head: RwLock::new(head),
            recent: RwLock::new(recent),
            irreversible: AtomicU64::new(lib),
            side: Mutex::new(SidePool::default()),
            genesis,
            evidence: Mutex::new(Vec::new()),
            verified: Default::default(),
            write: Mutex::new(()),
        })
    }

    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    pub fn params(&self) -> &ChainParams {
        &self.spec.params
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn head(&self) -> Header {
        self.head.read().clone()
    }

    /// Remembers that `hash`'s signature verified (admission calls this).
    pub fn mark_verified(&self, hash: Hash) {
        self.verified.insert(hash);
    }

    /// Verifies the signatures of the transactions not already verified on
    /// admission (same hash, same signed bytes).
    fn verify_unseen_signatures(&self, txs: &[Transaction]) -> Result<(), ImportError> {
        let unseen: Vec<usize> = (0..txs.len())
            .filter(|&i| !self.verified.contains(&txs[i].hash()))
            .collect();
        if unseen.len() == txs.len() {
            return verify_tx_signatures(txs);
        }
        let subset: Vec<Transaction> = unseen.iter().map(|&i| txs[i].clone()).collect();
        match first_invalid_signature(&subset) {
            Some(k) => Err(ImportError::BadTxSignature {
                index: unseen.get(k).copied().unwrap_or(k),
            }),
            None => Ok(()),
        }
    }

    pub fn genesis_hash(&self) -> Hash {
        self.genesis
    }

    /// The executor's kind, threads and scheduling counters.
    pub fn executor_info(&self) -> umbra_runtime::ExecutorInfo {
        self.executor.info()
    }

    /// The highest height that can never be reverted.
    pub fn irreversible_height(&self) -> Height {
        self.irreversible.load(Ordering::SeqCst)
    }

    /// How many blocks of other branches are kept.
    pub fn side_blocks(&self) -> usize {
        self.side.lock().len()
    }

    /// An account in the head state.
    pub fn account(&self, addr: &Address) -> Result<Account, ChainError> {
        // The read lock is held across the state read: a rollback takes the
        // write lock before it removes versions, so the head's version is
        // never gone under the read.
        let head = self.head.read();
        let value = self.store.state_get(&keys::account(addr), head.height)?;
        drop(head);
        match value {
            None => Ok(Account::default()),
            Some(b) => decode_bounded(&b, 1024)
                .map_err(|e| ChainError::Corrupt(format!("account {addr}: {e}"))),
        }
    }

    /// Reference-block check for a transaction aimed at the next block.
    pub fn check_ref_block(&self, tx: &Transaction) -> Result<(), TxInvalid> {
        let next = self.head.read().height + 1;
        umbra_runtime::check_ref_block(tx, next, self.params(), &*self.recent.read())
    }

    /// What `key` may build on the head at `now_ms`.
    pub fn proposal(&self, key: &Keypair, now_ms: u64) -> Result<Option<Proposed>, ChainError> {
        let head = self.head();
        Ok(self
            .engine
            .propose(&self.store.state_at(head.height), &head, key, now_ms)?)
    }

    /// When `key` may next produce on the head, at or after `now_ms`.
    pub fn next_slot_ms(&self, key: &PublicKey, now_ms: u64) -> Result<Option<u64>, ChainError> {
        let head = self.head();
        Ok(self
            .engine
            .next_slot_ms(&self.store.state_at(head.height), &head, key, now_ms)?)
    }

    /// The AEDPoS state after the head (`None` for solo chains).
    pub fn aedpos_state(&self) -> Result<Option<umbra_consensus::aedpos::AedposState>, ChainError> {
        let head = self.head();
        Ok(self
            .engine
            .aedpos_state(&self.store.state_at(head.height))?)
    }

    fn execute(
        &self,
        parent: &Header,
        header_fields: (u64, PublicKey),
        txs: &[Transaction],
        mode: ExecMode,
    ) -> Result<umbra_runtime::BlockOutput, ExecError> {
        let recent = self.recent.read();
        let ctx = BlockContext {
            chain_id: self.spec.chain_id,
            height: parent.height + 1,
            timestamp_ms: header_fields.0,
            proposer: header_fields.1,
            randomness: block_randomness(&parent.hash()),
            params: &self.spec.params,
            ref_blocks: &*recent,
        };
        let state = self.store.state_at(parent.height);
        self.executor.execute_block(&state, &ctx, txs, mode)
    }

    /// Builds and signs the next block from `candidates` (signatures already
    /// verified), skipping the ones that cannot be included. Does not commit.
    pub fn produce(
        &self,
        key: &Keypair,
        candidates: &[Transaction],
        now_ms: u64,
    ) -> Result<Executed, ChainError> {
        let _w = self.write.lock();
        let parent = self.head();
        let parent_state = self.store.state_at(parent.height);
        let slot = self
            .engine
            .propose(&parent_state, &parent, key, now_ms)?
            .ok_or(ChainError::NotProposer)?;
        let mut out = self.execute(
            &parent,
            (slot.timestamp_ms, key.public()),
            candidates,
            ExecMode::Produce,
        )?;
        let txs: Vec<Transaction> = out
            .included
            .iter()
            .filter_map(|&i| candidates.get(i).cloned())
            .collect();
        let rejected = out
            .rejected
            .into_iter()
            .filter_map(|(i, r)| candidates.get(i).map(|t| (t.hash(), r)))
            .collect();
        let mut header = Header {
            chain_id: self.spec.chain_id,
            height: parent.height + 1,
            parent_hash: parent.hash(),
            timestamp_ms: slot.timestamp_ms,
            proposer: key.public(),
            tx_root: tx_root(&txs),
            state_root: Hash::ZERO,
            receipts_root: receipts_root(&out.receipts),
            consensus: slot.consensus,
            signature: Signature::default(),
        };
        // The engine's rules do not look at the state root, so the header
        // can be checked (and the consensus state computed) before it is set.
        if let Some((k, v)) = self.engine.check(&parent_state, &parent, &header)? {
            out.changes.insert(k, Some(v));
        }
        let (state_root, update) = self.store.prepare_state(&out.changes, parent.height + 1)?;
        header.state_root = state_root;
        let mut block = Block {
            header,
            transactions: txs,
        };
        key.sign_block(&mut block);
        Ok(Executed {
            block,
            receipts: out.receipts,
            update,
            rejected,
        })
    }

    /// Fully validates someone else's block against the head: chain rules,
    /// consensus rules, signatures, and roots by re-execution. Does not commit.
    pub fn validate(&self, block: Block, now_ms: u64) -> Result<Executed, ImportError> {
        let parent = self.head();
        let h = &block.header;
        let p = self.params();
        if h.chain_id != self.spec.chain_id {
            return Err(ImportError::WrongChain {
                expected: self.spec.chain_id,
                got: h.chain_id,
            });
        }
        if h.height != parent.height + 1 {
            return Err(ImportError::WrongHeight {
                head: parent.height,
                got: h.height,
            });
        }
        if h.parent_hash != parent.hash() {
            return Err(ImportError::WrongParent {
                head: parent.hash(),
                got: h.parent_hash,
            });
        }
        if h.timestamp_ms > now_ms.saturating_add(p.max_future_drift_ms) {
            return Err(ImportError::FromTheFuture {
                ts: h.timestamp_ms,
                now: now_ms,
                drift: p.max_future_drift_ms,
            });
        }
        let bytes: u64 = block
            .transactions
            .iter()
            .map(|t| t.encoded_len() as u64)
            .sum();
        if block.transactions.len() as u64 > p.max_block_txs || bytes > p.max_block_bytes {
            return Err(ImportError::TooBig {
                count: block.transactions.len(),
                bytes,
            });
        }
        let parent_state = self.store.state_at(parent.height);
        let consensus_entry = self.engine.check(&parent_state, &parent, h)?;
        verify_block_signature(&block).map_err(|_| ImportError::BadBlockSignature)?;
        self.verify_unseen_signatures(&block.transactions)?;
        if tx_root(&block.transactions) != h.tx_root {
            return Err(ImportError::TxRootMismatch);
        }
        let mut out = self.execute(
            &parent,
            (h.timestamp_ms, h.proposer),
            &block.transactions,
            ExecMode::Import,
        )?;
        if receipts_root(&out.receipts) != h.receipts_root {
            return Err(ImportError::ReceiptsRootMismatch);
        }
        if let Some((k, v)) = consensus_entry {
            out.changes.insert(k, Some(v));
        }
        let (root, update) = self.store.prepare_state(&out.changes, h.height)?;
        if root != h.state_root {
            return Err(ImportError::StateRootMismatch {
                expected: root,
                got: h.state_root,
            });
        }
        Ok(Executed {
            block,
            receipts: out.receipts,
            update,
            rejected: vec![],
        })
    }

    /// Validates and commits a block that must extend the head.
    pub fn import(&self, block: Block, now_ms: u64) -> Result<Header, ImportError> {
        let _w = self.write.lock();
        let ex = self.validate(block, now_ms)?;
        self.commit_locked(ex).map_err(ImportError::from)
    }

    /// Commits a block this node produced.
    pub fn commit(&self, ex: Executed) -> Result<Header, ChainError> {
        let _w = self.write.lock();
        self.commit_locked(ex)
    }

    fn commit_locked(&self, ex: Executed) -> Result<Header, ChainError> {
        // The head may have moved since `produce` (it holds no lock across the
        // call); refuse a block that no longer extends it.
        let head = self.head();
        if ex.block.header.parent_hash != head.hash() {
            return Err(ChainError::Stale {
                height: ex.block.header.height,
                head: head.height,
            });
        }
        self.store
            .commit_block(&ex.block, &ex.receipts, ex.update)?;
        let header = ex.block.header;
        self.recent.write().push(&header);
        *self.head.write() = header.clone();
        let lib = self
            .engine
            .irreversible_height(&self.store.state_at(header.height), &header);
        if lib > self.irreversible.load(Ordering::SeqCst) {
            self.irreversible.store(lib, Ordering::SeqCst);
            // Only a floor for fork choice after a restart: losing it to a
            // crash just lets the engine's own value take over again.
            self.store.meta_put(META_IRREVERSIBLE, &lib.to_be_bytes())?;
        }
        Ok(header)
    }

    /// Takes a block from the network or sync: extends the head, keeps it
    /// aside, or switches to its branch when that branch is longer than the
    /// head and forks at or above the irreversible height.
    pub fn receive(&self, block: Block, now_ms: u64) -> Result<Received, ImportError> {
        let _w = self.write.lock();
        let hash = block.hash();
        if self.store.height_of(&hash)?.is_some() || self.side.lock().contains(&hash) {
            return Ok(Received::Known);
        }
        self.look_for_equivocation(&block)?;
        let head = self.head();
        if block.header.parent_hash == head.hash() {
            let ex = self.validate(block, now_ms)?;
            let mut applied = vec![self.commit_locked(ex)?];
            self.connect_kept(&mut applied, now_ms);
            return Ok(Received::Extended(applied));
        }
        if block.header.chain_id != self.spec.chain_id {
            return Err(ImportError::WrongChain {
                expected: self.spec.chain_id,
                got: block.header.chain_id,
            });
        }
        let parent = &block.header.parent_hash;
        let parent_height = match self.store.height_of(parent)? {
            Some(h) => Some(h),
            None => self.side.lock().height_of(parent),
        };
        let Some(parent_height) = parent_height else {
            return Ok(Received::Orphan);
        };
        if block.header.height != parent_height + 1 {
            return Err(ImportError::WrongHeight {
                head: parent_height,
                got: block.header.height,
            });
        }
        let lib = self.irreversible_height();
        if block.header.height <= lib {
            // A branch off below the irreversible block can never win.
            return Ok(Received::Stale);
        }
        verify_block_signature(&block).map_err(|_| ImportError::BadBlockSignature)?;
        let branch = {
            let mut side = self.side.lock();
            side.insert(block);
            side.prune_at_or_below(lib);
            side.branch_to(&hash, |h| self.store.height_of(h).ok().flatten())
        };
        match branch {
            Some((fork, blocks)) if fork >= lib && self.prefer(&head, fork, &blocks)? => {
                self.reorganise(fork, blocks, now_ms)
            }
            _ => Ok(Received::Side),
        }
    }

    /// Fork choice between the head and a branch forking at `fork` (at or
    /// above the irreversible height): the one whose own irreversible
    /// height is higher, then the longer. Length alone can deadlock a
    /// network: miners that built on a block (finalising it for the nodes
    /// that saw all of that) may later follow a longer branch without it,
    /// and nodes holding either as irreversible then never agree again (the
    /// consensus simulation found such a run). The branch's irreversible
    /// height comes from replaying its headers' consensus rules; if that
    /// fails (a term change, see `replay_irreversible`), length decides.
    fn prefer(&self, head: &Header, fork: Height, branch: &[Block]) -> Result<bool, ChainError> {
        let tip = fork + branch.len() as u64;
        let longer = tip > head.height;
        if matches!(self.engine, Engine::Solo(_)) {
            return Ok(longer);
        }
        let Some(fork_header) = self.store.header(fork)? else {
            return Ok(longer);
        };
        let fork_state = self.store.state_at(fork);
        let Some(theirs) = self.engine.replay_irreversible(
            &fork_state,
            &fork_header,
            branch.iter().map(|b| &b.header),
        ) else {
            return Ok(longer);
        };
        let ours = self
            .engine
            .irreversible_height(&self.store.state_at(head.height), head);
        Ok((theirs, tip) > (ours, head.height))
    }

    /// Records `block` as evidence if its proposer also signed the main
    /// chain's (different) block at its height.
    fn look_for_equivocation(&self, block: &Block) -> Result<(), ImportError> {
        let Some(ours) = self.store.header(block.header.height)? else {
            return Ok(());
        };
        let Some(ev) = find_equivocation(&ours, &block.header) else {
            return Ok(());
        };
        // Only signed headers are evidence; an unsigned copy is noise.
        verify_block_signature(block).map_err(|_| ImportError::BadBlockSignature)?;
        let mut list = self.evidence.lock();
        let seen = list
            .iter()
            .any(|e| e.first.proposer == ev.first.proposer && e.first.height == ev.first.height);
        if !seen && list.len() < MAX_EVIDENCE {
            tracing::warn!(
                target: "umbra::chain",
                miner = %ev.first.proposer.address(),
                height = ev.first.height,
                "equivocation: the miner signed two blocks at one height"
            );
            list.push(ev);
        }
        Ok(())
    }

    /// Takes the equivocations seen since the last call, for reporting.
    pub fn take_evidence(&self) -> Vec<Equivocation> {
        std::mem::take(&mut *self.evidence.lock())
    }

    /// Imports kept blocks that build on the head, as long as there are.
    fn connect_kept(&self, applied: &mut Vec<Header>, now_ms: u64) {
        loop {
            let head = self.head();
            let Some(next) = self.side.lock().take_child_of(&head.hash()) else {
                return;
            };
            let hash = next.hash();
            match self.validate(next, now_ms).map(|ex| self.commit_locked(ex)) {
                Ok(Ok(h)) => applied.push(h),
                Ok(Err(e)) => {
                    tracing::warn!(target: "umbra::chain", block = %hash, error = %e, "could not commit a kept block");
                    return;
                }
                Err(e) => {
                    tracing::warn!(target: "umbra::chain", block = %hash, error = %e, "dropping an invalid kept block and its descendants");
                    self.side.lock().remove_descendants(&hash);
                }
            }
        }
    }

    /// Rolls back to `fork` and applies `branch` (heights fork+1…); if part
    /// of the branch turns out invalid and what is left is not longer than
    /// the old chain, restores the old chain.
    fn reorganise(
        &self,
        fork: Height,
        branch: Vec<Block>,
        now_ms: u64,
    ) -> Result<Received, ImportError> {
        let old_head = self.head();
        let mut reverted = Vec::new();
        for h in fork + 1..=old_head.height {
            reverted.push(
                self.store
                    .block(h)?
                    .ok_or_else(|| ChainError::Corrupt(format!("block {h} missing")))?,
            );
        }
        tracing::info!(
            target: "umbra::chain",
            fork,
            old_head = old_head.height,
            new_tip = fork + branch.len() as u64,
            "switching branches"
        );
        self.rollback_locked(fork)?;
        let mut applied = Vec::new();
        let mut failure = None;
        for b in branch {
            let hash = b.hash();
            self.side.lock().remove(&hash);
            match self.validate(b, now_ms) {
                Ok(ex) => applied.push(self.commit_locked(ex)?),
                Err(e) => {
                    tracing::warn!(target: "umbra::chain", block = %hash, error = %e, "branch block invalid");
                    self.side.lock().remove_descendants(&hash);
                    failure = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failure
            && applied.len() <= reverted.len()
        {
            // Not longer after all: back to the old chain, whose blocks were
            // valid a moment ago.
            let kept: Vec<Block> = applied
                .iter()
                .filter_map(|h| self.store.block(h.height).ok().flatten())
                .collect();
            self.rollback_locked(fork)?;
            for b in reverted {
                let ex = self.validate(b, now_ms)?;
                self.commit_locked(ex)?;
            }
            let mut side = self.side.lock();
            for b in kept {
                side.insert(b);
            }
            return Err(e);
        }
        {
            let mut side = self.side.lock();
            for b in &reverted {
                side.insert(b.clone());
            }
        }
        self.connect_kept(&mut applied, now_ms);
        Ok(Received::Reorganised { reverted, applied })
    }

    /// Undoes the blocks above `height` (never below the irreversible one).
    fn rollback_locked(&self, height: Height) -> Result<(), ChainError> {
        if height < self.irreversible_height() {
            return Err(ChainError::Corrupt(format!(
                "refusing to roll back below the irreversible height {}",
                self.irreversible_height()
            )));
        }
        // Held from before the state versions above `height` go until the
        // head points below them, so a reader holding the read lock never
        // sees a head whose state is gone.
        let mut head = self.head.write();
        self.store.rollback_to(height)?;
        let header = self
            .store
            .header(height)?
            .ok_or_else(|| ChainError::Corrupt(format!("header {height} missing")))?;
        *self.recent.write() =
            Recent::load(&self.store, self.spec.params.ref_block_window, height)?;
        *head = header;
        Ok(())
    }
}

/// The randomness a block's execution sees: a hash of its parent's hash.
/// Every node computes the same; AEDPoS will replace it with the miners'
/// revealed values.
pub fn block_randomness(parent: &umbra_types::Hash) -> [u8; 32] {
    umbra_types::sha256_parts(&[b"umbra/block-randomness/v1", &parent.0]).0
}

/// Checks every transaction signature of a block in parallel batches
/// (ZIP-215: batch and single verification agree, so the split does not
/// matter) and names the first bad one.
pub fn verify_tx_signatures(txs: &[Transaction]) -> Result<(), ImportError> {
    match first_invalid_signature(txs) {
        Some(index) => Err(ImportError::BadTxSignature { index }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::dev_spec;
    use umbra_crypto::dev_keypair;
    use umbra_runtime::SequentialExecutor;
    use umbra_storage::StoreConfig;
    use umbra_types::{Payload, RefBlock, UnsignedTransaction};

    fn open(dir: &std::path::Path) -> Chain {
        let (spec, _) = dev_spec(100, 1_000);
        let store = Store::open(
            dir,
            StoreConfig {
                prune_window: 16,
                sync_writes: false,
            },
        )
        .unwrap();
        let consensus = spec.consensus_engine(100).unwrap();
        Chain::open(store, spec, consensus, Box::new(SequentialExecutor)).unwrap()
    }

    fn transfer(chain: &Chain, from: &str, nonce: u64, amount: u128) -> Transaction {
        let k = dev_keypair(from);
        let head = chain.head();
        k.sign_transaction(UnsignedTransaction {
            chain_id: chain.spec().chain_id,
            sender: k.public(),
            nonce,
            ref_block: RefBlock::new(head.height, &head.hash()),
            max_fee: 1_000_000,
            payload: Payload::Transfer {
                to: dev_keypair("bob").address(),
                amount,
            },
        })
    }

    /// Blocks produced by a parallel-executing chain import into a
    /// sequential one and the other way round: same receipts root, same
    /// state root, with real RocksDB and JMT underneath.
    #[test]
    fn parallel_and_sequential_chains_accept_each_others_blocks() {
        use crate::spec::GenesisBalance;
        use umbra_runtime::ParallelExecutor;
        let keys: Vec<Keypair> = (0..160u32)
            .map(|i| Keypair::from_seed(umbra_types::sha256(&i.to_le_bytes()).0))
            .collect();
        let (mut spec, _) = dev_spec(100, 1_000);
        for k in &keys {
            spec.balances.push(GenesisBalance {
                address: k.address(),
                amount: "1000000000000".into(),
                name: None,
            });
        }
        let open_with = |dir: &std::path::Path, exec: Box<dyn Executor>| {
            let store = Store::open(dir, StoreConfig::default()).unwrap();
            let consensus = spec.consensus_engine(100).unwrap();
            Chain::open(store, spec.clone(), consensus, exec).unwrap()
        };
        let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let par = open_with(da.path(), Box::new(ParallelExecutor::new(2).unwrap()));
        let seq = open_with(db.path(), Box::new(SequentialExecutor));
        let v = dev_keypair("validator");
        let hot = dev_keypair("judy").address();
        let mut now = 100_000;
        for round in 0..6u64 {
            let head = par.head();
            let mut txs: Vec<Transaction> = keys
                .iter()
                .enumerate()
                .map(|(j, k)| {
                    let to = if (j as u64 * 13 + round) % 10 < round {
                        hot
                    } else {
                        keys[(j * 7 + round as usize * 3 + 1) % keys.len()].address()
                    };
                    k.sign_transaction(UnsignedTransaction {
                        chain_id: spec.chain_id,
                        sender: k.public(),
                        nonce: round,
                        ref_block: RefBlock::new(head.height, &head.hash()),
                        max_fee: 1_000_000,
                        payload: Payload::Transfer {
                            to,
                            amount: 1_000 + j as u128,
                        },
                    })
                })
                .collect();
            // A nonce gap the producer must leave out.
            txs[5] = transfer(&par, "alice", 99, 1);
            let (producer, importer) = if round % 2 == 0 {
                (&par, &seq)
            } else {
                (&seq, &par)
            };
            now += 100;
            let ex = producer.produce(&v, &txs, now).unwrap();
            assert_eq!(ex.rejected.len(), 1);
            assert_eq!(ex.block.transactions.len(), txs.len() - 1);
            let block = ex.block.clone();
            producer.commit(ex).unwrap();
            importer.import(block, now).unwrap();
            assert_eq!(par.head(), seq.head());
        }
        assert!(par.executor_info().stats.parallel_phases > 0);
    }

    #[test]
    fn produced_blocks_import_elsewhere_and_tampering_is_refused() {
        let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (open(da.path()), open(db.path()));
        assert_eq!(a.head().hash(), b.head().hash(), "same spec, same genesis");
        let v = dev_keypair("validator");
        let mut now = 100_000;
        for round in 0..20u64 {
            let txs = vec![
                transfer(&a, "alice", round, 5),
                transfer(&a, "carol", round, 7),
            ];
            let ex = a.produce(&v, &txs, now).unwrap();
            assert!(ex.rejected.is_empty());
            let block = ex.block.clone();
            a.commit(ex).unwrap();

            // Each tampering is caught and writes nothing.
            let head_before = b.head();
            let mut bad = block.clone();
            bad.header.state_root.0[0] ^= 1;
            v.sign_block(&mut bad);
            assert!(matches!(
                b.import(bad, now),
                Err(ImportError::StateRootMismatch { .. })
            ));
            let mut bad = block.clone();
            bad.transactions.swap(0, 1);
            v.sign_block(&mut bad);
            assert!(matches!(
                b.import(bad, now),
                Err(ImportError::TxRootMismatch)
            ));
            let mut bad = block.clone();
            bad.header.signature.0[3] ^= 1;
            assert!(matches!(
                b.import(bad, now),
                Err(ImportError::BadBlockSignature)
            ));
            let mut bad = block.clone();
            bad.transactions[0].signature.0[5] ^= 1;
            assert!(matches!(
                b.import(bad, now),
                Err(ImportError::BadTxSignature { index: 0 })
            ));
            let mut bad = block.clone();
            dev_keypair("mallory").sign_block(&mut bad);
            assert!(matches!(b.import(bad, now), Err(ImportError::Consensus(_))));
            let mut bad = block.clone();
            bad.header.height += 1;
            v.sign_block(&mut bad);
            assert!(matches!(
                b.import(bad, now),
                Err(ImportError::WrongHeight { .. })
            ));
            assert!(matches!(
                b.import(block.clone(), now - 10_000),
                Err(ImportError::FromTheFuture { .. })
            ));
            assert_eq!(b.head(), head_before);

            let h = b.import(block, now).unwrap();
            assert_eq!(h, a.head());
            now += 100;
        }
        assert_eq!(
            a.account(&dev_keypair("bob").address()).unwrap(),
            b.account(&dev_keypair("bob").address()).unwrap()
        );
    }

    #[test]
    fn reopening_resumes_at_the_head_and_rejects_another_spec() {
        let d = tempfile::tempdir().unwrap();
        let v = dev_keypair("validator");
        let head = {
            let c = open(d.path());
            for i in 0..5u64 {
                let ex = c
                    .produce(&v, &[transfer(&c, "alice", i, 1)], 2_000 + i * 100)
                    .unwrap();
                c.commit(ex).unwrap();
            }
            c.head()
        };
        let c = open(d.path());
        assert_eq!(c.head(), head);
        assert_eq!(c.account(&dev_keypair("alice").address()).unwrap().nonce, 5);
        // Reference blocks from before the restart are still known.
        assert!(c.check_ref_block(&transfer(&c, "alice", 5, 1)).is_ok());
        drop(c);
        // A spec that differs only in one genesis balance is another chain.
        let (mut other, _) = dev_spec(100, 1_000);
        other.balances[0].amount = "1".into();
        let store = Store::open(d.path(), StoreConfig::default()).unwrap();
        let engine = other.consensus_engine(100).unwrap();
        assert!(matches!(
            Chain::open(store, other, engine, Box::new(SequentialExecutor)),
            Err(ChainError::GenesisMismatch { .. })
        ));
    }

    #[test]
    fn producing_skips_invalid_transactions() {
        let d = tempfile::tempdir().unwrap();
        let c = open(d.path());
        let v = dev_keypair("validator");
        let good = transfer(&c, "alice", 0, 1);
        let replay = good.clone();
        let too_much = transfer(&c, "dave", 0, u128::MAX / 2);
        let ex = c
            .produce(&v, &[good.clone(), replay, too_much], 2_000)
            .unwrap();
        // The overdraft is included with a failed receipt (it pays its fee); the replay is left out.
        assert_eq!(ex.block.transactions.len(), 2);
        assert_eq!(ex.rejected.len(), 1);
        assert!(matches!(
            ex.receipts[1].status,
            umbra_types::TxStatus::Failed { .. }
        ));
        assert!(c.produce(&dev_keypair("alice"), &[], 2_000).is_err());
    }
}
