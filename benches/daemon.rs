//! Latency of the daemon: from a 1,000-claim file renamed into the inbox to
//! its postings committed. Runs the real binary against PostgreSQL at
//! `DATABASE_URL` (a scratch database is created and dropped).

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
    // One 1,000-claim file; each iteration gives it a new trace number so it
    // is a new payment (and new bytes) against the same claims.
    let mut file = Vec::new();
    let spec = remitd::generate::Synthetic { transactions: 1, claims_per_transaction: 1_000, seed: 7 };
    remitd::generate::write_synthetic(&mut file, spec).expect("generate");
    let template = String::from_utf8(file).expect("ascii");
    let transactions: Vec<_> = remitd::parse::Reader::new(template.as_bytes()).map(|p| p.expect("valid").transaction).collect();
    let trace = transactions[0].trace_number.to_string();
    let mut csv = Vec::new();
    remitd::claims::export::write_csv(&mut csv, &transactions).expect("claims csv");
    let pool = rt.block_on(remitd::db::migrate(&url)).expect("scratch database");
    let claims = remitd::claims::import::read(&csv[..]).expect("claims");
    rt.block_on(remitd::claims::import::write(&pool, &claims)).expect("import");

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
                let unique = format!("{trace}-{n}");
                let bytes = template.replace(&format!("*{trace}*"), &format!("*{unique}*"));
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

criterion_group!(benches, daemon);
criterion_main!(benches);
