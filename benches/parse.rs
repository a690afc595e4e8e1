//! Throughput of parsing and validating an 835 into the typed model, and the
//! peak memory of doing so.
//!
//! One synthetic file of about 100 MB (250 transaction sets of 1,000 claims,
//! what `remitd generate --transactions 250 --claims-per-transaction 1000`
//! writes) is made once; each iteration reads it from memory to the end with
//! [`Summary::read`], which lexes, places, checks, builds and balances every
//! transaction set as `remitd parse` does. Criterion reports MB/s.
//!
//! Before that, the bench prints `parse/peak_memory`: the peak resident
//! memory of a fresh process that parses the same file from disk, as
//! `remitd parse --format summary` does.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use criterion::{criterion_group, Criterion, Throughput};
use remitd::generate::{write_synthetic, Synthetic};
use remitd::parse::Summary;

mod support;

/// The allocator the `remitd` binary uses (see `src/main.rs`), so that the
/// figures are the ones `remitd parse` gets.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Set to a file's path, the bench process only parses that file and prints
/// its own peak resident memory (see [`peak_memory`]).
const PEAK_OF: &str = "REMITD_BENCH_PEAK_OF";

/// The synthetic file: written to disk (and synced, so that no write-back
/// runs during the measurement), its peak memory measured, then read back
/// into memory for the throughput runs.
fn synthetic_file() -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.835");
    let mut out = BufWriter::new(File::create(&path).expect("create the file"));
    write_synthetic(&mut out, Synthetic { transactions: 250, claims_per_transaction: 1000, seed: 835 }).expect("generate");
    out.into_inner().expect("write the file").sync_all().expect("sync the file");
    let file = std::fs::read(&path).expect("read the file");
    peak_memory(&path, file.len());
    file
}

/// Runs this bench again as a child that parses `path` from disk and
/// reports its peak resident memory (`VmHWM`, Linux), which is what the
/// 64 MiB target is about. A child of its own, because this process holds
/// the whole file; and `VmHWM` rather than `getrusage`, whose figure for a
/// process includes the memory of whatever it was started from. The parser
/// streams one transaction set at a time, so the figure does not grow with
/// the file (`benches/README.md` has it for a 1 GB file too).
fn peak_memory(path: &Path, len: usize) {
    let exe = std::env::current_exe().expect("the bench's own path");
    let out = Command::new(exe).env(PEAK_OF, path).output().expect("the bench runs again");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "measuring peak memory failed: {report}{}", String::from_utf8_lossy(&out.stderr));
    println!("parse/peak_memory: {} resident at most, parsing the {} MB file from disk", report.trim(), len / 1_000_000);
}

/// The child's side of [`peak_memory`].
fn parse_and_report_peak(path: &str) {
    let summary = Summary::read(File::open(path).expect("open the file")).expect("the synthetic file is valid");
    assert!(summary.claims > 0);
    println!("{}", support::peak_resident());
}

fn parse(c: &mut Criterion) {
    let file = synthetic_file();
    let expected = Summary::read(&file[..]).expect("the synthetic file is valid");
    assert_eq!(expected.claims, 250_000);

    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::BytesDecimal(file.len() as u64));
    // About a third of a second per iteration: a few samples are plenty.
    group.sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(15));
    group.bench_function("summary_100mb", |b| {
        b.iter(|| {
            let summary = Summary::read(&file[..]).expect("valid");
            assert_eq!(summary.claims, expected.claims);
            summary
        })
    });
    group.finish();
}

criterion_group!(benches, parse);

// `criterion_main!`, with the child's side of `peak_memory` in front.
fn main() {
    if let Ok(path) = std::env::var(PEAK_OF) {
        return parse_and_report_peak(&path);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
