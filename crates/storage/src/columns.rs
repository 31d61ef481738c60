//! Column families and the RocksDB options they are opened with.

use rocksdb::{BlockBasedOptions, Cache, ColumnFamilyDescriptor, DBCompressionType, Options};

/// Header by height: height BE u64 -> borsh `Header`.
pub const HEADERS: &str = "headers";
/// Block hash -> height BE u64.
pub const HASH_INDEX: &str = "hash_index";
/// Block body by height: height BE u64 -> borsh `Vec<Transaction>`.
pub const BODIES: &str = "bodies";
/// Transaction hash -> borsh `TxLocation`.
pub const TX_INDEX: &str = "tx_index";
/// Receipts by height: height BE u64 -> borsh `Vec<Receipt>`.
pub const RECEIPTS: &str = "receipts";
/// Small named values: the head pointer, the pruning mark, and caller keys.
pub const META: &str = "meta";
/// JMT nodes: borsh `NodeKey` -> borsh `Node`.
pub const STATE_NODES: &str = "state_nodes";
/// State values: key_hash(32) ‖ version BE(8) -> borsh `Option<Vec<u8>>` (`None` = deleted).
pub const STATE_VALUES: &str = "state_values";
/// What becomes garbage once a version is pruned:
/// stale_since_version BE(8) ‖ tag(1) ‖ payload -> empty.
pub const STATE_STALE: &str = "state_stale";

/// Every column family the store opens.
pub const ALL: [&str; 9] = [
    HEADERS,
    HASH_INDEX,
    BODIES,
    TX_INDEX,
    RECEIPTS,
    META,
    STATE_NODES,
    STATE_VALUES,
    STATE_STALE,
];

/// Size of the block cache shared by all column families.
const BLOCK_CACHE_BYTES: usize = 64 << 20;

/// Options for the database as a whole.
pub(crate) fn db_options() -> Options {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    opts.set_keep_log_file_num(4);
    opts.set_max_background_jobs(2);
    opts
}

/// Descriptors for every column family, sharing one LRU block cache.
pub(crate) fn descriptors() -> Vec<ColumnFamilyDescriptor> {
    let cache = Cache::new_lru_cache(BLOCK_CACHE_BYTES);
    ALL.iter()
        .map(|name| ColumnFamilyDescriptor::new(*name, cf_options(&cache, name)))
        .collect()
}

fn cf_options(cache: &Cache, name: &str) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    // Point lookups (headers, indexes, JMT nodes) benefit from a bloom filter;
    // the value and stale families are only ever iterated, where it does not help.
    if name != STATE_VALUES && name != STATE_STALE {
        table.set_bloom_filter(10.0, false);
    }
    let mut opts = Options::default();
    opts.set_block_based_table_factory(&table);
    opts.set_compression_type(DBCompressionType::Lz4);
    opts
}
