//! A bank file (ACH or BAI2) from a bank folder: its deposits stored once
//! ([`crate::bank::store::import`]), then matched with the remittances
//! they pay.
//!
//! A bank file holds account numbers, so nothing here logs a field of it: a
//! refusal is logged by line and column and the reader's description of
//! what is wrong, which names the field and never quotes it.

use std::path::Path;

use sqlx::PgPool;
use tracing::{debug, error, info, warn};

use super::{match_deposits, Fate};
use crate::bank::store::{self, Imported};
use crate::daemon::config::DropFolder;
use crate::daemon::metrics::FolderLabel;
use crate::daemon::Shared;

/// What a refused bank file's reason says about its deposits.
const NOTHING_STORED: &str = "no deposit from this file was stored; ask the bank for a corrected file, then drop it in the inbox again";

/// Reads one bank file and says its fate: read or read before, archived;
/// refused (or too large, or not a regular file), to error/ with the reason.
pub(super) async fn read(file: &Path, name: &str, folder: &DropFolder, pool: &PgPool, shared: &Shared) -> Result<Fate, sqlx::Error> {
    let label = FolderLabel { folder: folder.name.clone() };
    let bytes = match bytes(file, folder.max_file_bytes).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(reason)) => {
            shared.metrics.files_refused.get_or_create(&label).inc();
            warn!(folder = %folder.name, file = %name, reason = %reason, "not read: moved to error/");
            return Ok(Fate::Refuse { reason, outcome: NOTHING_STORED });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            debug!(folder = %folder.name, file = %name, "file gone before it was read (another instance took it)");
            return Ok(Fate::Stay);
        }
        Err(e) => {
            error!(folder = %folder.name, file = %name, error = %e, "cannot read the bank file; it stays in the inbox");
            return Ok(Fate::Stay);
        }
    };
    let imported = match store::import(pool, name, &bytes).await {
        Ok(imported) => imported,
        Err(e) => {
            shared.metrics.database_errors.inc();
            return Err(e);
        }
    };
    shared.health.database_ok();
    Ok(match imported {
        Imported::Read { file_id, deposits } => {
            shared.metrics.files_ingested.get_or_create(&label).inc();
            let matched = match_deposits(pool, shared, folder, name).await;
            info!(folder = %folder.name, file = %name, bank_file_id = file_id, deposits, matched, "bank file read: its deposits stored");
            Fate::Archive
        }
        // As for an 835 sent twice: archived, nothing stored again.
        Imported::Duplicate { file_id } => {
            shared.metrics.files_duplicate.get_or_create(&label).inc();
            info!(folder = %folder.name, file = %name, bank_file_id = file_id, "duplicate of a bank file read before: archived, nothing stored");
            Fate::Archive
        }
        Imported::Refused { file_id, error } => {
            shared.metrics.files_refused.get_or_create(&label).inc();
            warn!(
                folder = %folder.name, file = %name, bank_file_id = file_id, line = error.line, column = error.column,
                problem = %error.problem, "bank file refused: moved to error/"
            );
            Fate::Refuse { reason: error.to_string(), outcome: NOTHING_STORED }
        }
    })
}

/// The file's bytes, or why it is not read at all: the same checks as for
/// an 835 ([`crate::ingest::inadmissible`]), made before it is opened. A
/// bank file is small (a day of a practice's deposits), so it is read
/// whole.
async fn bytes(file: &Path, max_bytes: u64) -> std::io::Result<Result<Vec<u8>, String>> {
    let meta = tokio::fs::metadata(file).await?;
    if let Some(reason) = crate::ingest::inadmissible(&meta, Some(max_bytes)) {
        return Ok(Err(reason));
    }
    tokio::fs::read(file).await.map(Ok)
}
