//! PostgreSQL: connecting, creating the database, applying migrations.
//!
//! The schema lives in `migrations/` and is embedded in the binary, so
//! `remitd migrate` and the daemon apply exactly what was tested.

pub mod roles;

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

/// Where remitd looks when neither `--database-url` nor `DATABASE_URL` says.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/remitd";

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database URL is not valid: {0}")]
    Url(sqlx::Error),
    #[error("cannot reach PostgreSQL: {0}")]
    Connect(sqlx::Error),
    #[error("cannot create database {name:?}: {source}")]
    Create { name: String, source: sqlx::Error },
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the database's schema is at migration {have}, this remitd needs {want}: its owner runs `remitd migrate`")]
    Behind { have: i64, want: i64 },
    #[error("cannot read the database's schema version: {0}")]
    Version(sqlx::Error),
}

/// The embedded migrations.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

fn options(url: &str) -> Result<PgConnectOptions, DbError> {
    PgConnectOptions::from_str(url).map(|o| o.disable_statement_logging()).map_err(DbError::Url)
}

/// Creates the database the URL names when it does not exist yet; returns
/// whether this call created it.
pub async fn create_database_if_missing(url: &str) -> Result<bool, DbError> {
    let opts = options(url)?;
    let name = opts.get_database().unwrap_or("postgres").to_string();
    let mut admin = opts.clone().database("postgres").connect().await.map_err(DbError::Connect)?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)").bind(&name).fetch_one(&mut admin).await.map_err(DbError::Connect)?;
    let mut created = false;
    if !exists {
        let quoted = name.replace('"', "\"\"");
        // Another instance may have created it between the check and now.
        match sqlx::query(&format!("CREATE DATABASE \"{quoted}\"")).execute(&mut admin).await {
            Ok(_) => created = true,
            Err(e) if e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "42P04") => {}
            Err(e) => return Err(DbError::Create { name, source: e }),
        }
    }
    admin.close().await.map_err(DbError::Connect)?;
    Ok(created)
}

/// How long to wait for a connection before calling the database down. The
/// pool retries a refused connection until then; readiness and back-off
/// should hear about an outage within seconds, not sqlx's default 30.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A pool on the database the URL names.
pub async fn connect(url: &str) -> Result<PgPool, DbError> {
    PgPoolOptions::new().max_connections(8).acquire_timeout(ACQUIRE_TIMEOUT).connect_with(options(url)?).await.map_err(DbError::Connect)
}

/// Creates the database if needed, connects and applies every migration.
pub async fn migrate(url: &str) -> Result<PgPool, DbError> {
    migrate_reporting(url).await.map(|(pool, _)| pool)
}

/// What [`migrate_reporting`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    /// The database did not exist and was created.
    pub created: bool,
    /// Migrations applied now.
    pub applied: usize,
    /// Migrations the schema has in all.
    pub total: usize,
}

/// [`migrate`], saying what it did.
pub async fn migrate_reporting(url: &str) -> Result<(PgPool, Migrated), DbError> {
    let created = create_database_if_missing(url).await?;
    let pool = connect(url).await?;
    let applied = || sqlx::query_scalar::<_, i64>("SELECT count(*) FROM _sqlx_migrations WHERE success");
    // Before the first run the table does not exist: nothing was applied.
    let before = applied().fetch_one(&pool).await.unwrap_or(0);
    MIGRATOR.run(&pool).await?;
    let after = applied().fetch_one(&pool).await.map_err(DbError::Version)?;
    let applied = usize::try_from(after - before).unwrap_or(0);
    Ok((pool, Migrated { created, applied, total: MIGRATOR.iter().count() }))
}

