//! Versioned state in a Jellyfish Merkle tree: reads, roots, proofs, and
//! preparing the tree update for the next block.

use crate::Version;
use crate::change_set::ChangeSet;
use crate::columns;
use crate::error::StorageError;
use crate::head_cache::Hit;
use crate::jmt_store::{StateReader, read_earliest};
use crate::keys::{self, MAX_STATE_VALUE_LEN};
use crate::store::Store;
use crate::view::StateAt;
use borsh::{BorshDeserialize, BorshSerialize};
use jmt::proof::SparseMerkleProof;
use jmt::storage::TreeUpdateBatch;
use jmt::{KeyHash, RootHash, Sha256Jmt};
use sha2::Sha256;
use umbra_types::Hash;

/// Root of the empty state tree (jmt's placeholder hash).
pub const EMPTY_STATE_ROOT: Hash = Hash(*b"SPARSE_MERKLE_PLACEHOLDER_HASH__");

/// The JMT key of a state key.
pub fn key_hash(key: &[u8]) -> KeyHash {
    KeyHash::with::<Sha256>(key)
}

/// The tree changes of one block, computed by [`Store::prepare_state`] and
/// written by [`Store::commit_block`]. Holds the new nodes, the new values and
/// the nodes the update made stale.
#[derive(Clone, Debug)]
pub struct StateUpdate {
    pub(crate) version: Version,
    pub(crate) root: Hash,
    pub(crate) batch: TreeUpdateBatch,
}

impl StateUpdate {
    /// The version (block height) this update creates.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The state root after the update.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// The raw jmt batch.
    pub fn batch(&self) -> &TreeUpdateBatch {
        &self.batch
    }
}

/// Proof that a key has a value, or has none, under a state root.
#[derive(Clone, Debug, PartialEq, BorshSerialize, BorshDeserialize)]
pub struct StateProof(pub SparseMerkleProof<Sha256>);

impl StateProof {
    /// Checks that under `root`, `key` holds `value` (`None`: the key is absent).
    pub fn verify(&self, root: Hash, key: &[u8], value: Option<&[u8]>) -> bool {
        self.0
            .verify(RootHash(root.0), key_hash(key), value)
            .is_ok()
    }
}

