use super::layout::{parse_segment_name, segment_path, shard};
use super::segment::{ALIGN, Format, HEADER_LEN};
use super::*;
use crate::manifest::Manifest;
use crate::scheme::Scheme;
use crate::{BLOCK_SIZE, encode_stream};
use direct::Io;
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::os::unix::fs::FileExt;
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

/// The segment file holding a block's live record, and where its bytes
/// start in it.
fn record_of(s: &BlockStore, id: &Hash) -> (PathBuf, u64) {
    let at = s.live_at(id).expect("stored");
    (segment_path(&s.segments, at.segment), at.data_offset())
}

/// Flips one byte of a block's bytes inside its segment.
fn tamper(s: &BlockStore, id: &Hash, at: u64) {
    let (path, data) = record_of(s, id);
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8];
    f.read_exact_at(&mut b, data + at).unwrap();
    f.write_all_at(&[b[0] ^ 1], data + at).unwrap();
}

/// The segment files, oldest first.
fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<(u64, PathBuf)> = fs::read_dir(dir.join("segments"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let seq = parse_segment_name(e.file_name().to_str()?)?;
            Some((seq, e.path()))
        })
        .collect();
    files.sort();
    files.into_iter().map(|(_, p)| p).collect()
}

fn disk_bytes(dir: &Path) -> u64 {
    segment_files(dir)
        .iter()
        .map(|p| fs::metadata(p).unwrap().len())
        .sum()
}

/// The accounting agrees with the index and the files: every segment's
/// size is its file's length, its live bytes are the records the index
/// points into it, and the totals are the index's.
fn check_accounting(s: &BlockStore) {
    let state = s.lock();
    let mut live: HashMap<u64, u64> = HashMap::new();
    for at in state.index.values() {
        *live.entry(at.segment).or_default() += state.span(at);
    }
    for (seq, stats) in &state.segments {
        let path = segment_path(&s.segments, *seq);
        assert_eq!(fs::metadata(&path).unwrap().len(), stats.size, "{seq}");
        assert_eq!(live.remove(seq).unwrap_or(0), stats.live, "{seq}");
        assert!(stats.live + stats.kills.values().sum::<u64>() <= stats.size);
    }
    assert!(live.is_empty(), "index points into unknown segments");
    let bytes: u64 = state.index.values().map(|at| u64::from(at.len)).sum();
    assert_eq!(state.bytes, bytes);
    assert_eq!(state.blocks, state.index.len() as u64);
    assert!(state.writing.is_empty());
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
    // The block is in a segment, right after its header, and zeros pad the
    // record to 4 KiB.
    let (path, data) = record_of(&s, &id);
    assert_eq!(segment_files(dir.path()), vec![path.clone()]);
    let on_disk = fs::read(&path).unwrap();
    assert_eq!(on_disk.len(), ALIGN as usize);
    assert_eq!(data, HEADER_LEN as u64);
    assert_eq!(&on_disk[HEADER_LEN..HEADER_LEN + 1000], &bytes[..]);
    assert!(on_disk[HEADER_LEN + 1000..].iter().all(|&b| b == 0));
    assert!(s.writer().is_direct(), "ext4 takes O_DIRECT");
    assert!(s.delete(&id).unwrap());
    assert!(!s.delete(&id).unwrap());
    assert!(!s.has(&id));
    assert_eq!(s.get(&id).unwrap(), None);
    assert_eq!(s.used_bytes(), 0);
    assert_eq!(s.block_count(), 0);
    // An empty block (public empty content) is a valid block.
    let (e, empty) = block(0, 0);
    assert!(s.put(&e, &empty).unwrap());
    assert_eq!(s.get(&e).unwrap(), Some(vec![]));
    check_accounting(&s);
}

