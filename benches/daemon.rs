//! Latency of the daemon: from a 1,000-claim file renamed into the inbox to
//! its postings committed. Runs the real binary against PostgreSQL at
//! `DATABASE_URL` (a scratch database is created and dropped). Each
//! iteration pays 1,000 claims never paid before (imported untimed just
//! before), the daemon's steady state: posting the same claims again and
//! again would pile up their denials and measure something no practice
//! sees.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

mod support;
use support::{database_url, drop_database};

fn daemon(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let name = format!("remitd_bench_daemon_{}", std::process::id());
    let url = database_url(&name);
    let dir = tempfile::tempdir().expect("temp dir");
    let (inbox, archive, error) = (dir.path().join("inbox"), dir.path().join("archive"), dir.path().join("error"));
    for d in [&inbox, &archive, &error] {
        std::fs::create_dir_all(d).expect("folders");
    }
    let pool = rt.block_on(remitd::db::migrate(&url)).expect("scratch database");
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let config = dir.path().join("remitd.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = \"{url}\"\n[[drop_folders]]\nname = \"bench\"\ninbox = \"{}\"\narchive = \"{}\"\nerror = \"{}\"\n[http]\nlisten = \"127.0.0.1:{port}\"\n",
            inbox.display(),
            archive.display(),
            error.display()
        ),
    )
    .expect("config");
    let mut child =
        Command::new(env!("CARGO_BIN_EXE_remitd")).args(["run", "--config"]).arg(&config).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("daemon");
    std::thread::sleep(Duration::from_secs(2));

    let mut n = 0u64;
    let mut group = c.benchmark_group("daemon");
    group.sample_size(20).measurement_time(Duration::from_secs(30));
    group.bench_function("1000_claims_renamed_in_to_committed", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                // Untimed: this iteration's file and its claims, imported
                // first, as a practice's claims are before their payment.
                let (bytes, unique) = fresh_file(n, &rt, &pool);
                let staged = dir.path().join(format!(".{n}.tmp"));
                std::fs::write(&staged, bytes).expect("stage");
                let start = Instant::now();
                std::fs::rename(&staged, inbox.join(format!("{n}.835"))).expect("rename in");
                rt.block_on(async {
                    loop {
                        let done: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM remittances WHERE trace_number = $1)")
                            .bind(&unique)
                            .fetch_one(&pool)
                            .await
                            .expect("poll");
                        if done {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                });
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
    let _ = child.kill();
    let _ = child.wait();
    rt.block_on(async {
        pool.close().await;
        drop_database(&name).await;
    });
}

/// File `n`: one transaction set paying claims `n * 1,000` to
/// `n * 1,000 + 999` under a trace number of its own, with those claims
/// imported. Returns the file's bytes and its trace number.
fn fresh_file(n: u64, rt: &tokio::runtime::Runtime, pool: &sqlx::PgPool) -> (Vec<u8>, String) {
    const CLAIMS: usize = 1_000;
    let mut rng = fastrand::Rng::with_seed(n);
    let mut tx = remitd::generate::synthetic_transaction(&mut rng, 1, n as usize * CLAIMS, CLAIMS);
    let unique = format!("BENCH{n:010}");
    tx.trace_number = unique.as_str().into();
    tx.trace.number = unique.as_str().into();
    let mut w = remitd::generate::X12Writer::new(Vec::new());
    w.open_interchange(n as u32, false, "005010X221A1").expect("interchange");
    w.transaction(&tx).expect("transaction");
    w.close_interchange(n as u32, 1).expect("close");
    let mut csv = Vec::new();
    remitd::claims::export::write_csv(&mut csv, [&tx]).expect("claims csv");
    let claims = remitd::claims::import::read(&csv[..]).expect("claims");
    rt.block_on(remitd::claims::import::write(pool, &claims)).expect("import");
    (w.into_inner(), unique)
}

criterion_group!(benches, daemon);
criterion_main!(benches);
