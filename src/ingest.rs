//! Ingesting one 835 file: identify it by content, validate all of it, then
//! post each transaction set in its own database transaction.
//!
//! Order matters for "loses nothing, posts nothing twice":
//! 1. The whole file is read once, hashing and validating. A refused file
//!    posts nothing; its reason is recorded against its hash.
//! 2. The file is claimed in `ingested_files` by its SHA-256 and a
//!    session advisory lock, so two processes never post it at once; the
//!    lock dies with the connection if the process does.
//! 3. Each transaction set posts exactly once (payer + trace number), so a
//!    file interrupted half way resumes where it stopped when fed again.
//! 4. Test files (ISA15 = T) are recorded and never posted.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use sqlx::{Connection, PgPool};
use tokio::task::JoinSet;

use crate::model::Usage;
use crate::parse::Parsed;
use crate::parse::Reader;
use crate::posting::plan::CarcCategories;
use crate::posting::{is_reversal, post_transaction, ClaimsOutcome, PostOutcome};
use crate::x12::ParseError;

/// Transaction sets posted at once. Posting time is spent in PostgreSQL, one
/// backend per connection; two keep both cores of a small server busy.
pub const POSTING_WORKERS: usize = 2;

/// The result of a posting task; a panicked task is a bug, reported as such.
fn joined(done: Result<Result<PostOutcome, sqlx::Error>, tokio::task::JoinError>) -> Result<PostOutcome, IngestError> {
    match done {
        Ok(result) => Ok(result?),
        Err(e) => Err(IngestError::Task(e.to_string())),
    }
}

/// What became of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    /// Its transaction sets were posted (some may have been posted before).
    Posted { file_id: i64, transactions: usize, already_posted: usize, claims: ClaimsOutcome },
    /// Test data (ISA15 = T): recorded, never posted.
    Test { file_id: i64, transactions: usize },
    /// The same bytes were ingested before.
    Duplicate { file_id: i64, state: String },
    /// Another process is ingesting the same bytes right now.
    Busy { file_id: i64 },
    /// Not a valid 835; nothing was posted.
    Refused { file_id: i64, error: ParseError },
    /// Asked to stop: the transaction sets in flight committed, the rest
    /// post when the file is fed again.
    Interrupted { file_id: i64 },
}

/// How a caller steers a long ingest: it may ask it to stop between
/// transaction sets (daemon shutdown), and it can see it advance (the
/// daemon's watchdog pings only while work advances).
#[derive(Debug, Clone, Default)]
pub struct Stop {
    stop: Option<tokio::sync::watch::Receiver<bool>>,
    progress: Option<Arc<AtomicU64>>,
}

impl Stop {
    /// Never asks to stop.
    pub fn never() -> Self {
        Stop::default()
    }

    /// Stops once `receiver` holds `true`.
    pub fn on(receiver: tokio::sync::watch::Receiver<bool>) -> Self {
        Stop { stop: Some(receiver), progress: None }
    }

    /// Counts progress (megabytes read, transaction sets posted) in `counter`.
    pub fn with_progress(self, counter: Arc<AtomicU64>) -> Self {
        Stop { progress: Some(counter), ..self }
    }

    pub fn requested(&self) -> bool {
        self.stop.as_ref().is_some_and(|r| *r.borrow())
    }

    fn advance(&self) {
        if let Some(p) = &self.progress {
            p.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("posting task failed: {0}")]
    Task(String),
}

/// Reads through a reader, hashing what passes and counting progress.
struct Hashing<'s, R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    stop: &'s Stop,
}

/// Progress is reported every this many bytes read.
const PROGRESS_BYTES: u64 = 8 << 20;

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        if (self.bytes + n as u64) / PROGRESS_BYTES != self.bytes / PROGRESS_BYTES {
            self.stop.advance();
        }
        self.bytes += n as u64;
        Ok(n)
    }
}

type Inspection = (Vec<u8>, u64, Result<(), ParseError>);

/// Hash, size and validity of a file, in one streaming pass.
fn inspect(path: &Path, stop: &Stop) -> io::Result<Inspection> {
    let mut src = Hashing { inner: File::open(path)?, hasher: Sha256::new(), bytes: 0, stop };
    let mut verdict = Ok(());
    for parsed in Reader::new(&mut src) {
        if let Err(e) = parsed {
            verdict = Err(e);
            break;
        }
    }
    // Hash every byte even when parsing stopped early.
    io::copy(&mut src, &mut io::sink())?;
    Ok((src.hasher.finalize().to_vec(), src.bytes, verdict))
}

/// Ingests one file.
pub async fn ingest_file(pool: &PgPool, path: &Path, cats: &CarcCategories) -> Result<FileOutcome, IngestError> {
    ingest_file_until(pool, path, cats, &Stop::never()).await
}