/// A block given in parts is stored exactly as the joined bytes would be,
/// and checked against its id as a whole, parts of any size (empty too).
#[test]
fn a_block_in_parts_is_the_joined_block() {
    let (_dir, s) = store(1 << 30);
    let bytes: Vec<u8> = (0..5_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let id = sha256(&bytes);
    let (a, rest) = bytes.split_at(1);
    let (b, c) = rest.split_at(4_095);
    assert!(s.put_parts(&id, &[a, &[], b, c]).unwrap());
    assert_eq!(s.get(&id).unwrap().as_deref(), Some(&bytes[..]));
    assert!(!s.put(&id, &bytes).unwrap(), "already stored");
    // Parts that do not join into the block are refused.
    let (id2, bytes2) = block(3, 300);
    let (x, y) = bytes2.split_at(100);
    let mut swapped = y.to_vec();
    swapped[0] ^= 1;
    assert!(matches!(
        s.put_parts(&id2, &[&swapped, x]),
        Err(PdfsError::HashMismatch { .. })
    ));
    let big = vec![0u8; MAX_STORED_BLOCK];
    assert!(matches!(
        s.put_parts(&id2, &[&big, &[1]]),
        Err(PdfsError::TooLarge { .. })
    ));
    assert!(s.put_parts(&id2, &[x, y]).unwrap());
    assert_eq!(s.get(&id2).unwrap(), Some(bytes2));
    check_accounting(&s);
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
        let ids = (0..6u8)
            .map(|n| {
                let (id, b) = block(n, 100 + n as usize);
                s.put(&id, &b).unwrap();
                id
            })
            .collect::<Vec<_>>();
        assert!(s.delete(&ids[5]).unwrap());
        ids[..5].to_vec()
    };
    // A leftover of an interrupted manifest write, and files that are not
    // the store's.
    let mtmp = dir.path().join("manifests").join("abc.3.tmp");
    fs::write(&mtmp, b"half").unwrap();
    let strays = [
        dir.path().join("segments").join("README"),
        dir.path().join("segments").join("1.seg"),
    ];
    for stray in &strays {
        fs::write(stray, b"not a segment").unwrap();
    }

    let s = BlockStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(s.used_bytes(), (100..105).sum::<u64>());
    assert_eq!(s.block_count(), 5);
    assert!(!mtmp.exists());
    for stray in &strays {
        assert!(stray.exists());
    }
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(s.block_ids().unwrap(), sorted);
    for id in &ids {
        assert!(s.get(id).unwrap().is_some());
    }
    check_accounting(&s);
    // Appends continue in the same segment.
    let (id, b) = block(9, 10);
    s.put(&id, &b).unwrap();
    assert_eq!(segment_files(dir.path()).len(), 1);
}

#[test]
fn corrupt_record_is_detected_on_get() {
    let (dir, s) = store(1 << 20);
    let (id, bytes) = block(1, 1000);
    let (id2, bytes2) = block(2, 10);
    s.put(&id, &bytes).unwrap();
    s.put(&id2, &bytes2).unwrap();
    tamper(&s, &id, 500);
    // Trusted until read.
    assert!(s.has(&id));
    assert!(!s.put(&id, &bytes).unwrap());
    assert_eq!(s.get(&id).unwrap(), None);
    assert!(!s.has(&id));
    assert_eq!(s.used_bytes(), 10);
    assert_eq!(s.block_count(), 1);
    assert_eq!(s.get(&id2).unwrap(), Some(bytes2.clone()));
    check_accounting(&s);
    // It can be stored again, and stays dropped from the old record.
    assert!(s.put(&id, &bytes).unwrap());
    assert_eq!(s.get(&id).unwrap(), Some(bytes.clone()));
    // A record cut short behind the store's back is corrupt too.
    let (path, data) = record_of(&s, &id);
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(data + 100)
        .unwrap();
    assert_eq!(s.get(&id).unwrap(), None);
    assert_eq!(s.block_count(), 1);
    drop(s);
    // Tombstones keep both bad records dropped; the good one stays.
    let s = BlockStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(s.block_ids().unwrap(), vec![id2]);
    assert_eq!(s.used_bytes(), 10);
    check_accounting(&s);
}

#[test]
fn a_record_of_the_wrong_length_is_replaced_and_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let (id, bytes) = block(1, 1000);
    let (path, data) = {
        let s = BlockStore::open(dir.path(), 1 << 20).unwrap();
        s.put(&id, &bytes).unwrap();
        record_of(&s, &id)
    };
    // A well-formed header claiming 10 bytes (as a damaged header that
    // still passes its check would).
    // The record (padded to 4 KiB either way) stays whole.
    let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
    let header_at = data - HEADER_LEN as u64;
    f.write_all_at(&Header::block(id, 10).encode(Format::Aligned), header_at)
        .unwrap();
    let s = BlockStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!((s.used_bytes(), s.block_count()), (10, 1));
    assert!(s.put(&id, &bytes).unwrap());
    assert_eq!((s.used_bytes(), s.block_count()), (1000, 1));
    assert_eq!(s.get(&id).unwrap(), Some(bytes));
    check_accounting(&s);
}

#[test]
fn a_moved_record_is_read_where_it_is_now() {
    // `get` read the block at a place it no longer is (compaction moved
    // it, the old segment may be gone): the block is not dropped.
    let (_dir, s) = store(1 << 20);
    let (id, bytes) = block(1, 100);
    s.put(&id, &bytes).unwrap();
    let gone = Location {
        segment: 999,
        offset: 0,
        len: 100,
    };
    assert_eq!(s.drop_if_corrupt(&id, gone).unwrap(), Some(bytes));
    assert_eq!(s.block_count(), 1);
}