/// Connects for a command. The database's owner (or a superuser) gets
/// what [`migrate`] gives, pending migrations applied; any other login
/// (a person on their own PostgreSQL role) changes no schema and is
/// refused, with the reason, when the schema is older than this binary.
pub async fn open(url: &str) -> Result<PgPool, DbError> {
    let pool = match connect(url).await {
        Ok(pool) => pool,
        // A database that does not exist yet: only its creator can go on.
        Err(DbError::Connect(e)) if e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "3D000") => return migrate(url).await,
        Err(e) => return Err(e),
    };
    // What `remitd_login_is_owner()` says, asked directly: before the first
    // migration that function does not exist yet.
    let owner: bool = sqlx::query_scalar("SELECT pg_has_role(session_user, d.datdba, 'MEMBER') FROM pg_database d WHERE d.datname = current_database()")
        .fetch_one(&pool)
        .await
        .map_err(DbError::Connect)?;
    if owner {
        MIGRATOR.run(&pool).await?;
        return Ok(pool);
    }
    let want = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    let have: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success").fetch_one(&pool).await.map_err(DbError::Version)?;
    match have.unwrap_or(0) {
        have if have < want => Err(DbError::Behind { have, want }),
        _ => Ok(pool),
    }
}

/// `url` with its user replaced by `user`, without a password (the login
/// proves itself as `pg_hba.conf` says).
pub fn with_user(url: &str, user: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else { return url.to_string() };
    let rest = &url[start..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let host = rest[..authority_end].rfind('@').map_or(0, |at| at + 1);
    format!("{}{user}@{}", &url[..start], &rest[host..])
}

/// `url` with its database part replaced by `name` (query parameters kept).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let end = base[authority_start..].find('/').map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{name}", &base[..end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Whether `e` says the database cannot be reached or cannot work right
/// now (the connection, the server's availability or resources, a
/// transaction to retry), rather than that the data sent was wrong. The
/// daemon waits and retries on the first kind and refuses the file on the
/// second: a file whose content the database rejects must not stop every
/// file behind it.
pub fn is_outage(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            let code = d.code().unwrap_or_default();
            // 08 connection, 53 insufficient resources, 57P0x shutdown and
            // startup, 58 system error, XX internal error; 42 (a missing
            // privilege, table or function: the schema or the roles do not
            // fit this binary, which ops must fix, not the file); 40001 and
            // 40P01 serialization failure and deadlock, 55P03 lock not
            // available, 25006 read-only (a standby during a failover).
            ["08", "53", "57P", "58", "XX", "42"].iter().any(|class| code.starts_with(class)) || ["40001", "40P01", "55P03", "25006"].contains(&code.as_ref())
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Configuration(_) => true,
        _ => false,
    }
}

/// Turns JIT compilation off for the rest of `conn`'s transaction: for a
/// few set-based statements over many rows, PostgreSQL's estimate makes
/// compiling look worth it, and compiling then costs more than running.
pub async fn without_jit(conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT set_config('jit', 'off', true) AS "jit!""#).fetch_one(conn).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_of_a_url_is_replaced() {
        assert_eq!(with_user("postgres://postgres@127.0.0.1:5432/d", "ann"), "postgres://ann@127.0.0.1:5432/d");
        assert_eq!(with_user("postgres://u:p%40ss@h/d?sslmode=require", "ann"), "postgres://ann@h/d?sslmode=require");
        assert_eq!(with_user("postgres://h:5432/d", "ann"), "postgres://ann@h:5432/d");
        assert_eq!(with_user("postgres:///d?host=/run/postgresql", "ann"), "postgres://ann@/d?host=/run/postgresql");
    }

    #[test]
    fn the_database_part_of_a_url_is_replaced() {
        assert_eq!(with_database("postgres://u@h:5432/remitd", "d"), "postgres://u@h:5432/d");
        assert_eq!(with_database("postgres://u@h:5432", "d"), "postgres://u@h:5432/d");
        assert_eq!(with_database("postgres://u:p@h/x?sslmode=require", "d"), "postgres://u:p@h/d?sslmode=require");
        assert_eq!(with_database("postgres:///x?host=/run/postgresql", "d"), "postgres:///d?host=/run/postgresql");
    }
}