impl Store {
    /// A read-only view of the state at `version`.
    pub fn state_at(&self, version: Version) -> StateAt<'_> {
        StateAt::new(self, version)
    }

    /// The value of `key` as of `version`: the newest write at or before it.
    /// Errors if `version` is pruned or not committed.
    ///
    /// Answered from the head-state cache when it can tell exactly (see the
    /// crate's `head_cache` module); otherwise read from the database, and a
    /// read at the head fills the cache.
    pub fn state_get(&self, key: &[u8], version: Version) -> Result<Option<Vec<u8>>, StorageError> {
        let kh = key_hash(key);
        if let Hit::Value(value) = self.head_cache.get(&kh, version) {
            return Ok(value);
        }
        // Before the snapshot: a commit finishing in between voids the fill.
        let ticket = self.head_cache.ticket();
        let reader = StateReader::new(self);
        let head = reader.check_version(version)?;
        let found = reader.value_entry(&kh, version)?;
        if version == head {
            let seen = found.as_ref().map(|(u, v)| (*u, v.as_deref()));
            self.head_cache.fill(ticket, head, kh, seen);
        }
        Ok(found.and_then(|(_, value)| value))
    }

    /// The state root at `version`. Errors if it is pruned or not committed.
    pub fn state_root(&self, version: Version) -> Result<Hash, StorageError> {
        let reader = StateReader::new(self);
        reader.check_version(version)?;
        let root = Sha256Jmt::new(&reader)
            .get_root_hash(version)
            .map_err(StorageError::from_jmt)?;
        Ok(Hash(root.0))
    }

    /// The value of `key` at `version` with a proof against [`Store::state_root`].
    pub fn state_get_with_proof(
        &self,
        key: &[u8],
        version: Version,
    ) -> Result<(Option<Vec<u8>>, StateProof), StorageError> {
        let reader = StateReader::new(self);
        reader.check_version(version)?;
        let (value, proof) = Sha256Jmt::new(&reader)
            .get_with_proof(key_hash(key), version)
            .map_err(StorageError::from_jmt)?;
        Ok((value, StateProof(proof)))
    }

    /// Computes the state root after applying `changes` (`None` deletes) at
    /// `version` on top of `version - 1`, without writing anything. Pass the
    /// returned update to [`Store::commit_block`].
    pub fn prepare_state(
        &self,
        changes: &ChangeSet,
        version: Version,
    ) -> Result<(Hash, StateUpdate), StorageError> {
        self.prepare_state_with(changes, version, changes.values().any(Option::is_none))
    }

    /// [`Store::prepare_state`], choosing the tree walk: `per_key` inserts
    /// one key at a time, re-walking and re-hashing the path from the root
    /// for every key; otherwise one batch walk touches and hashes each
    /// changed node once (several times faster for a block of transfers).
    /// jmt's batch walk cannot delete, so deletes need `per_key`. Both walks
    /// build the same tree; a test checks.
    fn prepare_state_with(
        &self,
        changes: &ChangeSet,
        version: Version,
        per_key: bool,
    ) -> Result<(Hash, StateUpdate), StorageError> {
        if changes.is_empty() {
            return Err(StorageError::EmptyChangeSet { version });
        }
        if let Some(len) = changes
            .values()
            .flatten()
            .map(Vec::len)
            .find(|l| *l > MAX_STATE_VALUE_LEN)
        {
            return Err(StorageError::ValueTooLarge {
                len,
                max: MAX_STATE_VALUE_LEN,
            });
        }
        let reader = StateReader::new(self);
        if version > 0 {
            reader.check_version(version - 1)?;
        }
        let tree = Sha256Jmt::new(&reader);
        let (root, batch) = if per_key {
            let set = changes.iter().map(|(k, v)| (key_hash(k), v.clone()));
            tree.put_value_set(set, version)
        } else {
            let set: Vec<(KeyHash, Vec<u8>)> = changes
                .iter()
                .filter_map(|(k, v)| v.clone().map(|v| (key_hash(k), v)))
                .collect();
            tree.batch_put_value_sets(vec![set], None, version)
                .and_then(|(roots, batch)| match roots.first() {
                    Some(root) => Ok((*root, batch)),
                    None => Err(anyhow::anyhow!("jmt returned no root for one value set")),
                })
        }
        .map_err(StorageError::from_jmt)?;
        let root = Hash(root.0);
        Ok((
            root,
            StateUpdate {
                version,
                root,
                batch,
            },
        ))
    }

    /// The oldest state version still queryable (0 until pruning starts).
    pub fn earliest_state_version(&self) -> Result<Version, StorageError> {
        read_earliest(self.meta_raw(keys::META_EARLIEST_STATE)?)
    }

    fn meta_raw(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.db.get_cf(self.cf(columns::META)?, key)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{commit_height, open};
    use crate::view::StateView;

    fn set(pairs: &[(&str, Option<&str>)]) -> ChangeSet {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec())))
            .collect()
    }

    fn get(store: &Store, key: &str, version: Version) -> Option<String> {
        store
            .state_get(key.as_bytes(), version)
            .unwrap()
            .map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn empty_root_constant_matches_jmt() {
        assert_eq!(EMPTY_STATE_ROOT.0, Sha256Jmt::<StateReader>::EMPTY_ROOT.0);
    }

    #[test]
    fn versions_deletes_and_roots() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 0);
        let sets = [
            set(&[("a", Some("a0")), ("b", Some("b0"))]),
            set(&[("a", Some("a1")), ("c", Some("c1"))]),
            set(&[("b", None), ("zz", None)]),
            set(&[("b", Some("b3")), ("a", None)]),
        ];
        let mut roots = Vec::new();
        for (h, s) in sets.iter().enumerate() {
            let (block, _) = commit_height(&store, h as u64, 1, s);
            roots.push(block.header.state_root);
        }
        for (v, root) in roots.iter().enumerate() {
            assert_eq!(store.state_root(v as u64).unwrap(), *root);
        }
        assert_ne!(roots[0], roots[1]);
        let expect = [
            [Some("a0"), Some("b0"), None],
            [Some("a1"), Some("b0"), Some("c1")],
            [Some("a1"), None, Some("c1")],
            [None, Some("b3"), Some("c1")],
        ];
        for (v, row) in expect.iter().enumerate() {
            for (key, want) in ["a", "b", "c"].iter().zip(row) {
                assert_eq!(get(&store, key, v as u64).as_deref(), *want, "{key} at {v}");
                assert_eq!(
                    store.state_at(v as u64).get(key.as_bytes()).unwrap(),
                    get(&store, key, v as u64).map(String::into_bytes)
                );
            }
            assert_eq!(get(&store, "zz", v as u64), None);
        }
        assert!(matches!(
            store.state_get(b"a", 4),
            Err(StorageError::MissingVersion {
                version: 4,
                latest: Some(3)
            })
        ));
        assert!(matches!(
            store.state_root(9),
            Err(StorageError::MissingVersion { .. })
        ));
        assert_eq!(store.earliest_state_version().unwrap(), 0);
    }

    #[test]
    fn prepare_errors() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 0);
        assert!(matches!(
            store.prepare_state(&ChangeSet::new(), 0),
            Err(StorageError::EmptyChangeSet { version: 0 })
        ));
        // Nothing committed: version 1 has no base.
        assert!(matches!(
            store.prepare_state(&set(&[("a", Some("1"))]), 1),
            Err(StorageError::MissingVersion {
                version: 0,
                latest: None
            })
        ));
        assert!(matches!(
            store.state_root(0),
            Err(StorageError::MissingVersion { .. })
        ));
        let big = ChangeSet::from([(b"k".to_vec(), Some(vec![0u8; MAX_STATE_VALUE_LEN + 1]))]);
        assert!(matches!(
            store.prepare_state(&big, 0),
            Err(StorageError::ValueTooLarge { .. })
        ));
        // Preparing writes nothing.
        let (root, update) = store.prepare_state(&set(&[("a", Some("1"))]), 0).unwrap();
        assert_eq!(update.root(), root);
        assert_eq!(update.version(), 0);
        assert_eq!(store.head().unwrap(), None);
        assert_eq!(store.count_keys(columns::STATE_NODES), 0);
    }

    #[test]
    fn only_deletes_of_absent_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 0);
        let (b0, _) = commit_height(&store, 0, 0, &set(&[("a", Some("1"))]));
        let (b1, _) = commit_height(&store, 1, 0, &set(&[("nope", None)]));
        assert_eq!(b0.header.state_root, b1.header.state_root);
        assert_eq!(store.state_root(1).unwrap(), b0.header.state_root);
        assert_eq!(get(&store, "a", 1).as_deref(), Some("1"));
    }

    #[test]
    fn proofs_verify_and_tampering_fails() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 0);
        let keys: Vec<String> = (0..40).map(|i| format!("key{i}")).collect();
        let first: ChangeSet = keys
            .iter()
            .map(|k| (k.clone().into_bytes(), Some(k.repeat(2).into_bytes())))
            .collect();
        commit_height(&store, 0, 0, &first);
        commit_height(&store, 1, 0, &set(&[("key3", Some("new")), ("key4", None)]));
        let root0 = store.state_root(0).unwrap();
        let root1 = store.state_root(1).unwrap();
        for (key, version, want) in [
            ("key3", 1, Some(&b"new"[..])),
            ("key3", 0, Some(&b"key3key3"[..])),
            ("key5", 1, Some(&b"key5key5"[..])),
            ("key4", 1, None),
            ("absent", 1, None),
            ("absent", 0, None),
        ] {
            let (value, proof) = store.state_get_with_proof(key.as_bytes(), version).unwrap();
            assert_eq!(value.as_deref(), want, "{key}@{version}");
            let root = if version == 0 { root0 } else { root1 };
            let other = if version == 0 { root1 } else { root0 };
            assert!(proof.verify(root, key.as_bytes(), want), "{key}@{version}");
            assert!(
                !proof.verify(other, key.as_bytes(), want),
                "wrong root {key}@{version}"
            );
            assert!(!proof.verify(root, key.as_bytes(), Some(b"wrong")));
            if want.is_some() {
                assert!(!proof.verify(root, key.as_bytes(), None));
            }
            // Survives an encode/decode round trip (e.g. over RPC).
            let bytes = umbra_types::encode(&proof);
            let back: StateProof = umbra_types::decode_bounded(&bytes, 1 << 20).unwrap();
            assert!(back.verify(root, key.as_bytes(), want));
        }
        // A proof for one key does not prove another.
        let (_, proof) = store.state_get_with_proof(b"key5", 1).unwrap();
        assert!(!proof.verify(root1, b"key6", Some(b"key5key5")));
    }

    #[test]
    fn corrupt_value_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 0);
        commit_height(&store, 0, 0, &set(&[("a", Some("1"))]));
        let k = keys::value_key(&key_hash(b"a"), 0);
        store
            .raw_put(columns::STATE_VALUES, &k, &[7, 7, 7])
            .unwrap();
        assert!(matches!(
            store.state_get(b"a", 0),
            Err(StorageError::Corrupt { .. })
        ));
        assert!(matches!(
            store.state_get_with_proof(b"a", 0),
            Err(StorageError::Corrupt { .. })
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        // The batch walk and the per-key walk build the same tree: same
        // roots at every version, and proofs from the batch-built store
        // verify against those roots.
        #[test]
        fn batch_and_per_key_walks_agree(blocks in proptest::collection::vec(
            proptest::collection::btree_map(
                proptest::collection::vec(0u8..6, 1..4),
                proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
                1..40,
            ),
            1..6,
        )) {
            let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let (batch, per_key) = (open(da.path(), 0), open(db.path(), 0));
            for (h, set) in blocks.iter().enumerate() {
                let changes: ChangeSet =
                    set.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
                let (ra, ua) = batch.prepare_state_with(&changes, h as u64, false).unwrap();
                let (rb, ub) = per_key.prepare_state_with(&changes, h as u64, true).unwrap();
                proptest::prop_assert_eq!(ra, rb);
                crate::testutil::commit_update(&batch, h as u64, 1, ra, ua);
                crate::testutil::commit_update(&per_key, h as u64, 1, rb, ub);
                for (k, v) in &changes {
                    let (got, proof) = batch.state_get_with_proof(k, h as u64).unwrap();
                    proptest::prop_assert_eq!(&got, v);
                    proptest::prop_assert!(proof.verify(ra, k, got.as_deref()));
                }
            }
        }
    }
}