#[test]
fn reopen_after_a_torn_tail_keeps_every_earlier_block() {
    // In the header, in the block's bytes, and in the padding after them
    // (a record is whole only with its padding).
    let header = HEADER_LEN as u64;
    for cut in [1, header - 1, header + 1, 777, header + 1000, ALIGN - 1] {
        let dir = tempfile::tempdir().unwrap();
        let blocks: Vec<_> = (1..=5u8).map(|n| block(n, 1000)).collect();
        let last = {
            let s = BlockStore::open(dir.path(), 1 << 20).unwrap();
            for (id, b) in &blocks {
                s.put(id, b).unwrap();
            }
            s.live_at(&blocks[4].0).unwrap()
        };
        let path = segment_files(dir.path()).pop().unwrap();
        fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(last.offset + cut)
            .unwrap();

        let s = BlockStore::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), last.offset, "cut {cut}");
        assert_eq!((s.used_bytes(), s.block_count()), (4000, 4));
        for (id, b) in &blocks[..4] {
            assert_eq!(s.get(id).unwrap().as_ref(), Some(b));
        }
        assert!(!s.has(&blocks[4].0));
        check_accounting(&s);
        // The store appends after the last whole record.
        let (id, b) = &blocks[4];
        assert!(s.put(id, b).unwrap());
        drop(s);
        let s = BlockStore::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(s.block_count(), 5);
        assert_eq!(s.get(&blocks[4].0).unwrap().as_ref(), Some(&blocks[4].1));
    }
}

#[test]
fn garbage_in_a_segment_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let segments = dir.path().join("segments");
    fs::create_dir_all(&segments).unwrap();
    // A header claiming a huge block, a valid header claiming more bytes
    // than the file has, and random bytes.
    // An aligned header whose padding is missing, and random bytes.
    let huge = Header::block(sha256(b"x"), u32::MAX).encode(Format::Aligned);
    let long = Header::block(sha256(b"y"), 1 << 20).encode(Format::Packed);
    let unpadded = [
        &Header::block(sha256(b"z"), 1).encode(Format::Aligned)[..],
        b"z",
    ]
    .concat();
    let noise: Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();
    for (seq, bytes) in [
        (1u64, huge.to_vec()),
        (2, long.to_vec()),
        (3, unpadded),
        (4, noise),
    ] {
        fs::write(segment_path(&segments, seq), bytes).unwrap();
    }
    let s = BlockStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(s.block_count(), 0);
    for seq in 1..=4 {
        assert_eq!(fs::metadata(segment_path(&segments, seq)).unwrap().len(), 0);
    }
    // The emptied sealed segments go at the next collect.
    s.collect(|_| true).unwrap();
    assert_eq!(segment_files(dir.path()).len(), 1);
}

#[test]
fn tombstones_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (a, ab) = block(1, 300);
    let (b, bb) = block(2, 400);
    let (c, cb) = block(3, 500);
    {
        let s = BlockStore::open(dir.path(), 1 << 20).unwrap();
        for (id, bytes) in [(&a, &ab), (&b, &bb), (&c, &cb)] {
            s.put(id, bytes).unwrap();
        }
        assert!(s.delete(&a).unwrap());
        tamper(&s, &b, 0);
        assert_eq!(s.get(&b).unwrap(), None);
    }
    let s = BlockStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(s.block_ids().unwrap(), vec![c]);
    assert_eq!(s.used_bytes(), 500);
    // A tombstone kills one record: the block stored again is live.
    assert!(s.put(&a, &ab).unwrap());
    drop(s);
    let s = BlockStore::open(dir.path(), 1 << 20).unwrap();
    let mut ids = vec![a, c];
    ids.sort();
    assert_eq!(s.block_ids().unwrap(), ids);
    assert_eq!(s.get(&a).unwrap(), Some(ab));
    check_accounting(&s);
}

/// Segments that hold four 1000-byte blocks (a 4 KiB record each).
const SMALL: u64 = 4 * ALIGN;

fn small_segments(dir: &Path) -> BlockStore {
    BlockStore::open_with(dir, 1 << 30, SMALL, Io::Direct).unwrap()
}

