//! The Kademlia record store: libp2p's `MemoryStore` with provider records
//! bounded per peer and in total.
//!
//! umbra keeps no values in the DHT (big data never goes in records), only
//! *provider* records: "peer P holds block H". Peers' records reach the store
//! only after `service` has looked at them (kad runs with
//! `StoreInserts::FilterBoth`); this wrapper then makes sure no peer can
//! take more than its share, and that peers together cannot crowd out the
//! keys this node provides itself. It sees every removal too (kad drops
//! expired records through `remove_provider`), so its counts stay exact.

use libp2p::PeerId;
use libp2p::kad::store::{self, MemoryStore, MemoryStoreConfig, RecordStore};
use libp2p::kad::{ProviderRecord, Record, RecordKey};
use std::borrow::Cow;
use std::collections::HashMap;

/// Limits of the provider store.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProviderLimits {
    /// Keys this node itself provides.
    pub local_keys: usize,
    /// Records of other peers, all together.
    pub remote_records: usize,
    /// Records of any one other peer.
    pub per_peer: usize,
}

pub(crate) struct ProviderStore {
    inner: MemoryStore,
    local: PeerId,
    limits: ProviderLimits,
    /// Records held per remote provider (only non-zero counts are kept).
    per_peer: HashMap<PeerId, usize>,
    remote_total: usize,
}

impl ProviderStore {
    pub(crate) fn new(local: PeerId, limits: ProviderLimits) -> Self {
        let config = MemoryStoreConfig {
            // Each local key and each remote record adds at most one key,
            // so remote records can never use up the room for our own.
            max_provided_keys: limits.local_keys.saturating_add(limits.remote_records),
            ..MemoryStoreConfig::default()
        };
        ProviderStore {
            inner: MemoryStore::with_config(local, config),
            local,
            limits,
            per_peer: HashMap::new(),
            remote_total: 0,
        }
    }

    /// Number of keys this node provides.
    pub(crate) fn local_keys(&self) -> usize {
        self.inner.provided().len()
    }

    /// Number of records of other peers.
    #[cfg(test)]
    pub(crate) fn remote_records(&self) -> usize {
        self.remote_total
    }

    fn holds(&self, key: &RecordKey, provider: &PeerId) -> bool {
        self.inner
            .providers(key)
            .iter()
            .any(|p| p.provider == *provider)
    }
}

impl RecordStore for ProviderStore {
    type RecordsIter<'a> = <MemoryStore as RecordStore>::RecordsIter<'a>;
    type ProvidedIter<'a> = <MemoryStore as RecordStore>::ProvidedIter<'a>;

    fn get(&self, k: &RecordKey) -> Option<Cow<'_, Record>> {
        self.inner.get(k)
    }

    fn put(&mut self, r: Record) -> store::Result<()> {
        self.inner.put(r)
    }

    fn remove(&mut self, k: &RecordKey) {
        self.inner.remove(k)
    }

    fn records(&self) -> Self::RecordsIter<'_> {
        self.inner.records()
    }

    fn add_provider(&mut self, record: ProviderRecord) -> store::Result<()> {
        let provider = record.provider;
        let key = record.key.clone();
        if self.holds(&key, &provider) {
            // A refresh of a record we hold: counts do not change.
            return self.inner.add_provider(record);
        }
        if provider == self.local {
            if self.local_keys() >= self.limits.local_keys {
                return Err(store::Error::MaxProvidedKeys);
            }
            return self.inner.add_provider(record);
        }
        let count = self.per_peer.get(&provider).copied().unwrap_or(0);
        if count >= self.limits.per_peer || self.remote_total >= self.limits.remote_records {
            return Err(store::Error::MaxRecords);
        }
        self.inner.add_provider(record)?;
        // The store silently ignores a new provider for a key that already
        // has its fill of providers: count only what it kept.
        if self.holds(&key, &provider) {
            self.per_peer.insert(provider, count + 1);
            self.remote_total += 1;
        }
        Ok(())
    }

    fn providers(&self, key: &RecordKey) -> Vec<ProviderRecord> {
        self.inner.providers(key)
    }

    fn provided(&self) -> Self::ProvidedIter<'_> {
        self.inner.provided()
    }

    fn remove_provider(&mut self, k: &RecordKey, p: &PeerId) {
        let counted = *p != self.local && self.holds(k, p);
        self.inner.remove_provider(k, p);
        if counted {
            self.remote_total = self.remote_total.saturating_sub(1);
            if let Some(n) = self.per_peer.get_mut(p) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.per_peer.remove(p);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u32) -> RecordKey {
        RecordKey::new(&i.to_le_bytes())
    }

    fn record(i: u32, provider: PeerId) -> ProviderRecord {
        ProviderRecord::new(key(i), provider, vec![])
    }

    #[test]
    fn each_peer_gets_its_share_and_our_own_keys_keep_room() {
        let me = PeerId::random();
        let limits = ProviderLimits {
            local_keys: 10,
            remote_records: 6,
            per_peer: 4,
        };
        let mut s = ProviderStore::new(me, limits);
        let (a, b) = (PeerId::random(), PeerId::random());
        for i in 0..4 {
            s.add_provider(record(i, a)).unwrap();
        }
        assert!(s.add_provider(record(4, a)).is_err(), "a is over its share");
        // Refreshing a held record is not a new one.
        s.add_provider(record(0, a)).unwrap();
        s.add_provider(record(0, b)).unwrap();
        s.add_provider(record(1, b)).unwrap();
        assert!(
            s.add_provider(record(2, b)).is_err(),
            "remote total is full"
        );
        assert_eq!(s.remote_records(), 6);
        // Peers filled their room; ours is intact.
        for i in 100..110 {
            s.add_provider(record(i, me)).unwrap();
        }
        assert!(s.add_provider(record(110, me)).is_err());
        assert_eq!(s.local_keys(), 10);
        // Removals (expiry goes through here too) free the room.
        s.remove_provider(&key(0), &a);
        s.remove_provider(&key(0), &a);
        assert_eq!(s.remote_records(), 5);
        s.add_provider(record(5, a)).unwrap();
        assert_eq!(s.providers(&key(5)).len(), 1);
        s.remove_provider(&key(100), &me);
        assert_eq!(s.local_keys(), 9);
        assert_eq!(s.remote_records(), 6);
    }

    #[test]
    fn records_the_store_drops_are_not_counted() {
        let me = PeerId::random();
        let limits = ProviderLimits {
            local_keys: 10,
            remote_records: 1000,
            per_peer: 1000,
        };
        let mut s = ProviderStore::new(me, limits);
        // One key takes at most K (20) providers; the rest are ignored.
        for _ in 0..30 {
            s.add_provider(record(1, PeerId::random())).unwrap();
        }
        assert_eq!(s.providers(&key(1)).len(), 20);
        assert_eq!(s.remote_records(), 20);
    }
}
