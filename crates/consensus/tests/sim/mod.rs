//! A deterministic simulation of AEDPoS miners: simulated clock, simulated
//! network (delay, loss, partitions), crashes and restarts. Everything
//! random comes from one seeded generator and every collection that is
//! iterated is ordered, so a seed always replays the same run.
//!
//! Nodes keep a block tree with the consensus state after each block,
//! follow the longest valid chain that contains their irreversible block,
//! announce their head every tick and fetch unknown blocks from whoever
//! announced them (so lost messages are repaired). The simulator records
//! every block any node ever considered irreversible, per height, and
//! counts a violation if two differ.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use umbra_consensus::aedpos::{Aedpos, AedposConfig, AedposState};
use umbra_types::{Hash, Header, Height, PublicKey, Signature, sha256, sha256_parts};

/// Parents a node waits for at most (orphans beyond are dropped and
/// fetched again later).
const MAX_ORPHAN_PARENTS: usize = 4096;
/// Headers per answer to a `Want`.
const SYNC_BATCH: usize = 64;

/// xorshift64*: small, seeded, no dependencies.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    /// True with probability `permille`/1000.
    pub fn chance(&mut self, permille: u64) -> bool {
        self.below(1000) < permille
    }
}

#[derive(Clone, Debug)]
enum Msg {
    /// New blocks, or a stretch of a chain answering `Want`; oldest first.
    Blocks(Vec<Header>),
    Status {
        head: Hash,
        height: Height,
    },
    Want(Hash),
}

#[derive(Clone, Debug)]
enum Event {
    Tick(usize),
    Deliver { to: usize, from: usize, msg: Msg },
}

struct Entry {
    header: Header,
    state: AedposState,
}

pub struct Node {
    key: PublicKey,
    secret: [u8; 32],
    pub alive: bool,
    /// Only ever looked up, never iterated, so its order cannot leak in.
    blocks: HashMap<Hash, Entry>,
    /// Headers waiting for their parent, by parent hash.
    orphans: BTreeMap<Hash, Vec<(usize, Header)>>,
    pub head: Hash,
    pub irreversible: (Height, Hash),
    pub produced: u64,
}

impl Node {
    pub fn head_height(&self) -> Height {
        self.blocks.get(&self.head).map_or(0, |e| e.header.height)
    }

    /// The ancestor of `from` at `height` (or `None` past the tree).
    fn ancestor(&self, mut from: Hash, height: Height) -> Option<Hash> {
        loop {
            let e = self.blocks.get(&from)?;
            if e.header.height == height {
                return Some(from);
            }
            if e.header.height < height {
                return None;
            }
            from = e.header.parent_hash;
        }
    }
}

/// Network conditions, changed by scenarios between phases.
#[derive(Clone, Debug)]
pub struct Conditions {
    /// Nodes talk only within their group.
    pub group: Vec<u8>,
    pub loss_permille: u64,
    pub delay_ms: (u64, u64),
}

pub struct Sim {
    pub now: u64,
    pub engine: Aedpos,
    pub nodes: Vec<Node>,
    pub conditions: Conditions,
    rng: Rng,
    queue: BinaryHeap<Reverse<(u64, u64, usize)>>,
    events: BTreeMap<usize, Event>,
    seq: u64,
    tick_ms: u64,
    /// Every block ever irreversible at a node, by height.
    pub finalized: BTreeMap<Height, Hash>,
    pub violations: Vec<String>,
    pub invalid_blocks: u64,
    pub messages: u64,
}