#[test]
fn compaction_frees_disk_space_and_keeps_live_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let s = small_segments(dir.path());
    let blocks: Vec<_> = (0..100u8).map(|n| block(n, 1000)).collect();
    for (id, b) in &blocks {
        s.put(id, b).unwrap();
    }
    let before = disk_bytes(dir.path());
    assert_eq!(before, 100 * ALIGN);
    assert_eq!(segment_files(dir.path()).len(), 25);
    // Keep every fifth block: one per segment and a bit.
    let kept: Vec<Hash> = blocks.iter().step_by(5).map(|(id, _)| *id).collect();
    let kept_set: HashSet<Hash> = kept.iter().copied().collect();
    for (id, _) in &blocks {
        if !kept_set.contains(id) {
            assert!(s.delete(id).unwrap());
        }
    }
    // Deleting only appends tombstones.
    assert!(disk_bytes(dir.path()) > before);
    // With no manifest, collect would drop the kept blocks too: pin them.
    pin(&s, &kept);
    let report = s.collect(|_| true).unwrap();
    assert_eq!(report.blocks, 0);
    let after = disk_bytes(dir.path());
    assert!(after < before / 3, "{after} of {before} bytes left");
    assert_eq!(s.used_bytes(), 20 * 1000);
    assert_eq!(s.block_count(), 20);
    for (id, b) in &blocks {
        let expected = kept_set.contains(id).then(|| b.clone());
        assert_eq!(s.get(id).unwrap(), expected);
    }
    check_accounting(&s);
    drop(s);
    // Nothing deleted comes back, nothing kept is lost.
    let s = small_segments(dir.path());
    assert_eq!(s.used_bytes(), 20 * 1000);
    let mut sorted = kept.clone();
    sorted.sort();
    assert_eq!(s.block_ids().unwrap(), sorted);
    check_accounting(&s);
    // Dropping everything leaves at most the active segment and the
    // tombstones it holds.
    let all = s.collect(|_| false).unwrap();
    assert_eq!((all.blocks, all.bytes), (20, 20 * 1000));
    assert!(segment_files(dir.path()).len() <= 2);
    s.collect(|_| true).unwrap();
    assert_eq!(segment_files(dir.path()).len(), 1);
    assert!(disk_bytes(dir.path()) <= SMALL);
    check_accounting(&s);
    drop(s);
    let s = small_segments(dir.path());
    assert_eq!(s.block_count(), 0);
}

#[test]
fn a_carried_tombstone_keeps_a_deleted_block_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let s = small_segments(dir.path());
    // Segment 1: x and three kept blocks (never compacted: only a quarter
    // dead once x is deleted).
    let (x, xb) = block(0, 1000);
    let kept: Vec<_> = (1..4u8).map(|n| block(n, 1000)).collect();
    s.put(&x, &xb).unwrap();
    for (id, b) in &kept {
        s.put(id, b).unwrap();
    }
    // Segment 2: x's tombstone, then filler that is deleted.
    assert!(s.delete(&x).unwrap());
    let filler: Vec<_> = (10..14u8).map(|n| block(n, 1000)).collect();
    for (id, b) in &filler {
        s.put(id, b).unwrap();
    }
    for (id, _) in &filler {
        s.delete(id).unwrap();
    }
    pin(&s, &kept.iter().map(|(id, _)| *id).collect::<Vec<_>>());
    let segments_before = segment_files(dir.path());
    s.collect(|_| true).unwrap();
    // Segment 2 was compacted away, segment 1 was not.
    let segments_after = segment_files(dir.path());
    assert!(segments_after.contains(&segments_before[0]));
    assert!(!segments_after.contains(&segments_before[1]));
    check_accounting(&s);
    drop(s);
    let s = small_segments(dir.path());
    assert!(!s.has(&x));
    assert_eq!(s.block_count(), 3);
}

#[test]
fn compaction_finds_live_blocks_behind_a_damaged_header() {
    let dir = tempfile::tempdir().unwrap();
    let s = small_segments(dir.path());
    let blocks: Vec<_> = (0..5u8).map(|n| block(n, 1000)).collect();
    for (id, b) in &blocks {
        s.put(id, b).unwrap();
    }
    // Segment 1 holds blocks 0..4; 0..3 are deleted, 3 stays.
    for (id, _) in &blocks[..3] {
        s.delete(id).unwrap();
    }
    let first = segment_files(dir.path())[0].clone();
    let f = fs::OpenOptions::new().write(true).open(&first).unwrap();
    f.write_all_at(b"X", 0).unwrap();
    pin(&s, &[blocks[3].0, blocks[4].0]);
    s.collect(|_| true).unwrap();
    assert!(!first.exists());
    assert_eq!(s.get(&blocks[3].0).unwrap().as_ref(), Some(&blocks[3].1));
    check_accounting(&s);
    drop(s);
    let s = small_segments(dir.path());
    assert_eq!(s.block_count(), 2);
    assert_eq!(s.get(&blocks[3].0).unwrap().as_ref(), Some(&blocks[3].1));
}

#[test]
fn a_compaction_cut_short_by_a_crash_leaves_no_copy_to_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let s = small_segments(dir.path());
    let blocks: Vec<_> = (0..5u8).map(|n| block(n, 1000)).collect();
    for (id, b) in &blocks {
        s.put(id, b).unwrap();
    }
    // Segment 1 holds blocks 0..4, three of which are deleted.
    let first = segment_files(dir.path())[0].clone();
    for (id, _) in &blocks[1..4] {
        s.delete(id).unwrap();
    }
    let (keep, kb) = &blocks[0];
    pin(&s, &[*keep, blocks[4].0]);
    let saved = fs::read(&first).unwrap();
    s.collect(|_| true).unwrap();
    assert!(!first.exists());
    drop(s);
    // As if the crash came after block 0 was copied but before segment 1
    // was deleted.
    fs::write(&first, &saved).unwrap();
    let s = small_segments(dir.path());
    assert_eq!(s.block_count(), 2);
    assert_eq!(s.get(keep).unwrap().as_ref(), Some(kb));
    check_accounting(&s);
    assert!(s.delete(keep).unwrap());
    drop(s);
    let s = small_segments(dir.path());
    assert!(!s.has(keep));
    assert_eq!(s.block_ids().unwrap(), vec![blocks[4].0]);
    check_accounting(&s);
}

