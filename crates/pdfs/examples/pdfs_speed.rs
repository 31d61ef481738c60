//! Quick throughput numbers for the PDFS block path on this machine:
//! single-thread AES-256-GCM seal/open and SHA-256 of 256 KiB blocks, and
//! `encode_stream` end to end on rayon's pool.
//!
//! Build and run in release (no `-p`, see README):
//! `cargo build --workspace --release --examples && target/release/examples/pdfs_speed [MiB]`

use std::hint::black_box;
use std::io::Read;
use std::time::Instant;
use umbra_pdfs::{BLOCK_SIZE, ContentKey, block_id, encode_stream, open_block, seal_block};

fn rate(bytes: usize, secs: f64) -> String {
    format!("{:>8.0} MB/s", bytes as f64 / secs / 1e6)
}

/// Seconds for one run of `f`, after one warm-up run (CPU feature
/// detection, page faults).
fn time<T>(mut f: impl FnMut() -> T) -> f64 {
    black_box(f());
    let start = Instant::now();
    black_box(f());
    start.elapsed().as_secs_f64()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(512);
    let blocks = (mib << 20) / BLOCK_SIZE;
    let total = blocks * BLOCK_SIZE;
    #[cfg(target_arch = "x86_64")]
    println!(
        "cpu: aes={} pclmulqdq={} sha={} avx2={}; rayon threads: {}",
        std::arch::is_x86_feature_detected!("aes"),
        std::arch::is_x86_feature_detected!("pclmulqdq"),
        std::arch::is_x86_feature_detected!("sha"),
        std::arch::is_x86_feature_detected!("avx2"),
        rayon::current_num_threads()
    );
    println!(
        "{blocks} blocks of {} KiB ({mib} MiB) per measurement",
        BLOCK_SIZE / 1024
    );

    let key = ContentKey::generate();
    let plain: Vec<u8> = (0..BLOCK_SIZE).map(|i| (i * 7 + i / 251) as u8).collect();
    let sealed = seal_block(&key, 0, false, &plain)?;

    let secs = time(|| {
        for i in 0..blocks as u64 {
            black_box(seal_block(&key, i, false, black_box(&plain)).ok());
        }
    });
    println!("seal_block  (1 thread) {}", rate(total, secs));

    let secs = time(|| {
        for _ in 0..blocks {
            black_box(open_block(&key, 0, false, black_box(&sealed)).ok());
        }
    });
    println!("open_block  (1 thread) {}", rate(total, secs));

    let secs = time(|| {
        for _ in 0..blocks {
            black_box(block_id(black_box(&sealed)));
        }
    });
    println!("sha256      (1 thread) {}", rate(total, secs));

    // The ceiling for the pool: seal and hash blocks already in memory.
    let secs = time(|| {
        use rayon::prelude::*;
        (0..blocks as u64)
            .into_par_iter()
            .map(|i| {
                seal_block(&key, i, false, &plain)
                    .map(|s| block_id(&s))
                    .ok()
            })
            .count()
    });
    println!("seal+sha256 par_iter (pool) {}", rate(total, secs));

    for (name, k) in [("encrypted", Some(&key)), ("public   ", None)] {
        let secs = time(|| {
            let reader = std::io::repeat(0x5a).take(total as u64);
            encode_stream(reader, k, |_, id, stored| {
                black_box((id, stored.len()));
                Ok(())
            })
        });
        println!("encode_stream {name} (pool) {}", rate(total, secs));
    }
    Ok(())
}