/// Ingests one file, stopping between transaction sets when `stop` says so.
pub async fn ingest_file_until(pool: &PgPool, path: &Path, cats: &CarcCategories, stop: &Stop) -> Result<FileOutcome, IngestError> {
    let io_err = |source| IngestError::Io { path: path.display().to_string(), source };
    // CPU-bound and long on a large file: off the async workers.
    let (owned, probe) = (PathBuf::from(path), stop.clone());
    let inspected = tokio::task::spawn_blocking(move || inspect(&owned, &probe)).await.map_err(|e| IngestError::Task(e.to_string()))?;
    let (hash, size, verdict) = inspected.map_err(io_err)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let file_id = sqlx::query_scalar!(
        "INSERT INTO ingested_files (content_hash, file_name, size_bytes, state) VALUES ($1, $2, $3, 'processing')
         ON CONFLICT (content_hash) DO UPDATE SET content_hash = EXCLUDED.content_hash RETURNING id",
        &hash[..],
        name,
        i64::try_from(size).unwrap_or(i64::MAX),
    )
    .fetch_one(pool)
    .await?;
    // The lock lives on this connection: it is released when we finish or
    // when the process dies, never left behind.
    let mut lock = pool.acquire().await?;
    let locked = sqlx::query_scalar!(r#"SELECT pg_try_advisory_lock($1) AS "locked!""#, file_id).fetch_one(&mut *lock).await?;
    if !locked {
        return Ok(FileOutcome::Busy { file_id });
    }
    let outcome = ingest_locked(pool, path, file_id, verdict, cats, stop).await;
    let unlocked = sqlx::query!("SELECT pg_advisory_unlock($1)", file_id).fetch_one(&mut *lock).await;
    if unlocked.is_err() {
        // A connection whose unlock failed must not go back to the pool holding the lock.
        let _ = lock.detach().close().await;
    }
    outcome
}

async fn ingest_locked(
    pool: &PgPool,
    path: &Path,
    file_id: i64,
    verdict: Result<(), ParseError>,
    cats: &CarcCategories,
    stop: &Stop,
) -> Result<FileOutcome, IngestError> {
    let state = sqlx::query_scalar!("SELECT state FROM ingested_files WHERE id = $1", file_id).fetch_one(pool).await?;
    if state == "posted" || state == "test" {
        return Ok(FileOutcome::Duplicate { file_id, state });
    }
    if let Err(error) = verdict {
        sqlx::query!("UPDATE ingested_files SET state = 'refused', refusal_reason = $2, finished_at = now() WHERE id = $1", file_id, error.to_string())
            .execute(pool)
            .await?;
        return Ok(FileOutcome::Refused { file_id, error });
    }
    let file = File::open(path).map_err(|source| IngestError::Io { path: path.display().to_string(), source })?;
    // The reader runs on a blocking thread and hands over one transaction set
    // at a time through a small channel: memory stays bounded by a few sets.
    let (send, mut receive) = tokio::sync::mpsc::channel::<Result<Parsed, ParseError>>(POSTING_WORKERS * 2);
    let reader = tokio::task::spawn_blocking(move || {
        for parsed in Reader::new(file) {
            if send.blocking_send(parsed).is_err() {
                break;
            }
        }
    });
    let (mut transactions, mut already, mut tests) = (0, 0, 0);
    let mut claims = ClaimsOutcome::default();
    let mut in_flight: JoinSet<Result<PostOutcome, sqlx::Error>> = JoinSet::new();
    let mut tally = |outcome: PostOutcome, already: &mut usize| {
        stop.advance();
        match outcome {
            PostOutcome::Posted { claims: c, .. } => claims.add(&c),
            PostOutcome::AlreadyPosted { .. } => *already += 1,
        }
    };
    while let Some(parsed) = receive.recv().await {
        // Validated above; an error now means the file changed under us.
        let parsed = match parsed {
            Ok(p) => p,
            Err(error) => {
                in_flight.shutdown().await;
                return Ok(FileOutcome::Refused { file_id, error });
            }
        };
        if stop.requested() {
            while let Some(done) = in_flight.join_next().await {
                tally(joined(done)?, &mut already);
            }
            return Ok(FileOutcome::Interrupted { file_id });
        }
        transactions += 1;
        if parsed.interchange.usage == Usage::Test {
            tests += 1;
            continue;
        }
        // A reversal may reverse a payment posted earlier in this very file:
        // let everything before it commit first.
        let barrier = parsed.transaction.claims.iter().any(is_reversal);
        while in_flight.len() >= POSTING_WORKERS || (barrier && !in_flight.is_empty()) {
            if let Some(done) = in_flight.join_next().await {
                tally(joined(done)?, &mut already);
            }
        }
        let (pool, cats) = (pool.clone(), cats.clone());
        in_flight.spawn(async move { post_transaction(&pool, file_id, &parsed, &cats).await });
    }
    while let Some(done) = in_flight.join_next().await {
        tally(joined(done)?, &mut already);
    }
    let _ = reader.await;
    let all_test = tests == transactions && transactions > 0;
    let state = if all_test { "test" } else { "posted" };
    // A synchronous commit: it also makes every posting above durable (they
    // commit asynchronously, see `post_transaction`). Only after it returns
    // may the file be archived.
    sqlx::query!("UPDATE ingested_files SET state = $2, refusal_reason = NULL, finished_at = now() WHERE id = $1", file_id, state).execute(pool).await?;
    if all_test {
        return Ok(FileOutcome::Test { file_id, transactions });
    }
    Ok(FileOutcome::Posted { file_id, transactions: transactions - tests, already_posted: already, claims })
}