#[test]
fn the_legacy_layout_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = dir.path().join("blocks");
    let write = |shard_name: &str, name: &str, bytes: &[u8]| {
        let d = legacy.join(shard_name);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join(name), bytes).unwrap();
    };
    let good: Vec<_> = (1..=3u8).map(|n| block(n, 100 * n as usize)).collect();
    for (id, b) in &good {
        write(&shard(id), &id.to_hex(), b);
    }
    let (bad, bad_bytes) = block(4, 50);
    write(&shard(&bad), &bad.to_hex(), &bad_bytes[..10]);
    let (g, _) = &good[0];
    write(&shard(g), &format!("{}.7.tmp", g.to_hex()), b"half");
    // Not the store's: a stray file, and a block in the wrong shard.
    let stray = legacy.join(shard(g)).join("README");
    fs::write(&stray, b"mine").unwrap();
    let (w, wb) = block(9, 50);
    let wrong_shard = if w.0[0] == 0 { "01" } else { "00" };
    write(wrong_shard, &w.to_hex(), &wb);

    let s = BlockStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(s.block_count(), 3);
    assert_eq!(s.used_bytes(), 600);
    for (id, b) in &good {
        assert_eq!(s.get(id).unwrap().as_ref(), Some(b));
        assert!(!legacy.join(shard(id)).join(id.to_hex()).exists());
    }
    assert!(!s.has(&bad));
    assert!(!s.has(&w));
    assert!(!legacy.join(shard(&bad)).join(bad.to_hex()).exists());
    assert!(stray.exists());
    assert!(legacy.join(wrong_shard).join(w.to_hex()).exists());
    let mut left: Vec<String> = fs::read_dir(legacy.join(shard(g)))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, vec!["README".to_string()]);
    // Shards left empty are removed.
    for (id, _) in &good[1..] {
        if shard(id) != shard(g) && shard(id) != wrong_shard {
            assert!(!legacy.join(shard(id)).exists());
        }
    }
    check_accounting(&s);
    drop(s);
    // Nothing is imported twice.
    let s = BlockStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!((s.block_count(), s.used_bytes()), (3, 600));

    // With only blocks of the store's, the whole old tree goes.
    let dir = tempfile::tempdir().unwrap();
    let legacy = dir.path().join("blocks");
    for (id, b) in &good {
        fs::create_dir_all(legacy.join(shard(id))).unwrap();
        fs::write(legacy.join(shard(id)).join(id.to_hex()), b).unwrap();
    }
    // Migrated whatever the capacity.
    let s = BlockStore::open(dir.path(), 10).unwrap();
    assert_eq!((s.block_count(), s.used_bytes()), (3, 600));
    assert!(!legacy.exists());
}

fn encode_into(s: &BlockStore, data: &[u8]) -> Manifest {
    encode_stream(data, None, |_, id, stored| s.put(&id, stored).map(|_| ())).unwrap()
}

