use super::*;
use crate::manifest::Manifest;
use crate::scheme::Scheme;
use crate::{BLOCK_SIZE, encode_stream};
use std::fs;
use std::sync::Arc;
use tempfile::TempDir;

fn block(n: u8, len: usize) -> (Hash, Vec<u8>) {
    let bytes = vec![n; len];
    (sha256(&bytes), bytes)
}

fn store(cap: u64) -> (TempDir, BlockStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = BlockStore::open(dir.path(), cap).unwrap();
    (dir, s)
}

#[test]
fn put_get_has_delete() {
    let (dir, s) = store(1 << 20);
    let (id, bytes) = block(1, 1000);
    assert!(!s.has(&id));
    assert_eq!(s.get(&id).unwrap(), None);
    assert!(s.put(&id, &bytes).unwrap());
    assert!(!s.put(&id, &bytes).unwrap());
    assert!(s.has(&id));
    assert_eq!(s.get(&id).unwrap(), Some(bytes.clone()));
    assert_eq!(s.used_bytes(), 1000);
    assert_eq!(s.block_count(), 1);
    assert_eq!(s.block_ids().unwrap(), vec![id]);
    let on_disk = dir
        .path()
        .join("blocks")
        .join(&id.to_hex()[..2])
        .join(id.to_hex());
    assert_eq!(fs::read(&on_disk).unwrap(), bytes);
    assert!(s.delete(&id).unwrap());
    assert!(!s.delete(&id).unwrap());
    assert!(!s.has(&id));
    assert_eq!(s.used_bytes(), 0);
    assert_eq!(s.block_count(), 0);
    // An empty block (public empty content) is a valid block.
    let (e, empty) = block(0, 0);
    assert!(s.put(&e, &empty).unwrap());
    assert_eq!(s.get(&e).unwrap(), Some(vec![]));
}

#[test]
fn refuses_bad_blocks() {
    let (_dir, s) = store(1 << 30);
    let (id, mut bytes) = block(1, 100);
    bytes[0] ^= 1;
    assert!(
        matches!(s.put(&id, &bytes), Err(PdfsError::HashMismatch { expected, .. }) if expected == id)
    );
    let (id, bytes) = block(2, MAX_STORED_BLOCK + 1);
    assert!(matches!(
        s.put(&id, &bytes),
        Err(PdfsError::TooLarge { .. })
    ));
    let (id, bytes) = block(2, MAX_STORED_BLOCK);
    assert!(s.put(&id, &bytes).unwrap());
    assert_eq!(s.block_count(), 1);
}

#[test]
fn capacity() {
    let (_dir, s) = store(2500);
    let (a, ab) = block(1, 1000);
    let (b, bb) = block(2, 1000);
    let (c, cb) = block(3, 1000);
    assert!(s.put(&a, &ab).unwrap());
    assert!(s.put(&b, &bb).unwrap());
    match s.put(&c, &cb) {
        Err(PdfsError::Full {
            used,
            capacity,
            need,
        }) => {
            assert_eq!((used, capacity, need), (2000, 2500, 1000));
        }
        other => panic!("expected Full, got {other:?}"),
    }
    assert!(!s.has(&c));
    // An already stored block is not refused when full.
    assert!(!s.put(&a, &ab).unwrap());
    // Exactly filling is allowed.
    let (d, db) = block(4, 500);
    assert!(s.put(&d, &db).unwrap());
    assert_eq!(s.used_bytes(), 2500);
    assert!(s.delete(&a).unwrap());
    assert!(s.put(&c, &cb).unwrap());
    assert_eq!(s.capacity_bytes(), 2500);
}

