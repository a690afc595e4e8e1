//! End to end posting speed: file read, parse, match, commit; and the peak
//! memory of posting one very large transaction set.
//!
//! A 100,000-claim file (100 transaction sets of 1,000 claims) is posted
//! into a fresh database whose claims were imported and checkpointed
//! beforehand (not timed). Reports claims per second as "elements".
//!
//! Before that, the bench prints `ingest/peak_memory_one_set`: the peak
//! resident memory of a fresh process (this bench run again as a child)
//! posting one transaction set of 300,000 claims, as `remitd ingest` does.
//! Needs PostgreSQL at `DATABASE_URL` (the database part is replaced by a
//! scratch database per run).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};

mod support;
use support::{database_url, drop_database};

/// The allocator the `remitd` binary uses (see `src/main.rs`), so that the
/// peak memory is the one `remitd ingest` has.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TRANSACTIONS: usize = 100;
const CLAIMS: usize = 1_000;

/// Claims in the one set whose peak memory is measured.
const ONE_SET_CLAIMS: usize = 300_000;

/// Set to a file's path (with `DATABASE_URL` naming a prepared database),
/// the bench process only ingests that file and prints its own peak
/// resident memory (see [`peak_memory_one_set`]).
const PEAK_OF: &str = "REMITD_BENCH_PEAK_OF";

/// Writes the synthetic file and returns the claims its claims match.
fn synthetic(file: &Path, spec: remitd::generate::Synthetic) -> Vec<remitd::claims::import::ImportClaim> {
    remitd::generate::write_synthetic(std::io::BufWriter::new(std::fs::File::create(file).expect("create")), spec).expect("generate");
    let transactions: Vec<_> = remitd::parse::Reader::new(std::fs::File::open(file).expect("open")).map(|p| p.expect("valid").transaction).collect();
    let mut csv = Vec::new();
    remitd::claims::export::write_csv(&mut csv, &transactions).expect("claims csv");
    remitd::claims::import::read(&csv[..]).expect("claims")
}

/// A fresh scratch database `name` holding `claims`, checkpointed.
async fn prepared(name: &str, claims: &[remitd::claims::import::ImportClaim]) -> sqlx::PgPool {
    drop_database(name).await;
    let pool = remitd::db::migrate(&database_url(name)).await.expect("scratch database");
    remitd::claims::import::write(&pool, claims).await.expect("import");
    // The import's WAL is flushed now, not by a checkpoint that happens to
    // fall inside the measured posting.
    sqlx::query("CHECKPOINT").execute(&pool).await.expect("checkpoint");
    pool
}

/// Runs this bench again as a child that posts one set of
/// [`ONE_SET_CLAIMS`] claims and reports its peak resident memory: a set
/// that large is read and posted a part at a time, so the figure does not
/// grow with the set. A child of its own, because this process holds the
/// claims it imported.
fn peak_memory_one_set(rt: &tokio::runtime::Runtime) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("one-set.835");
    let claims = synthetic(&file, remitd::generate::Synthetic { transactions: 1, claims_per_transaction: ONE_SET_CLAIMS, seed: 835 });
    let name = format!("remitd_bench_peak_{}", std::process::id());
    rt.block_on(async { prepared(&name, &claims).await.close().await });
    drop(claims);
    let exe = std::env::current_exe().expect("the bench's own path");
    let start = Instant::now();
    let out = Command::new(exe).env(PEAK_OF, &file).env("DATABASE_URL", database_url(&name)).output().expect("the bench runs again");
    let took = start.elapsed();
    rt.block_on(drop_database(&name));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "measuring peak memory failed: {report}{}", String::from_utf8_lossy(&out.stderr));
    let mb = std::fs::metadata(&file).map_or(0, |m| m.len() / 1_000_000);
    println!("ingest/peak_memory_one_set: {} resident at most, posting one transaction set of {ONE_SET_CLAIMS} claims ({mb} MB) in {took:.1?}", report.trim());
}

/// The child's side of [`peak_memory_one_set`].
fn ingest_and_report_peak(path: &str) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let pool = remitd::db::connect(&support::server_url()).await.expect("the prepared database");
        let cats = remitd::posting::load_categories(&pool).await.expect("categories");
        match remitd::ingest::ingest_file(&pool, Path::new(path), &cats).await.expect("ingest") {
            remitd::ingest::FileOutcome::Posted { claims, .. } => assert_eq!(claims.posted, ONE_SET_CLAIMS),
            other => panic!("{other:?}"),
        }
    });
    println!("{}", support::peak_resident());
}

fn ingest(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    peak_memory_one_set(&rt);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bench.835");
    let claims = synthetic(&file, remitd::generate::Synthetic { transactions: TRANSACTIONS, claims_per_transaction: CLAIMS, seed: 835 });

    let mut group = c.benchmark_group("ingest");
    group.sample_size(10).measurement_time(Duration::from_secs(60)).throughput(Throughput::Elements((TRANSACTIONS * CLAIMS) as u64));
    group.bench_function("100k_claims", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for i in 0..iters {
                    let name = format!("remitd_bench_{}_{i}", std::process::id());
                    let pool = prepared(&name, &claims).await;
                    let cats = remitd::posting::load_categories(&pool).await.expect("categories");
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

// `criterion_main!`, with the child's side of `peak_memory_one_set` in front.
fn main() {
    if let Ok(path) = std::env::var(PEAK_OF) {
        return ingest_and_report_peak(&path);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
