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

mod parts;

use crate::model::Usage;
use crate::parse::{pipeline, Parsed, Reader, PART_CLAIMS};
use crate::posting::conflicts::Held;
use crate::posting::plan::CarcCategories;
use crate::posting::{is_reversal, post_transaction, ClaimsOutcome, PostOutcome};
use crate::x12::ParseError;
use parts::{Came, Fingerprints, InParts};

/// Transaction sets posted at once. Posting time is spent in PostgreSQL, one
/// backend per connection; two keep both cores of a small server busy.
pub const POSTING_WORKERS: usize = 2;

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
    /// Not read at all: not a regular file, or larger than the limit.
    NotTaken { reason: String },
    /// Some transaction sets posted and the rest did not: the database
    /// refused one set's data, sets conflict with payments posted before
    /// (held for a person), or the file changed while it was read.
    /// `reason` says which sets posted and why the rest did not; feeding
    /// the complete file again posts only the rest.
    Partial { file_id: i64, reason: String, posted: usize, conflicts: Vec<i64> },
    /// Asked to stop: the transaction sets in flight committed, the rest
    /// post when the file is fed again (no file id when the stop came while
    /// the file was still being read).
    Interrupted { file_id: Option<i64> },
}

/// How a caller steers a long ingest: it may ask it to stop between
/// transaction sets (daemon shutdown), and it can see it advance (the
/// daemon's watchdog pings only while work advances).
#[derive(Debug, Clone, Default)]
pub struct Stop {
    stop: Option<tokio::sync::watch::Receiver<bool>>,
    progress: Option<Arc<AtomicU64>>,
    max_bytes: Option<u64>,
}

impl Stop {
    /// Never asks to stop.
    pub fn never() -> Self {
        Stop::default()
    }

    /// Stops once `receiver` holds `true`.
    pub fn on(receiver: tokio::sync::watch::Receiver<bool>) -> Self {
        Stop { stop: Some(receiver), ..Stop::default() }
    }

    /// Counts progress (megabytes read, transaction sets posted) in `counter`.
    pub fn with_progress(self, counter: Arc<AtomicU64>) -> Self {
        Stop { progress: Some(counter), ..self }
    }