#[test]
fn reopen_recounts_and_cleans_tmp() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<Hash> = {
        let s = BlockStore::open(dir.path(), 1 << 20).unwrap();
        (0..5u8)
            .map(|n| {
                let (id, b) = block(n, 100 + n as usize);
                s.put(&id, &b).unwrap();
                id
            })
            .collect()
    };
    // Leftovers of interrupted writes, and files that are not the store's.
    let shard_dir = dir.path().join("blocks").join(&ids[0].to_hex()[..2]);
    let tmp = shard_dir.join(format!("{}.7.tmp", ids[0].to_hex()));
    fs::write(&tmp, b"half").unwrap();
    let mtmp = dir.path().join("manifests").join("abc.3.tmp");
    fs::write(&mtmp, b"half").unwrap();
    let stray = shard_dir.join("README");
    fs::write(&stray, b"not a block").unwrap();
    // A block file in the wrong shard is not counted or listed.
    let (other, ob) = block(9, 50);
    let wrong_shard = if other.0[0] == 0 { "01" } else { "00" };
    fs::create_dir_all(dir.path().join("blocks").join(wrong_shard)).unwrap();
    fs::write(
        dir.path()
            .join("blocks")
            .join(wrong_shard)
            .join(other.to_hex()),
        &ob,
    )
    .unwrap();

    let s = BlockStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(s.used_bytes(), (100..105).sum::<u64>());
    assert_eq!(s.block_count(), 5);
    assert!(!tmp.exists());
    assert!(!mtmp.exists());
    assert!(stray.exists());
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(s.block_ids().unwrap(), sorted);
    for id in &ids {
        assert!(s.get(id).unwrap().is_some());
    }
}

#[test]
fn corrupt_file_is_detected_on_get() {
    let (dir, s) = store(1 << 20);
    let (id, bytes) = block(1, 1000);
    let (id2, bytes2) = block(2, 10);
    s.put(&id, &bytes).unwrap();
    s.put(&id2, &bytes2).unwrap();
    let path = dir
        .path()
        .join("blocks")
        .join(&id.to_hex()[..2])
        .join(id.to_hex());
    let mut bad = bytes.clone();
    bad[500] ^= 1;
    fs::write(&path, &bad).unwrap();
    assert!(s.has(&id));
    assert_eq!(s.get(&id).unwrap(), None);
    assert!(!s.has(&id));
    assert!(!path.exists());
    assert_eq!(s.used_bytes(), 10);
    assert_eq!(s.block_count(), 1);
    // It can be stored again.
    assert!(s.put(&id, &bytes).unwrap());
    assert_eq!(s.get(&id).unwrap(), Some(bytes.clone()));
    // An oversize file under a block's name is corrupt too.
    fs::write(&path, vec![0u8; MAX_STORED_BLOCK + 1]).unwrap();
    assert_eq!(s.get(&id).unwrap(), None);
    assert!(!path.exists());
    // A torn (short) file is replaced by put, and counted once.
    s.put(&id, &bytes).unwrap();
    fs::write(&path, &bytes[..10]).unwrap();
    let before = s.block_count();
    assert!(s.put(&id, &bytes).unwrap());
    assert_eq!(s.block_count(), before);
    assert_eq!(s.get(&id).unwrap(), Some(bytes));
}

fn encode_into(s: &BlockStore, data: &[u8]) -> Manifest {
    encode_stream(data, None, |_, id, stored| s.put(&id, stored).map(|_| ())).unwrap()
}

#[test]
fn manifests() {
    let (dir, s) = store(1 << 30);
    let m = encode_into(&s, &vec![3u8; BLOCK_SIZE + 5]);
    let cid = m.content_id();
    assert_eq!(s.manifest(&cid).unwrap(), None);
    s.put_manifest(&m).unwrap();
    s.put_manifest(&m).unwrap();
    assert_eq!(s.manifest(&cid).unwrap(), Some(m.clone()));
    assert_eq!(s.contents().unwrap(), vec![cid]);
    // Manifests are not counted as used bytes.
    assert_eq!(s.used_bytes(), (BLOCK_SIZE + 5) as u64);
    // An invalid manifest is refused.
    let mut bad = m.clone();
    bad.size += BLOCK_SIZE as u64;
    assert!(s.put_manifest(&bad).is_err());
    // A file holding another content's manifest, or garbage, is an error.
    let path = dir.path().join("manifests").join(cid.to_hex());
    let other = Manifest::new(1, Scheme::Public, vec![sha256(b"x")]).unwrap();
    fs::write(&path, other.encode()).unwrap();
    assert!(matches!(s.manifest(&cid), Err(PdfsError::BadManifest(_))));
    fs::write(&path, b"garbage").unwrap();
    assert!(matches!(s.manifest(&cid), Err(PdfsError::BadManifest(_))));
    // collect refuses to guess and removes nothing.
    let blocks = s.block_count();
    assert!(s.collect(|_| true).is_err());
    assert_eq!(s.block_count(), blocks);
    // A good copy replaces the bad file.
    s.put_manifest(&m).unwrap();
    assert_eq!(s.manifest(&cid).unwrap(), Some(m));
    assert!(s.remove_manifest(&cid).unwrap());
    assert!(!s.remove_manifest(&cid).unwrap());
    assert_eq!(s.contents().unwrap(), vec![]);
}

