//! What the benchmarks share: the PostgreSQL server they run against and
//! their scratch databases on it.

#![allow(dead_code)]

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// The server: `DATABASE_URL` (its database part is replaced) or the default.
pub fn server_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| remitd::db::DEFAULT_URL.to_string())
}

/// The URL of database `name` on that server.
pub fn database_url(name: &str) -> String {
    remitd::db::with_database(&server_url(), name)
}

/// Runs one statement in the `postgres` database (CREATE, DROP DATABASE).
pub async fn admin(sql: &str) {
    let options = PgConnectOptions::from_str(&server_url()).expect("DATABASE_URL").database("postgres");
    let mut conn = options.connect().await.expect("PostgreSQL for the benchmark");
    sqlx::query(sql).execute(&mut conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
}

pub async fn drop_database(name: &str) {
    admin(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
}

/// This process's peak resident memory (`VmHWM`, Linux), as text. `VmHWM`
/// rather than `getrusage`, whose figure for a process includes the memory
/// of whatever it was started from.
pub fn peak_resident() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    match status.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
        Some(kb) => {
            let kib: f64 = kb.trim().trim_end_matches("kB").trim().parse().expect("VmHWM in kB");
            format!("{:.1} MiB ({kib} KiB)", kib / 1024.0)
        }
        None => "not measured (no /proc/self/status)".to_string(),
    }
}