    /// Refuses, before reading a byte, a file larger than `bytes`.
    pub fn with_max_bytes(self, bytes: u64) -> Self {
        Stop { max_bytes: Some(bytes), ..self }
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

impl<'s, R> Hashing<'s, R> {
    fn new(inner: R, stop: &'s Stop) -> Self {
        Hashing { inner, hasher: Sha256::new(), bytes: 0, stop }
    }
}

/// Progress is reported every this many bytes read.
const PROGRESS_BYTES: u64 = 8 << 20;

/// The error a read returns once a stop is requested, so that hashing and
/// parsing a large file end within a read of a SIGTERM.
fn stopped_error() -> io::Error {
    io::Error::other(STOPPED)
}

const STOPPED: &str = "stop requested";

fn is_stop(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Other && e.to_string() == STOPPED
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.stop.requested() {
            return Err(stopped_error());
        }
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        if (self.bytes + n as u64) / PROGRESS_BYTES != self.bytes / PROGRESS_BYTES {
            self.stop.advance();
        }
        self.bytes += n as u64;
        Ok(n)
    }
}

/// What the first, validating reading of a file found.
struct Inspection {
    hash: Vec<u8>,
    size: u64,
    verdict: Result<(), ParseError>,
    /// The content fingerprints of the sets read in parts, by the set's
    /// place in the file: their remittance row is written before their
    /// last part is read again (see `parts`).
    fingerprints: Fingerprints,
}

/// What identifies a file's bytes without reading them: compared before
/// and after an ingest to see whether the file changed underneath it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    device: u64,
    inode: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl Identity {
    fn of(meta: &std::fs::Metadata) -> Identity {
        use std::os::unix::fs::MetadataExt;
        Identity { device: meta.dev(), inode: meta.ino(), len: meta.len(), modified: meta.modified().ok() }
    }
}

/// Refuses, before opening it, what is not a regular file or is larger
/// than the limit (see [`inadmissible`]).
fn admissible(path: &Path, stop: &Stop) -> io::Result<Result<Identity, String>> {
    let meta = std::fs::metadata(path)?;
    Ok(match inadmissible(&meta, stop.max_bytes) {
        Some(reason) => Err(reason),
        None => Ok(Identity::of(&meta)),
    })
}

/// Why a file must not even be opened, if it must not: it is not a regular
/// file (a FIFO would block the open, a device never ends), or it is larger
/// than `max_bytes` (a runaway or hostile file would hold up every file
/// behind it). The daemon asks this of every file it takes, whatever its
/// kind.
pub fn inadmissible(meta: &std::fs::Metadata, max_bytes: Option<u64>) -> Option<String> {
    if !meta.is_file() {
        return Some("not a regular file (a device, pipe, socket or folder); only regular files are read".to_string());
    }
    let max = max_bytes.filter(|max| meta.len() > *max)?;
    Some(format!("{} bytes, larger than the limit of {max} bytes (max_file_bytes); nothing was read", meta.len()))
}

/// Hash, size and validity of a file, in one streaming pass.
fn inspect(path: &Path, stop: &Stop) -> io::Result<Inspection> {
    let mut src = Hashing::new(File::open(path)?, stop);
    let mut fingerprints = Fingerprints::default();
    // On two threads (`parse::pipeline`): nothing is posted from this
    // pass, which only judges the file and fingerprints its large sets.
    let verdict = pipeline::read(&mut src, Some(PART_CLAIMS), |p| fingerprints.take(&p)).map(|_| ());
    // Hash every byte even when parsing stopped early.
    io::copy(&mut src, &mut io::sink())?;
    if stop.requested() {
        return Err(stopped_error());
    }
    Ok(Inspection { hash: src.hasher.finalize().to_vec(), size: src.bytes, verdict, fingerprints })
}

/// Ingests one file.
pub async fn ingest_file(pool: &PgPool, path: &Path, cats: &CarcCategories) -> Result<FileOutcome, IngestError> {
    ingest_file_until(pool, path, cats, &Stop::never()).await
}

/// Ingests one file, stopping between transaction sets when `stop` says so.
pub async fn ingest_file_until(pool: &PgPool, path: &Path, cats: &CarcCategories, stop: &Stop) -> Result<FileOutcome, IngestError> {
    let io_err = |source| IngestError::Io { path: path.display().to_string(), source };
    let identity = match admissible(path, stop).map_err(io_err)? {
        Ok(identity) => identity,
        Err(reason) => return Ok(FileOutcome::NotTaken { reason }),
    };
    // CPU-bound and long on a large file: off the async workers.
    let (owned, probe) = (PathBuf::from(path), stop.clone());
    let inspected = tokio::task::spawn_blocking(move || inspect(&owned, &probe)).await.map_err(|e| IngestError::Task(e.to_string()))?;
    let Inspection { hash, size, verdict, fingerprints } = match inspected {
        Ok(i) => i,
        Err(e) if is_stop(&e) => return Ok(FileOutcome::Interrupted { file_id: None }),
        Err(e) => return Err(io_err(e)),
    };
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
    let outcome = ingest_locked(pool, path, Taken { file_id, identity, hash, fingerprints }, verdict, cats, stop).await;
    let unlocked = sqlx::query!("SELECT pg_advisory_unlock($1)", file_id).fetch_one(&mut *lock).await;
    if unlocked.is_err() {
        // A connection whose unlock failed must not go back to the pool holding the lock.
        let _ = lock.detach().close().await;
    }
    outcome
}

/// A file claimed for ingesting: its row, and what it was when inspected.
struct Taken {
    file_id: i64,
    identity: Identity,
    hash: Vec<u8>,
    fingerprints: Fingerprints,
}

/// The transaction sets of one file as they come back from posting.
#[derive(Default)]
struct Sets {
    seen: usize,
    tests: usize,
    posted: Vec<String>,
    already: usize,
    /// Sets held as conflicts, with the conflict's number.
    conflicts: Vec<(String, i64)>,
    claims: ClaimsOutcome,
    /// The first set the database refused for its data, and why.
    refused: Option<String>,
    /// A connection or server error: the file waits for the database.
    outage: Option<sqlx::Error>,
}

impl Sets {
    fn tally(&mut self, label: String, result: Result<Result<PostOutcome, sqlx::Error>, tokio::task::JoinError>) -> Result<(), IngestError> {
        match result.map_err(|e| IngestError::Task(e.to_string()))? {
            Ok(PostOutcome::Posted { claims, .. }) => {
                self.claims.add(&claims);
                self.posted.push(label);
            }
            Ok(PostOutcome::AlreadyPosted { .. }) => self.already += 1,
            Ok(PostOutcome::Conflict { held: Held::Open(id), .. }) => self.conflicts.push((label, id)),
            // A person resolved this very conflict before: a quiet duplicate now.
            Ok(PostOutcome::Conflict { held: Held::Resolved(_), .. }) => self.already += 1,
            Err(e) if crate::db::is_outage(&e) => {
                self.outage.get_or_insert(e);
            }
            Err(e) => {
                self.refused.get_or_insert(format!("transaction set {label}: the database refused its data: {e}"));
            }
        }
        Ok(())
    }

