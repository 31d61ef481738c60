//! Reading blocks, receipts and the hash and transaction indexes.
//!
//! They are written only by [`Store::commit_block`](crate::Store::commit_block).

use crate::columns;
use crate::error::StorageError;
use crate::keys::{self, height_key};
use crate::store::Store;
use borsh::{BorshDeserialize, BorshSerialize};
use umbra_types::{Block, Hash, Header, Receipt, Transaction};

/// Where an included transaction is: block height and position in the block
/// (also its position in the block's receipts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize)]
pub struct TxLocation {
    pub height: u64,
    pub index: u32,
}

impl Store {
    /// The header at `height`, if that block is committed.
    pub fn header(&self, height: u64) -> Result<Option<Header>, StorageError> {
        match self
            .db
            .get_cf(self.cf(columns::HEADERS)?, height_key(height))?
        {
            Some(b) => Ok(Some(keys::decode(
                &b,
                keys::MAX_HEADER_BYTES,
                columns::HEADERS,
            )?)),
            None => Ok(None),
        }
    }

    /// The height of the committed block with this hash.
    pub fn height_of(&self, hash: &Hash) -> Result<Option<u64>, StorageError> {
        match self.db.get_cf(self.cf(columns::HASH_INDEX)?, hash.0)? {
            Some(b) => Ok(Some(keys::decode_u64(&b, columns::HASH_INDEX)?)),
            None => Ok(None),
        }
    }

    /// The header of the committed block with this hash.
    pub fn header_by_hash(&self, hash: &Hash) -> Result<Option<Header>, StorageError> {
        match self.height_of(hash)? {
            Some(h) => self.header(h),
            None => Ok(None),
        }
    }

    /// The full block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<Block>, StorageError> {
        let Some(header) = self.header(height)? else {
            return Ok(None);
        };
        let Some(body) = self
            .db
            .get_cf(self.cf(columns::BODIES)?, height_key(height))?
        else {
            let detail = format!("header at height {height} has no body");
            return Err(StorageError::corrupt(columns::BODIES, detail));
        };
        let transactions: Vec<Transaction> =
            keys::decode(&body, keys::MAX_BODY_BYTES, columns::BODIES)?;
        Ok(Some(Block {
            header,
            transactions,
        }))
    }

    /// The receipts of the block at `height`, in transaction order.
    pub fn receipts(&self, height: u64) -> Result<Option<Vec<Receipt>>, StorageError> {
        match self
            .db
            .get_cf(self.cf(columns::RECEIPTS)?, height_key(height))?
        {
            Some(b) => Ok(Some(keys::decode(
                &b,
                keys::MAX_RECEIPTS_BYTES,
                columns::RECEIPTS,
            )?)),
            None => Ok(None),
        }
    }

    /// Where the transaction with this hash was included.
    pub fn tx_location(&self, tx_hash: &Hash) -> Result<Option<TxLocation>, StorageError> {
        match self.db.get_cf(self.cf(columns::TX_INDEX)?, tx_hash.0)? {
            Some(b) => Ok(Some(keys::decode(
                &b,
                keys::MAX_TX_LOCATION_BYTES,
                columns::TX_INDEX,
            )?)),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{commit_height, open};

    #[test]
    fn blocks_receipts_and_indexes_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut blocks = Vec::new();
        {
            let store = open(dir.path(), 0);
            for h in 0..3 {
                let changes = crate::ChangeSet::from([(b"k".to_vec(), Some(vec![h as u8]))]);
                blocks.push(commit_height(&store, h, 2, &changes));
            }
        }
        let store = open(dir.path(), 0);
        let (b2, r2) = &blocks[2];
        assert_eq!(store.head().unwrap(), Some((2, b2.hash())));
        for (h, (block, receipts)) in blocks.iter().enumerate() {
            let h = h as u64;
            assert_eq!(store.block(h).unwrap().as_ref(), Some(block));
            assert_eq!(store.header(h).unwrap().as_ref(), Some(&block.header));
            assert_eq!(store.receipts(h).unwrap().as_ref(), Some(receipts));
            assert_eq!(store.height_of(&block.hash()).unwrap(), Some(h));
            assert_eq!(
                store.header_by_hash(&block.hash()).unwrap().as_ref(),
                Some(&block.header)
            );
            for (i, tx) in block.transactions.iter().enumerate() {
                let loc = TxLocation {
                    height: h,
                    index: i as u32,
                };
                assert_eq!(store.tx_location(&tx.hash()).unwrap(), Some(loc));
            }
        }
        assert_eq!(r2.len(), 2);
        assert_eq!(store.block(3).unwrap(), None);
        assert_eq!(store.receipts(3).unwrap(), None);
        assert_eq!(store.height_of(&Hash::ZERO).unwrap(), None);
        assert_eq!(store.tx_location(&Hash::ZERO).unwrap(), None);
        assert_eq!(store.state_get(b"k", 2).unwrap(), Some(vec![2]));
        assert_eq!(store.state_get(b"k", 0).unwrap(), Some(vec![0]));
    }

    #[test]
    fn corrupt_records_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 0);
        let changes = crate::ChangeSet::from([(b"k".to_vec(), Some(vec![1]))]);
        let (block, _) = commit_height(&store, 0, 1, &changes);
        let garbage = [0xffu8; 13];
        store
            .raw_put(columns::HEADERS, &height_key(0), &garbage)
            .unwrap();
        assert!(matches!(
            store.header(0),
            Err(StorageError::Corrupt {
                what: "headers",
                ..
            })
        ));
        assert!(matches!(store.block(0), Err(StorageError::Corrupt { .. })));
        store
            .raw_put(columns::BODIES, &height_key(0), &garbage)
            .unwrap();
        store
            .raw_put(
                columns::HEADERS,
                &height_key(0),
                &umbra_types::encode(&block.header),
            )
            .unwrap();
        assert!(matches!(
            store.block(0),
            Err(StorageError::Corrupt { what: "bodies", .. })
        ));
        store
            .raw_put(columns::RECEIPTS, &height_key(0), &garbage)
            .unwrap();
        assert!(matches!(
            store.receipts(0),
            Err(StorageError::Corrupt { .. })
        ));
        store
            .raw_put(columns::HASH_INDEX, &block.hash().0, &garbage)
            .unwrap();
        assert!(matches!(
            store.height_of(&block.hash()),
            Err(StorageError::Corrupt { .. })
        ));
        let tx = block.transactions[0].hash();
        store.raw_put(columns::TX_INDEX, &tx.0, &garbage).unwrap();
        assert!(matches!(
            store.tx_location(&tx),
            Err(StorageError::Corrupt { .. })
        ));
        // A header without a body.
        store
            .raw_put(
                columns::HEADERS,
                &height_key(1),
                &umbra_types::encode(&block.header),
            )
            .unwrap();
        assert!(matches!(
            store.block(1),
            Err(StorageError::Corrupt { what: "bodies", .. })
        ));
    }
}
