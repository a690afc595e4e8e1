//! Throughput of parsing and validating an 835 into the typed model.
//!
//! One synthetic file of about 100 MB (250 transaction sets of 1,000 claims,
//! what `remitd generate --transactions 250 --claims-per-transaction 1000`
//! writes) is made once in memory; each iteration reads it to the end with
//! [`Summary::read`], which lexes, places, checks, builds and balances every
//! transaction set as `remitd parse` does. Criterion reports MB/s.
//!
//! Peak memory is not measured here; see `benches/README.md`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use remitd::generate::{write_synthetic, Synthetic};
use remitd::parse::Summary;

/// The allocator the `remitd` binary uses (see `src/main.rs`), so that the
/// figure is the one `remitd parse` gets.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn synthetic_file() -> Vec<u8> {
    let mut file = Vec::with_capacity(110 << 20);
    write_synthetic(&mut file, Synthetic { transactions: 250, claims_per_transaction: 1000, seed: 835 }).expect("generate");
    file
}

fn parse(c: &mut Criterion) {
    let file = synthetic_file();
    let expected = Summary::read(&file[..]).expect("the synthetic file is valid");
    assert_eq!(expected.claims, 250_000);

    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::BytesDecimal(file.len() as u64));
    // About half a second per iteration: a few samples are plenty.
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
criterion_main!(benches);