    /// Tallies what a part of a set read in parts came to (a set that
    /// reads differently than at first is noted in `changed`); whether to
    /// read on.
    fn part_came(&mut self, came: Came, changed: &mut Option<String>) -> Result<bool, IngestError> {
        match came {
            Came::Pending => {}
            Came::Done(label, result) => self.tally(label, Ok(result))?,
            Came::Changed(label) => {
                *changed = Some(label);
                return Ok(false);
            }
        }
        Ok(!self.halted())
    }

    /// Whether no more sets should be sent to post.
    fn halted(&self) -> bool {
        self.refused.is_some() || self.outage.is_some()
    }

    /// The reason a partial file is kept with: what posted, what did not,
    /// why, and what feeding it again does.
    fn partial_reason(&self, why: &[String]) -> String {
        let posted = if self.posted.is_empty() { "none".to_string() } else { self.posted.join(", ") };
        let before = if self.already > 0 { format!("; {} posted before", self.already) } else { String::new() };
        format!(
            "{}. Transaction sets posted from this file: {posted}{before}; the others were not posted. Feeding the complete file again posts only what is not posted yet.",
            why.join("; ")
        )
    }
}

/// `ST02 (trace TRN02)`: how a transaction set is named in reasons.
fn label(parsed: &Parsed) -> String {
    format!("{} (trace {})", parsed.transaction.control_number, parsed.transaction.trace_number)
}

async fn ingest_locked(
    pool: &PgPool,
    path: &Path,
    taken: Taken,
    verdict: Result<(), ParseError>,
    cats: &CarcCategories,
    stop: &Stop,
) -> Result<FileOutcome, IngestError> {
    let file_id = taken.file_id;
    let row = sqlx::query!("SELECT state, abandoned, refusal_reason FROM ingested_files WHERE id = $1", file_id).fetch_one(pool).await?;
    if row.state == "posted" || row.state == "test" {
        sqlx::query!("UPDATE ingested_files SET duplicates = duplicates + 1, last_duplicate_at = now() WHERE id = $1", file_id).execute(pool).await?;
        return Ok(FileOutcome::Duplicate { file_id, state: row.state });
    }
    if let Err(error) = verdict {
        record(pool, file_id, "refused", Some(&error.to_string())).await?;
        return Ok(FileOutcome::Refused { file_id, error });
    }
    if row.abandoned >= ABANDONED_LIMIT {
        return refuse_abandoned(pool, file_id, row.abandoned, row.refusal_reason.unwrap_or_default()).await;
    }
    // Being ingested again (after a partial or abandoned attempt): if this
    // process dies too, the next look finds it `processing` and counts it.
    if row.state != "processing" {
        sqlx::query!("UPDATE ingested_files SET state = 'processing' WHERE id = $1", file_id).execute(pool).await?;
    }
    let file = File::open(path).map_err(|source| IngestError::Io { path: path.display().to_string(), source })?;
    // The reader runs on a blocking thread and hands over one transaction set
    // (or one part of a large one) at a time through a small channel: memory
    // stays bounded by a few parts. It hashes again as it reads: the bytes
    // posted are the bytes inspected, or the file changed and the outcome
    // says so.
    let (send, mut receive) = tokio::sync::mpsc::channel::<Result<Parsed, ParseError>>(POSTING_WORKERS * 2);
    let probe = stop.clone();
    let reader = tokio::task::spawn_blocking(move || {
        let mut src = Hashing::new(file, &probe);
        for parsed in Reader::in_parts(&mut src, PART_CLAIMS) {
            if send.blocking_send(parsed).is_err() {
                return None;
            }
        }
        io::copy(&mut src, &mut io::sink()).ok()?;
        Some(src.hasher.finalize().to_vec())
    });
    let mut sets = Sets::default();
    let mut unreadable = None;
    let mut changed = None;
    let mut in_flight = InFlight::new();
    // The set being read in parts, posted inline (see `parts`); dropped
    // unfinished (a stop, an error), it rolls back.
    let mut large: Option<InParts> = None;
    let mut interrupted = false;
    while let Some(parsed) = receive.recv().await {
        // Validated above; an error now means the file changed under us.
        let parsed = match parsed {
            Ok(p) => p,
            Err(error) => {
                unreadable = Some(error);
                break;
            }
        };
        if stop.requested() {
            interrupted = true;
            break;
        }
        if sets.halted() {
            break;
        }
        if !parsed.part.is_whole() {
            if parsed.part.is_first() {
                sets.seen += 1;
                if parsed.interchange.usage == Usage::Test {
                    sets.tests += 1;
                }
                // It holds the whole ledger, and may reverse what came before.
                finish_down_to(0, &mut in_flight, &mut sets, stop).await?;
                if sets.halted() {
                    break;
                }
                let (opened, came) = InParts::open(pool, file_id, &parsed, sets.seen - 1, &taken.fingerprints).await;
                large = Some(opened);
                if !sets.part_came(came, &mut changed)? {
                    break;
                }
            }
            let came = match large.as_mut() {
                Some(set) => set.part(&parsed, cats).await,
                None => Came::Pending,
            };
            stop.advance();
            if parsed.part.last {
                large = None;
            }
            if !sets.part_came(came, &mut changed)? {
                break;
            }
            continue;
        }
        sets.seen += 1;
        if parsed.interchange.usage == Usage::Test {
            sets.tests += 1;
            continue;
        }
        // A reversal may reverse a payment posted earlier in this very file:
        // let everything before it commit first.
        let barrier = parsed.transaction.claims.iter().any(is_reversal);
        finish_down_to(if barrier { 0 } else { POSTING_WORKERS - 1 }, &mut in_flight, &mut sets, stop).await?;
        if sets.halted() {
            break;
        }
        let (pool, cats) = (pool.clone(), cats.clone());
        in_flight.spawn(async move { (label(&parsed), post_transaction(&pool, file_id, &parsed, &cats).await) });
    }
    drop(large);
    drop(receive);
    finish_down_to(0, &mut in_flight, &mut sets, stop).await?;
    let rehashed = reader.await.ok().flatten();
    if let Some(e) = sets.outage.take() {
        return Err(IngestError::Db(e));
    }
    let now = std::fs::metadata(path).ok().map(|m| Identity::of(&m));
    let mut why = Vec::new();
    if let Some(e) = &unreadable {
        why.push(format!("the file changed while it was ingested and no longer reads as it did ({e})"));
    } else if let Some(label) = &changed {
        why.push(format!("the file changed while it was ingested: transaction set {label} no longer reads as it did, and none of it was posted"));
    } else if !interrupted && !sets.halted() && (rehashed.as_ref() != Some(&taken.hash) || now.as_ref() != Some(&taken.identity)) {
        why.push("the file changed while it was ingested (its size, time or content differ from when it was read first)".to_string());
    }
    if let Some(r) = &sets.refused {
        why.push(r.clone());
    }
    for (label, id) in &sets.conflicts {
        why.push(format!(
            "transaction set {label} has the payer and trace number of a payment posted before, with different content: held as conflict #{id} (remitd conflicts show {id})"
        ));
    }
    if interrupted {
        let reason = sets.partial_reason(&["stopped by a shutdown".to_string()]);
        record(pool, file_id, "partial", Some(&reason)).await?;
        return Ok(FileOutcome::Interrupted { file_id: Some(file_id) });
    }
    if !why.is_empty() {
        let reason = sets.partial_reason(&why);
        let state = if sets.posted.is_empty() && sets.already == 0 { "refused" } else { "partial" };
        record(pool, file_id, state, Some(&reason)).await?;
        let conflicts = sets.conflicts.iter().map(|(_, id)| *id).collect();
        return Ok(FileOutcome::Partial { file_id, reason, posted: sets.posted.len(), conflicts });
    }
    let all_test = sets.tests == sets.seen && sets.seen > 0;
    // A synchronous commit: it also makes every posting above durable (they
    // commit asynchronously, see `post_transaction`). Only after it returns
    // may the file be archived.
    record(pool, file_id, if all_test { "test" } else { "posted" }, None).await?;
    if all_test {
        return Ok(FileOutcome::Test { file_id, transactions: sets.seen });
    }
    Ok(FileOutcome::Posted { file_id, transactions: sets.seen - sets.tests, already_posted: sets.already, claims: sets.claims })
}

/// Sets being posted by the workers, each with its label.
type InFlight = JoinSet<(String, Result<PostOutcome, sqlx::Error>)>;

/// Waits until at most `keep` sets are in flight, tallying those that end.
async fn finish_down_to(keep: usize, in_flight: &mut InFlight, sets: &mut Sets, stop: &Stop) -> Result<(), IngestError> {
    while in_flight.len() > keep {
        let Some(done) = in_flight.join_next().await else { break };
        let (label, result) = split(done);
        sets.tally(label, result)?;
        stop.advance();
    }
    Ok(())
}

/// A posting task's label and result, a panicked task reported as such.
fn split(
    done: Result<(String, Result<PostOutcome, sqlx::Error>), tokio::task::JoinError>,
) -> (String, Result<Result<PostOutcome, sqlx::Error>, tokio::task::JoinError>) {
    match done {
        Ok((label, result)) => (label, Ok(result)),
        Err(e) => (String::from("?"), Err(e)),
    }
}

/// Times a process may end while ingesting one file before the file is
/// refused: a file that kills whoever reads it (whatever the cause: memory
/// is bounded by a part of a set, but a limit set too low, or a bug, could
/// still do it) must not stop every file behind it forever.
const ABANDONED_LIMIT: i32 = 2;

/// Refuses a file the process died on [`ABANDONED_LIMIT`] times; `before`
/// is the reason recorded the last time (it names what posted). The count
/// starts again, so a file dropped in again after a fix is tried again.
async fn refuse_abandoned(pool: &PgPool, file_id: i64, times: i32, before: String) -> Result<FileOutcome, IngestError> {
    let reason = format!(
        "the process ingesting this file ended {times} times part way (killed: by a person, the service manager, or for running out of memory); refused so that the files behind it go. Last time: {before}"
    );
    let posted = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM remittances WHERE file_id = $1"#, file_id).fetch_one(pool).await?;
    let state = if posted == 0 { "refused" } else { "partial" };
    sqlx::query!("UPDATE ingested_files SET state = $2, refusal_reason = $3, abandoned = 0, finished_at = now() WHERE id = $1", file_id, state, reason)
        .execute(pool)
        .await?;
    Ok(FileOutcome::Partial { file_id, reason, posted: usize::try_from(posted).unwrap_or(0), conflicts: Vec::new() })
}

/// Records what became of a file (synchronously committed).
async fn record(pool: &PgPool, file_id: i64, state: &str, reason: Option<&str>) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE ingested_files SET state = $2, refusal_reason = $3, finished_at = now() WHERE id = $1", file_id, state, reason).execute(pool).await?;
    Ok(())
}