#[test]
fn collect_keeps_shared_blocks() {
    let (_dir, s) = store(1 << 30);
    // Two public contents that share a block: a = [S, S, tail a],
    // b = [U, S, tail b].
    let shared = vec![7u8; BLOCK_SIZE];
    let a = [&shared[..], &shared[..], b"tail of a"].concat();
    let b = [
        &vec![8u8; BLOCK_SIZE][..],
        &shared[..],
        b"b's different tail",
    ]
    .concat();
    let ma = encode_into(&s, &a);
    let mb = encode_into(&s, &b);
    assert_eq!(ma.block_ids[0], mb.block_ids[1]);
    s.put_manifest(&ma).unwrap();
    s.put_manifest(&mb).unwrap();
    // An orphan block no manifest refers to.
    let (orphan, ob) = block(42, 77);
    s.put(&orphan, &ob).unwrap();
    // Distinct blocks: S, tail a, U, tail b, orphan.
    assert_eq!(s.block_count(), 5);

    let keep_b = mb.content_id();
    let report = s.collect(|c| *c == keep_b).unwrap();
    assert_eq!(
        report,
        GcReport {
            contents: 1,
            blocks: 2,
            bytes: (b"tail of a".len() + 77) as u64,
        }
    );
    assert_eq!(s.contents().unwrap(), vec![keep_b]);
    for id in &mb.block_ids {
        assert!(s.get(id).unwrap().is_some());
    }
    assert!(!s.has(&orphan));
    assert!(!s.has(&ma.block_ids[2]));
    assert_eq!(
        s.used_bytes(),
        (2 * BLOCK_SIZE + b"b's different tail".len()) as u64
    );
    // Nothing more to collect; then drop everything.
    assert_eq!(s.collect(|_| true).unwrap(), GcReport::default());
    let all = s.collect(|_| false).unwrap();
    assert_eq!((all.contents, all.blocks), (1, 3));
    assert_eq!(s.used_bytes(), 0);
    assert_eq!(s.block_count(), 0);
}

#[test]
fn concurrent_puts_count_once() {
    let (_dir, s) = store(1 << 30);
    let s = Arc::new(s);
    let blocks: Vec<(Hash, Vec<u8>)> = (0..8u8).map(|n| block(n, 4096)).collect();
    let blocks = Arc::new(blocks);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let s = Arc::clone(&s);
            let blocks = Arc::clone(&blocks);
            std::thread::spawn(move || {
                blocks
                    .iter()
                    .filter(|(id, b)| s.put(id, b).unwrap())
                    .count()
            })
        })
        .collect();
    let newly: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(newly, 8);
    assert_eq!(s.block_count(), 8);
    assert_eq!(s.used_bytes(), 8 * 4096);
}

#[test]
fn concurrent_puts_never_pass_the_capacity() {
    let (_dir, s) = store(4 * 4096);
    let s = Arc::new(s);
    let handles: Vec<_> = (0..8u8)
        .map(|n| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                let (id, b) = block(n, 4096);
                match s.put(&id, &b) {
                    Ok(stored) => Some(stored),
                    Err(PdfsError::Full { .. }) => None,
                    Err(e) => panic!("unexpected error: {e}"),
                }
            })
        })
        .collect();
    let stored = handles
        .into_iter()
        .filter_map(|h| h.join().unwrap())
        .filter(|newly| *newly)
        .count();
    assert_eq!(stored, 4);
    assert_eq!(s.block_count(), 4);
    assert_eq!(s.used_bytes(), 4 * 4096);
    assert_eq!(s.block_ids().unwrap().len(), 4);
}

#[test]
fn a_failed_write_gives_its_reservation_back() {
    let (dir, s) = store(1 << 20);
    let (id, b) = block(1, 4096);
    // A file where the shard directory should be makes the write fail.
    let shard_dir = dir.path().join("blocks").join(shard(&id));
    std::fs::write(&shard_dir, b"not a directory").unwrap();
    assert!(s.put(&id, &b).is_err());
    assert_eq!(s.used_bytes(), 0);
    assert_eq!(s.block_count(), 0);
    std::fs::remove_file(&shard_dir).unwrap();
    assert!(s.put(&id, &b).unwrap());
    assert_eq!(s.used_bytes(), 4096);
}

#[test]
fn store_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<BlockStore>();
}
