//! End to end posting speed: file read, parse, match, commit.
//!
//! A 100,000-claim file (100 transaction sets of 1,000 claims) is posted
//! into a fresh database whose claims were imported and checkpointed
//! beforehand (not timed).
//! Needs PostgreSQL at `DATABASE_URL` (the database part is replaced by a
//! scratch database per run). Reports claims per second as "elements".

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

mod support;
use support::{database_url, drop_database};

const TRANSACTIONS: usize = 100;
const CLAIMS: usize = 1_000;

fn ingest(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bench.835");
    let spec = remitd::generate::Synthetic { transactions: TRANSACTIONS, claims_per_transaction: CLAIMS, seed: 835 };
    remitd::generate::write_synthetic(std::fs::File::create(&file).expect("create"), spec).expect("generate");
    let transactions: Vec<_> = remitd::parse::Reader::new(std::fs::File::open(&file).expect("open")).map(|p| p.expect("valid").transaction).collect();
    let mut csv = Vec::new();
    remitd::claims::export::write_csv(&mut csv, &transactions).expect("claims csv");
    let claims = remitd::claims::import::read(&csv[..]).expect("claims");
    drop(transactions);

    let mut group = c.benchmark_group("ingest");
    group.sample_size(10).measurement_time(Duration::from_secs(60)).throughput(Throughput::Elements((TRANSACTIONS * CLAIMS) as u64));
    group.bench_function("100k_claims", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for i in 0..iters {
                    let name = format!("remitd_bench_{}_{i}", std::process::id());
                    drop_database(&name).await;
                    let pool = remitd::db::migrate(&database_url(&name)).await.expect("scratch database");
                    remitd::claims::import::write(&pool, &claims).await.expect("import");
                    let cats = remitd::posting::load_categories(&pool).await.expect("categories");
                    // The import's WAL is flushed now, not by a checkpoint
                    // that happens to fall inside the timed posting.
                    sqlx::query("CHECKPOINT").execute(&pool).await.expect("checkpoint");
                    let start = Instant::now();
                    let outcome = remitd::ingest::ingest_file(&pool, &file, &cats).await.expect("ingest");
                    total += start.elapsed();
                    assert!(matches!(outcome, remitd::ingest::FileOutcome::Posted { .. }), "{outcome:?}");
                    pool.close().await;
                    drop_database(&name).await;
                }
                total
            })
        })
    });
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