/// Files left `processing` by a process that ended part way (killed, or
/// its database connection lost) become `partial`, naming what posted:
/// no row says "being ingested" when nobody holds the file. A file held
/// right now (its advisory lock taken) is left alone. Returns how many.
pub async fn settle_abandoned(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let settled = sqlx::query!(
        r#"WITH stale AS MATERIALIZED (SELECT id FROM ingested_files WHERE state = 'processing')
           UPDATE ingested_files f
           SET state = CASE WHEN posted.traces IS NULL THEN 'refused' ELSE 'partial' END,
               finished_at = now(),
               abandoned = f.abandoned + 1,
               refusal_reason = 'the process ingesting it ended part way. Transaction sets posted from this file: '
                                || COALESCE(posted.traces, 'none')
                                || '; the others were not posted. Feeding the complete file again posts only what is not posted yet.'
           FROM (SELECT i.id, (SELECT string_agg(r.transaction_control || ' (trace ' || r.trace_number || ')', ', ' ORDER BY r.id)
                               FROM remittances r WHERE r.file_id = i.id) AS traces
                 FROM stale i
                 WHERE pg_try_advisory_xact_lock(i.id)) posted
           WHERE f.id = posted.id"#,
    )
    .execute(pool)
    .await?;
    Ok(settled.rows_affected())
}
