//! An 835 from a remittances folder: posted (see [`crate::ingest`]), counted
//! and logged by what became of it. A posted file then looks for deposits
//! that were waiting for it.

use std::path::Path;
use std::time::Instant;

use sqlx::PgPool;
use tracing::{debug, error, info, warn};

use super::{match_deposits, Fate};
use crate::daemon::config::DropFolder;
use crate::daemon::files::NOTHING_POSTED;
use crate::daemon::metrics::FolderLabel;
use crate::daemon::Shared;
use crate::ingest::{ingest_file_until, FileOutcome, IngestError, Stop};
use crate::posting::load_categories;

/// Posts one 835 and says its fate, with the `ingested_files` row that
/// records where the file is kept. The CARC categories are read for each
/// file, so a change applies from the next.
pub(super) async fn read(
    file: &Path,
    name: &str,
    folder: &DropFolder,
    pool: &PgPool,
    shared: &Shared,
    stop: &Stop,
) -> Result<(Fate, Option<i64>), sqlx::Error> {
    let label = FolderLabel { folder: folder.name.clone() };
    let started = Instant::now();
    let cats = load_categories(pool).await?;
    let steer = stop.clone().with_max_bytes(folder.max_file_bytes);
    let outcome = match ingest_file_until(pool, file, &cats, &steer).await {
        Ok(o) => o,
        Err(IngestError::Db(e)) => {
            shared.metrics.database_errors.inc();
            return Err(e);
        }
        Err(IngestError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            debug!(folder = %folder.name, file = %name, "file gone before it was read (another instance took it)");
            return Ok((Fate::Stay, None));
        }
        Err(e) => {
            error!(folder = %folder.name, file = %name, error = %e, "cannot ingest; file stays in the inbox");
            return Ok((Fate::Stay, None));
        }
    };
    shared.health.database_ok();
    let refuse = |reason: &str, outcome| Fate::Refuse { reason: reason.to_string(), outcome };
    let fate = match &outcome {
        FileOutcome::Posted { file_id, transactions, already_posted, claims } => {
            shared.metrics.files_ingested.get_or_create(&label).inc();
            shared.metrics.claims_posted.inc_by(claims.posted as u64);
            shared.metrics.claims_unmatched.inc_by(claims.unmatched as u64);
            shared.metrics.reversals.inc_by(claims.reversals as u64);
            shared.metrics.denials_opened.inc_by(claims.denials_opened as u64);
            shared.metrics.denials_reopened.inc_by(claims.denials_reopened as u64);
            shared.metrics.ingest_seconds.observe(started.elapsed().as_secs_f64());
            info!(
                folder = %folder.name, file = %name, file_id, transactions, already_posted,
                claims_posted = claims.posted, unmatched = claims.unmatched, reversals = claims.reversals,
                denials_opened = claims.denials_opened, denials_reopened = claims.denials_reopened,
                denials_flagged = claims.denials_flagged, seconds = started.elapsed().as_secs_f64(), "posted"
            );
            // Money may have come before its remittance.
            if let Some(matched) = match_deposits(pool, shared, folder, name).await.filter(|n| *n > 0) {
                info!(folder = %folder.name, file = %name, file_id, matched, "deposits matched with the remittances just posted");
            }
            Fate::Archive
        }
        FileOutcome::Test { file_id, transactions } => {
            shared.metrics.files_test.get_or_create(&label).inc();
            info!(folder = %folder.name, file = %name, file_id, transactions, "test data (ISA15 = T): recorded, not posted");
            Fate::Archive
        }
        FileOutcome::Duplicate { file_id, state } => {
            shared.metrics.files_duplicate.get_or_create(&label).inc();
            info!(folder = %folder.name, file = %name, file_id, earlier_state = %state, "duplicate of a file ingested before: archived, nothing posted");
            Fate::Archive
        }
        FileOutcome::Refused { file_id, error } => {
            shared.metrics.files_refused.get_or_create(&label).inc();
            warn!(folder = %folder.name, file = %name, file_id, reason = %error, "refused: moved to error/");
            refuse(&error.to_string(), NOTHING_POSTED)
        }
        FileOutcome::NotTaken { reason } => {
            shared.metrics.files_refused.get_or_create(&label).inc();
            warn!(folder = %folder.name, file = %name, reason = %reason, "not read: moved to error/");
            refuse(reason, NOTHING_POSTED)
        }
        FileOutcome::Partial { file_id, reason, posted, conflicts } => {
            shared.metrics.files_partial.get_or_create(&label).inc();
            shared.metrics.conflicts_held.inc_by(conflicts.len() as u64);
            warn!(folder = %folder.name, file = %name, file_id, posted, conflicts = conflicts.len(), reason = %reason, "posted in part: moved to error/");
            refuse(reason, "what posted is listed above and stays posted; the rest was not")
        }
        FileOutcome::Busy { file_id } => {
            debug!(folder = %folder.name, file = %name, file_id, "another instance is ingesting this file");
            Fate::Stay
        }
        FileOutcome::Interrupted { file_id } => {
            info!(folder = %folder.name, file = %name, file_id = ?file_id, "stopped part way: the rest posts at the next start");
            Fate::Stay
        }
    };
    Ok((fate, kept_file_id(&outcome)))
}

/// The file whose copy this was, when the copy is the one to keep: a
/// duplicate's row is the earlier file's, which keeps its own copy.
fn kept_file_id(outcome: &FileOutcome) -> Option<i64> {
    match outcome {
        FileOutcome::Posted { file_id, .. }
        | FileOutcome::Test { file_id, .. }
        | FileOutcome::Refused { file_id, .. }
        | FileOutcome::Partial { file_id, .. } => Some(*file_id),
        _ => None,
    }
}

/// Records where the daemon keeps a file (migration 0022), for the
/// console's readable remittance and its download of the original.
pub(super) async fn record_kept(pool: &PgPool, file_id: i64, kept: &Path) -> Result<(), sqlx::Error> {
    let kept = std::path::absolute(kept).unwrap_or_else(|_| kept.to_path_buf()).to_string_lossy().into_owned();
    sqlx::query!("UPDATE ingested_files SET kept_at = $2 WHERE id = $1", file_id, kept).execute(pool).await?;
    Ok(())
}