impl Sim {
    pub fn new(n: usize, config: AedposConfig, seed: u64) -> Self {
        let keys: Vec<PublicKey> = (0..n)
            .map(|i| PublicKey(sha256(format!("sim-miner-{i}").as_bytes()).0))
            .collect();
        let engine = Aedpos::new(config);
        let genesis = Header {
            chain_id: 1,
            height: 0,
            parent_hash: Hash::ZERO,
            timestamp_ms: 0,
            proposer: PublicKey::default(),
            tx_root: Hash::ZERO,
            state_root: Hash::ZERO,
            receipts_root: Hash::ZERO,
            consensus: vec![],
            signature: Signature::default(),
        };
        let gh = genesis.hash();
        let gstate = engine.genesis(&keys, 0);
        let nodes = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let mut blocks = HashMap::new();
                blocks.insert(
                    gh,
                    Entry {
                        header: genesis.clone(),
                        state: gstate.clone(),
                    },
                );
                Node {
                    key: *k,
                    secret: sha256_parts(&[b"sim-secret", &(i as u64).to_be_bytes()]).0,
                    alive: true,
                    blocks,
                    orphans: BTreeMap::new(),
                    head: gh,
                    irreversible: (0, gh),
                    produced: 0,
                }
            })
            .collect();
        let mut sim = Sim {
            now: 0,
            engine,
            nodes,
            conditions: Conditions {
                group: vec![0; n],
                loss_permille: 0,
                delay_ms: (5, 50),
            },
            rng: Rng::new(seed),
            queue: BinaryHeap::new(),
            events: BTreeMap::new(),
            seq: 0,
            tick_ms: 50,
            finalized: BTreeMap::from([(0, gh)]),
            violations: Vec::new(),
            invalid_blocks: 0,
            messages: 0,
        };
        for i in 0..n {
            // Nodes tick out of phase with each other.
            let offset = sim.rng.below(sim.tick_ms);
            sim.schedule(offset, Event::Tick(i));
        }
        sim
    }

    fn schedule(&mut self, at: u64, e: Event) {
        let id = self.seq as usize;
        self.seq += 1;
        self.events.insert(id, e);
        self.queue.push(Reverse((at, self.seq, id)));
    }

    /// Runs until simulated time `until`.
    pub fn run_until(&mut self, until: u64) {
        while let Some(Reverse((at, _, id))) = self.queue.peek().copied() {
            if at > until {
                break;
            }
            self.queue.pop();
            self.now = at;
            if let Some(e) = self.events.remove(&id) {
                self.handle(e);
            }
        }
        self.now = until;
    }

    fn handle(&mut self, e: Event) {
        match e {
            Event::Tick(i) => {
                if self.nodes[i].alive {
                    self.tick(i);
                }
                self.schedule(self.now + self.tick_ms, Event::Tick(i));
            }
            Event::Deliver { to, from, msg } => {
                if self.nodes[to].alive {
                    self.receive(to, from, msg);
                }
            }
        }
    }

    fn send(&mut self, from: usize, to: usize, msg: Msg) {
        if from == to
            || self.conditions.group[from] != self.conditions.group[to]
            || self.rng.chance(self.conditions.loss_permille)
        {
            return;
        }
        self.messages += 1;
        let (lo, hi) = self.conditions.delay_ms;
        let delay = lo + self.rng.below(hi.saturating_sub(lo) + 1);
        self.schedule(self.now + delay, Event::Deliver { to, from, msg });
    }

    fn broadcast(&mut self, from: usize, msg: Msg) {
        for to in 0..self.nodes.len() {
            self.send(from, to, msg.clone());
        }
    }

    fn tick(&mut self, i: usize) {
        let node = &self.nodes[i];
        let Some(parent) = node.blocks.get(&node.head) else {
            return;
        };
        let proposal = self.engine.propose(
            &parent.state,
            &parent.header,
            &node.key,
            &node.secret,
            &[],
            self.now,
        );
        if let Some(p) = proposal.filter(|p| p.timestamp_ms <= self.now) {
            let header = Header {
                chain_id: 1,
                height: parent.header.height + 1,
                parent_hash: node.head,
                timestamp_ms: p.timestamp_ms,
                proposer: node.key,
                tx_root: Hash::ZERO,
                state_root: Hash::ZERO,
                receipts_root: Hash::ZERO,
                consensus: p.data.to_bytes(),
                signature: Signature::default(),
            };
            self.nodes[i].produced += 1;
            self.import(i, i, header.clone(), false);
            self.broadcast(i, Msg::Blocks(vec![header]));
        }
        let (head, height) = (self.nodes[i].head, self.nodes[i].head_height());
        self.broadcast(i, Msg::Status { head, height });
    }

    fn receive(&mut self, to: usize, from: usize, msg: Msg) {
        match msg {
            Msg::Blocks(hs) => {
                // Only the oldest can be missing a parent we should ask
                // for; the rest hang off it.
                for (k, h) in hs.into_iter().enumerate() {
                    self.import(to, from, h, k == 0);
                }
            }
            Msg::Status { head, height } => {
                let n = &self.nodes[to];
                if height > n.head_height() && !n.blocks.contains_key(&head) {
                    self.send(to, from, Msg::Want(head));
                }
            }
            Msg::Want(hash) => {
                // The wanted block and up to SYNC_BATCH - 1 ancestors, so a
                // node far behind catches up faster than the chain grows.
                let n = &self.nodes[to];
                let mut stretch = Vec::new();
                let mut at = hash;
                while let Some(e) = n.blocks.get(&at) {
                    stretch.push(e.header.clone());
                    if stretch.len() == SYNC_BATCH || e.header.height == 0 {
                        break;
                    }
                    at = e.header.parent_hash;
                }
                if !stretch.is_empty() {
                    stretch.reverse();
                    self.send(to, from, Msg::Blocks(stretch));
                }
            }
        }
    }

    /// Validates and inserts a header (and any orphans waiting on it), then
    /// runs fork choice.
    fn import(&mut self, i: usize, from: usize, header: Header, ask: bool) {
        let hash = header.hash();
        if self.nodes[i].blocks.contains_key(&hash) {
            return;
        }
        let parent_hash = header.parent_hash;
        if !self.nodes[i].blocks.contains_key(&parent_hash) {
            let node = &mut self.nodes[i];
            if node.orphans.len() < MAX_ORPHAN_PARENTS {
                let waiting = node.orphans.entry(parent_hash).or_default();
                if waiting.len() < 8 && !waiting.iter().any(|(_, h)| h.hash() == hash) {
                    waiting.push((from, header));
                }
            }
            if ask {
                self.send(i, from, Msg::Want(parent_hash));
            }
            return;
        }
        let mut work = vec![header];
        while let Some(h) = work.pop() {
            let node = &mut self.nodes[i];
            let Some(parent) = node.blocks.get(&h.parent_hash) else {
                continue;
            };
            if h.height != parent.header.height + 1 {
                self.invalid_blocks += 1;
                continue;
            }
            match self.engine.apply(&parent.state, &parent.header, &h, &[]) {
                Ok(state) => {
                    let hh = h.hash();
                    node.blocks.insert(hh, Entry { header: h, state });
                    if let Some(children) = node.orphans.remove(&hh) {
                        work.extend(children.into_iter().map(|(_, h)| h));
                    }
                    self.choose(i, hh);
                }
                Err(_) => self.invalid_blocks += 1,
            }
        }
    }

    /// Among valid chains containing the node's irreversible block: the
    /// one whose own irreversible height is highest, then the longest.
    /// Length alone can deadlock: miners that built on a block (finalising
    /// it for the nodes that saw all of that) may later follow a longer
    /// branch without it, and the two sides then never agree again.
    fn choose(&mut self, i: usize, candidate: Hash) {
        let node = &self.nodes[i];
        let Some(c) = node.blocks.get(&candidate) else {
            return;
        };
        let Some(head) = node.blocks.get(&node.head) else {
            return;
        };
        if (c.state.irreversible, c.header.height) <= (head.state.irreversible, head.header.height)
        {
            return;
        }
        let (lib_h, lib_hash) = node.irreversible;
        if node.ancestor(candidate, lib_h) != Some(lib_hash) {
            return;
        }
        let new_lib = c.state.irreversible;
        self.nodes[i].head = candidate;
        if new_lib > lib_h {
            let Some(lib_hash) = self.nodes[i].ancestor(candidate, new_lib) else {
                self.violations.push(format!(
                    "node {i}: irreversible height {new_lib} beyond its tree"
                ));
                return;
            };
            self.nodes[i].irreversible = (new_lib, lib_hash);
            // Record the newly irreversible stretch of the chain.
            let mut at = lib_hash;
            while let Some(e) = self.nodes[i].blocks.get(&at) {
                if e.header.height <= lib_h {
                    break;
                }
                let height = e.header.height;
                match self.finalized.get(&height) {
                    Some(h) if *h != at => self.violations.push(format!(
                        "height {height}: node {i} finalised {at} but another node finalised {h}"
                    )),
                    _ => {
                        self.finalized.insert(height, at);
                    }
                }
                at = e.header.parent_hash;
            }
        }
    }

    pub fn crash(&mut self, i: usize) {
        self.nodes[i].alive = false;
    }

    /// Restarts a node: it keeps every block it had (nothing committed is
    /// lost) and catches up from what peers announce.
    pub fn restart(&mut self, i: usize) {
        self.nodes[i].alive = true;
    }

    /// A digest of everything observable: each node's head and
    /// irreversible block, and the global record.
    pub fn digest(&self) -> Hash {
        let mut parts: Vec<u8> = Vec::new();
        for n in &self.nodes {
            parts.extend_from_slice(&n.head.0);
            parts.extend_from_slice(&n.irreversible.0.to_be_bytes());
            parts.extend_from_slice(&n.irreversible.1.0);
            parts.extend_from_slice(&n.produced.to_be_bytes());
        }
        for (h, b) in &self.finalized {
            parts.extend_from_slice(&h.to_be_bytes());
            parts.extend_from_slice(&b.0);
        }
        parts.extend_from_slice(&self.messages.to_be_bytes());
        sha256(&parts)
    }

    pub fn min_irreversible(&self, members: &[usize]) -> Height {
        members
            .iter()
            .map(|&i| self.nodes[i].irreversible.0)
            .min()
            .unwrap_or(0)
    }
}
