//! Small-balance sweep speed: 1,000,000 claims, 100,000 of them with an
//! eligible small balance (half insurance, half patient), 10,000 over the
//! maximum amount, the rest at zero.
//!
//! The data is written once, set-based, into a template database (not
//! timed). `preview` runs against the template; each `post` sample runs
//! against a fresh copy of it (`CREATE DATABASE ... TEMPLATE`, not timed),
//! because a post leaves nothing for the next one to write off. Needs
//! PostgreSQL at `DATABASE_URL` (the database part is replaced).

use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

mod support;
use sqlx::PgPool;
use support::{admin, database_url, drop_database};

const CLAIMS: i64 = 1_000_000;
const ELIGIBLE: u64 = 100_000;

/// The data: see the fixture's header.
const DATA: &str = include_str!("../tests/fixtures/sweep_balances.sql");

fn params() -> remitd::sweep::Params {
    let day = |s: &str| NaiveDate::from_str(s).expect("date");
    remitd::sweep::Params {
        from: day("2026-06-01"),
        to: day("2026-06-30"),
        min_times_billed: 1,
        time_zone: "America/New_York".into(),
        ..remitd::sweep::Params::for_day(day("2026-07-01"), 90, Some(rust_decimal::Decimal::new(1000, 2)))
    }
}

async fn build_template(name: &str) {
    drop_database(name).await;
    let pool = remitd::db::migrate(&database_url(name)).await.expect("template database");
    let started = Instant::now();
    for sql in DATA.split("\n\n").filter(|s| !s.trim_start().starts_with("--")) {
        sqlx::query(sql).bind(CLAIMS).execute(&pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    sqlx::query("INSERT INTO actors (name) VALUES ('bench')").execute(&pool).await.expect("actor");
    sqlx::query("INSERT INTO actor_scopes (actor, scope) VALUES ('bench', 'billing.denial.write'), ('bench', 'billing.writeoff.approve')")
        .execute(&pool)
        .await
        .expect("scopes");
    sqlx::query("VACUUM ANALYZE").execute(&pool).await.expect("vacuum");
    pool.close().await;
    eprintln!("sweep bench: {CLAIMS} claims written in {:.1} s", started.elapsed().as_secs_f64());
}

async fn check(pool: &PgPool) {
    let r = remitd::sweep::preview(pool, &params()).await.expect("preview");
    assert_eq!(r.count(remitd::sweep::Section::WrittenOff) as u64, ELIGIBLE, "the data has the intended shape");
    assert_eq!(r.count(remitd::sweep::Section::OutOfRange), 10_000);
}

fn sweep(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let template = format!("remitd_bench_sweep_{}", std::process::id());
    rt.block_on(build_template(&template));
    let pool = rt.block_on(async { remitd::db::connect(&database_url(&template)).await.expect("template pool") });
    rt.block_on(check(&pool));

    let mut group = c.benchmark_group("sweep");
    group.sample_size(10).measurement_time(Duration::from_secs(30)).throughput(Throughput::Elements(ELIGIBLE));
    group.bench_function("preview_1m_claims_100k_eligible", |b| {
        b.iter(|| rt.block_on(remitd::sweep::preview(&pool, &params())).expect("preview"));
    });
    rt.block_on(pool.close());

    group.bench_function("post_1m_claims_100k_eligible", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for i in 0..iters {
                    let copy = format!("{template}_{i}");
                    drop_database(&copy).await;
                    admin(&format!("CREATE DATABASE \"{copy}\" TEMPLATE \"{template}\"")).await;
                    let pool = remitd::db::connect(&database_url(&copy)).await.expect("copy");
                    let started = Instant::now();
                    let r = remitd::sweep::post(&pool, &params(), "bench").await.expect("post");
                    total += started.elapsed();
                    assert_eq!(r.count(remitd::sweep::Section::WrittenOff) as u64, ELIGIBLE);
                    pool.close().await;
                    drop_database(&copy).await;
                }
                total
            })
        });
    });
    group.finish();
    rt.block_on(drop_database(&template));
}

criterion_group!(benches, sweep);
criterion_main!(benches);