/// Stores a manifest naming `ids` (any blocks), so `collect` keeps them.
fn pin(s: &BlockStore, ids: &[Hash]) -> Hash {
    let size = (ids.len() as u64 - 1) * BLOCK_SIZE as u64 + 1;
    let m = Manifest::new(size, Scheme::Public, ids.to_vec()).unwrap();
    s.put_manifest(&m).unwrap();
    m.content_id()
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
fn pinned_blocks_survive_collection_until_unpinned() {
    let (_dir, s) = store(1 << 30);
    let (staged, sb) = block(5, 1000);
    let (orphan, ob) = block(6, 1000);
    s.put(&staged, &sb).unwrap();
    s.put(&orphan, &ob).unwrap();
    let report = s.collect_except(|_| true, |b| *b == staged).unwrap();
    assert_eq!(report.blocks, 1);
    assert!(s.has(&staged) && !s.has(&orphan));
    // Once nothing pins it, a block no manifest refers to is garbage.
    assert_eq!(s.collect(|_| true).unwrap().blocks, 1);
    assert!(!s.has(&staged));
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
    check_accounting(&s);
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
fn concurrent_puts_deletes_gets_and_collects_agree() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(small_segments(dir.path()));
    let blocks: Arc<Vec<_>> = Arc::new((0..64u8).map(|n| block(n, 700 + n as usize)).collect());
    // The even blocks are pinned and never deleted.
    let pinned: Vec<Hash> = blocks.iter().step_by(2).map(|(id, _)| *id).collect();
    pin(&s, &pinned);
    let handles: Vec<_> = (0..4usize)
        .map(|t| {
            let s = Arc::clone(&s);
            let blocks = Arc::clone(&blocks);
            std::thread::spawn(move || {
                for round in 0..20usize {
                    for (i, (id, b)) in blocks.iter().enumerate() {
                        match (i + t + round) % 4 {
                            0 | 1 => {
                                s.put(id, b).unwrap();
                            }
                            2 if i % 2 == 1 => {
                                s.delete(id).unwrap();
                            }
                            _ => {
                                if let Some(got) = s.get(id).unwrap() {
                                    assert_eq!(&got, b);
                                }
                            }
                        }
                    }
                    if t == 0 {
                        s.collect(|_| true).unwrap();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    check_accounting(&s);
    let ids = s.block_ids().unwrap();
    let before = (s.used_bytes(), s.block_count());
    for id in &ids {
        assert!(s.get(id).unwrap().is_some());
    }
    drop(s);
    let s = small_segments(dir.path());
    assert_eq!(s.block_ids().unwrap(), ids);
    assert_eq!((s.used_bytes(), s.block_count()), before);
    check_accounting(&s);
}

#[test]
fn a_failed_write_gives_its_reservation_back() {
    let (dir, s) = store(1 << 20);
    let (first, fb) = block(0, 100);
    s.put(&first, &fb).unwrap();
    let len_before = disk_bytes(dir.path());
    let (id, b) = block(1, 4096);
    // The append fails after its header is written.
    s.writer().fail_next = true;
    assert!(s.put(&id, &b).is_err());
    assert_eq!(s.used_bytes(), 100);
    assert_eq!(s.block_count(), 1);
    assert!(!s.has(&id));
    // The partial record was cut off.
    assert_eq!(disk_bytes(dir.path()), len_before);
    assert!(s.put(&id, &b).unwrap());
    assert_eq!(s.used_bytes(), 4196);
    // A failed tombstone leaves the block stored.
    s.writer().fail_next = true;
    assert!(s.delete(&id).is_err());
    assert!(s.has(&id));
    assert_eq!(s.used_bytes(), 4196);
    check_accounting(&s);
    drop(s);
    let s = BlockStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!((s.used_bytes(), s.block_count()), (4196, 2));
}

/// Every block record the index points to starts on a 4 KiB boundary
/// (segments written since records were aligned).
fn assert_aligned(s: &BlockStore) {
    for at in s.lock().index.values() {
        assert_eq!(at.offset % ALIGN, 0, "{at:?}");
    }
    for path in segment_files(s.dir()) {
        assert_eq!(fs::metadata(&path).unwrap().len() % ALIGN, 0);
    }
}

#[test]
fn the_buffered_fallback_keeps_the_same_format() {
    let blocks: Vec<_> = (1..=12u8).map(|n| block(n, 1000 * n as usize)).collect();
    // Buffered as asked, or because the filesystem refused O_DIRECT.
    for io in [Io::Buffered, Io::Refused] {
        let dir = tempfile::tempdir().unwrap();
        let open = |io| BlockStore::open_with(dir.path(), 1 << 30, 4 * ALIGN, io).unwrap();
        let s = open(io);
        assert!(!s.writer().is_direct(), "{io:?}");
        for (id, b) in &blocks {
            assert!(s.put(id, b).unwrap());
            assert_eq!(s.get(id).unwrap().as_ref(), Some(b));
        }
        for (id, _) in &blocks[..8] {
            assert!(s.delete(id).unwrap());
        }
        pin(
            &s,
            &blocks[8..].iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        );
        s.collect(|_| true).unwrap();
        tamper(&s, &blocks[8].0, 5);
        assert_eq!(s.get(&blocks[8].0).unwrap(), None);
        assert_aligned(&s);
        check_accounting(&s);
        drop(s);
        // What one wrote, the other reads, and continues.
        for io in [Io::Direct, io, Io::Direct] {
            let s = open(io);
            assert_eq!(s.writer().is_direct(), io == Io::Direct);
            assert_eq!(s.block_count(), 3);
            for (id, b) in &blocks[9..] {
                assert_eq!(s.get(id).unwrap().as_ref(), Some(b));
            }
            let (id, b) = &blocks[0];
            assert!(s.put(id, b).unwrap());
            assert!(s.delete(id).unwrap());
            assert_aligned(&s);
            check_accounting(&s);
        }
    }
}

#[test]
fn a_store_on_tmpfs_works() {
    // tmpfs takes O_DIRECT since Linux 6.6 and refuses it before: either
    // way the store works.
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        return;
    }
    let dir = tempfile::tempdir_in(shm).unwrap();
    let blocks: Vec<_> = (1..=3u8).map(|n| block(n, 5000)).collect();
    {
        let s = BlockStore::open(dir.path(), 1 << 20).unwrap();
        for (id, b) in &blocks {
            s.put(id, b).unwrap();
        }
        assert!(s.delete(&blocks[0].0).unwrap());
    }
    let s = BlockStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(s.block_count(), 2);
    for (id, b) in &blocks[1..] {
        assert_eq!(s.get(id).unwrap().as_ref(), Some(b));
    }
    assert_aligned(&s);
    check_accounting(&s);
}

/// A record laid out as the store wrote it before records were aligned.
fn packed_record(header: Header, payload: &[u8]) -> Vec<u8> {
    [&header.encode(Format::Packed)[..], payload].concat()
}

#[test]
fn packed_segments_of_the_old_format_are_read_then_compacted_away() {
    let dir = tempfile::tempdir().unwrap();
    let segments = dir.path().join("segments");
    fs::create_dir_all(&segments).unwrap();
    let blocks: Vec<_> = (1..=5u8).map(|n| block(n, 1000 + n as usize)).collect();
    let [(a, ab), (b, _), (c, cb), (d, db), (e, _)] = &blocks[..] else {
        unreachable!()
    };
    // Segment 1: a, b, c and a tombstone killing b. Segment 2: d, then a
    // torn record of e.
    let mut one = Vec::new();
    let mut offsets = HashMap::new();
    for (id, bytes) in &blocks[..3] {
        offsets.insert(*id, one.len() as u64);
        one.extend(packed_record(Header::block(*id, bytes.len() as u32), bytes));
    }
    one.extend(packed_record(
        Header::tombstone(*b),
        &encode_target(1, offsets[b]),
    ));
    let mut two = packed_record(Header::block(*d, db.len() as u32), db);
    let whole_two = two.len() as u64;
    two.extend(&packed_record(Header::block(*e, 1005), &blocks[4].1)[..500]);
    fs::write(segment_path(&segments, 1), &one).unwrap();
    fs::write(segment_path(&segments, 2), &two).unwrap();

    let s = small_segments(dir.path());
    let mut ids = vec![*a, *c, *d];
    ids.sort();
    assert_eq!(s.block_ids().unwrap(), ids);
    assert_eq!(s.used_bytes(), (ab.len() + cb.len() + db.len()) as u64);
    // Records at offsets O_DIRECT could not start a read at.
    assert_eq!(s.live_at(c).unwrap().offset, offsets[c]);
    for (id, bytes) in [(a, ab), (c, cb), (d, db)] {
        assert_eq!(s.get(id).unwrap().as_ref(), Some(bytes));
    }
    assert!(!s.has(e));
    // The torn tail is cut off; the packed segment is not appended to.
    assert_eq!(
        fs::metadata(segment_path(&segments, 2)).unwrap().len(),
        whole_two
    );
    check_accounting(&s);
    let (f, fb) = block(6, 3000);
    assert!(s.put(&f, &fb).unwrap());
    assert_eq!(s.live_at(&f).unwrap().segment, 3);
    assert_eq!(s.live_at(&f).unwrap().offset, 0);
    // Deleting a makes segment 1 more than half dead.
    assert!(s.delete(a).unwrap());
    check_accounting(&s);
    drop(s);
    let s = small_segments(dir.path());
    assert_eq!(s.block_count(), 3);
    check_accounting(&s);
    pin(&s, &[*c, *d, f]);
    s.collect(|_| true).unwrap();
    // c was copied into an aligned segment; segment 2, all live, stays.
    assert!(!segment_path(&segments, 1).exists());
    assert!(segment_path(&segments, 2).exists());
    assert!(s.live_at(c).unwrap().segment > 2);
    assert_eq!(s.live_at(c).unwrap().offset % ALIGN, 0);
    for (id, bytes) in [(c, cb), (d, db), (&f, &fb)] {
        assert_eq!(s.get(id).unwrap().as_ref(), Some(bytes));
    }
    check_accounting(&s);
    drop(s);
    let s = small_segments(dir.path());
    let mut ids = vec![*c, *d, f];
    ids.sort();
    assert_eq!(s.block_ids().unwrap(), ids);
    assert_eq!(s.get(c).unwrap().as_ref(), Some(cb));
    check_accounting(&s);
    // A packed record damaged on disk is dropped like any other.
    tamper(&s, d, 10);
    assert_eq!(s.get(d).unwrap(), None);
    check_accounting(&s);
}

#[test]
fn an_empty_packed_segment_is_continued_aligned() {
    // A newest segment that a torn first record leaves empty has no format
    // left: appends go on in it, aligned.
    let dir = tempfile::tempdir().unwrap();
    let segments = dir.path().join("segments");
    fs::create_dir_all(&segments).unwrap();
    let (a, ab) = block(1, 100);
    let torn = packed_record(Header::block(a, 100), &ab[..50]);
    fs::write(segment_path(&segments, 1), torn).unwrap();
    let s = BlockStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(s.block_count(), 0);
    assert!(s.put(&a, &ab).unwrap());
    assert_eq!(s.live_at(&a).unwrap().segment, 1);
    drop(s);
    let s = BlockStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(s.get(&a).unwrap(), Some(ab));
    assert_aligned(&s);
    check_accounting(&s);
}

#[test]
fn store_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<BlockStore>();
}

/// Operations of the model test, on blocks 0..24.
#[derive(Clone, Debug)]
enum Op {
    Put(u8),
    Delete(u8),
    Get(u8),
    /// Flip a byte of the block's record, then `get` it.
    Corrupt(u8),
    /// Store a manifest naming the blocks whose bits are set.
    Pin(u32),
    /// `collect`, keeping every manifest or none.
    Collect(bool),
    /// Reopen the store, with direct or buffered I/O.
    Reopen(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..24u8).prop_map(Op::Put),
        3 => (0..24u8).prop_map(Op::Delete),
        2 => (0..24u8).prop_map(Op::Get),
        1 => (0..24u8).prop_map(Op::Corrupt),
        2 => (0..1u32 << 24).prop_map(Op::Pin),
        2 => prop::bool::weighted(0.9).prop_map(Op::Collect),
        1 => any::<bool>().prop_map(Op::Reopen),
    ]
}

/// Block `n` of the model test: block 0 is empty, the others up to 200
/// bytes. Every record takes 4 KiB, so a segment rolled at 12 KiB holds
/// three, and tombstones are a good part of some segments.
fn model_block(n: u8) -> (Hash, Vec<u8>) {
    let len = if n == 0 {
        0
    } else {
        (n as usize * 131) % 200 + 1
    };
    let bytes: Vec<u8> = (0..len).map(|i| n ^ (i as u8)).collect();
    (sha256(&bytes), bytes)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_operations_match_a_model(ops in prop::collection::vec(op(), 1..120)) {
        let dir = tempfile::tempdir().unwrap();
        let open = |direct: bool| {
            let io = if direct { Io::Direct } else { Io::Buffered };
            BlockStore::open_with(dir.path(), 1 << 30, 3 * ALIGN, io).unwrap()
        };
        let mut s = open(true);
        let mut model: HashMap<Hash, Vec<u8>> = HashMap::new();
        let mut pins: HashMap<Hash, HashSet<Hash>> = HashMap::new();
        for op in ops {
            match op {
                Op::Put(n) => {
                    let (id, b) = model_block(n);
                    let newly = model.insert(id, b.clone()).is_none();
                    prop_assert_eq!(s.put(&id, &b).unwrap(), newly);
                }
                Op::Delete(n) => {
                    let (id, _) = model_block(n);
                    prop_assert_eq!(s.delete(&id).unwrap(), model.remove(&id).is_some());
                }
                Op::Get(n) => {
                    let (id, _) = model_block(n);
                    prop_assert_eq!(s.get(&id).unwrap(), model.get(&id).cloned());
                }
                Op::Corrupt(n) => {
                    let (id, b) = model_block(n);
                    if model.contains_key(&id) && !b.is_empty() {
                        tamper(&s, &id, b.len() as u64 / 2);
                        prop_assert_eq!(s.get(&id).unwrap(), None);
                        model.remove(&id);
                    }
                }
                Op::Pin(mask) => {
                    let ids: Vec<Hash> = (0..24u8)
                        .filter(|n| mask & (1 << n) != 0)
                        .map(|n| model_block(n).0)
                        .collect();
                    if !ids.is_empty() {
                        let cid = pin(&s, &ids);
                        pins.insert(cid, ids.into_iter().collect());
                    }
                }
                Op::Collect(keep) => {
                    if !keep {
                        pins.clear();
                    }
                    let referenced: HashSet<Hash> = pins.values().flatten().copied().collect();
                    let before = model.len();
                    model.retain(|id, _| referenced.contains(id));
                    let report = s.collect(|_| keep).unwrap();
                    prop_assert_eq!(report.blocks as usize, before - model.len());
                }
                Op::Reopen(direct) => {
                    drop(s);
                    s = open(direct);
                }
            }
            let mut ids: Vec<Hash> = model.keys().copied().collect();
            ids.sort();
            prop_assert_eq!(s.block_ids().unwrap(), ids);
            prop_assert_eq!(s.used_bytes(), model.values().map(|b| b.len() as u64).sum::<u64>());
            prop_assert_eq!(s.block_count(), model.len() as u64);
        }
        check_accounting(&s);
        drop(s);
        let s = open(true);
        check_accounting(&s);
        prop_assert_eq!(s.block_count(), model.len() as u64);
        for (id, b) in &model {
            prop_assert_eq!(s.get(id).unwrap(), Some(b.clone()));
        }
    }
}
