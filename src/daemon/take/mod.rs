//! Taking one whole file out of an inbox: read it as its folder's kind says
//! (an 835 posted, a bank file's deposits stored), then move it by its fate.
//!
//! Only the reading differs between kinds. Where a file goes afterwards,
//! how a refusal is kept with its reason, and what happens when it cannot
//! be moved are the same for every kind, so they are decided here once:
//! each kind's reader only says which [`Fate`] the file met.

mod bank;
mod remittances;

use std::path::Path;

use chrono::Utc;
use sqlx::PgPool;
use tracing::{error, info, warn};

use super::config::{DropFolder, FolderKind};
use super::files;
use super::Shared;
use crate::ingest::Stop;

/// Where a file goes once what it brought is committed.
enum Fate {
    /// To `archive/YYYY/MM/DD/`: posted or read, a duplicate, test data.
    Archive,
    /// To `error/`, with `reason` and `outcome` (what became of the file's
    /// content) written beside it.
    Refuse { reason: String, outcome: &'static str },
    /// Left in the inbox: it is gone, another instance has it, a stop came,
    /// or it cannot be read now (it is tried again at the next look).
    Stay,
}

/// Takes one whole file from `folder`'s inbox. A database error is
/// returned (the file stays in the inbox and the caller backs off); what a
/// file's content causes never is.
pub(super) async fn take(file: &Path, folder: &DropFolder, pool: &PgPool, shared: &Shared, stop: &Stop) -> Result<(), sqlx::Error> {
    // Names are bytes; logs show them lossily.
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // The `ingested_files` row that records where an 835 is kept (the
    // console reads and downloads it from there); bank files keep no row.
    let (fate, row) = match folder.kind {
        FolderKind::Remittances => remittances::read(file, &name, folder, pool, shared, stop).await?,
        FolderKind::Bank => (bank::read(file, &name, folder, pool, shared).await?, None),
    };
    let now = Utc::now();
    let moved = match fate {
        Fate::Archive => files::move_into(file, &files::archive_dir(&folder.archive, now)),
        Fate::Refuse { reason, outcome } => files::refuse(file, &folder.error, &reason, outcome, now).map(|moved| moved.map(|(to, _)| to)),
        Fate::Stay => return Ok(()),
    };
    match moved {
        Err(e) => {
            error!(folder = %folder.name, file = %name, error = %e, "its outcome is recorded, but the file cannot be moved out of the inbox; it will be seen as a duplicate")
        }
        Ok(Some(kept)) => {
            if let Some(file_id) = row {
                remittances::record_kept(pool, file_id, &kept).await?;
            }
        }
        Ok(None) => {}
    }
    Ok(())
}

/// Matches deposits with the remittances they pay, after a file brought
/// one side of a payment: the money may come before its 835 or after it,
/// so a posted 835 and a read bank file both look. It is one set-based
/// statement over what is still unmatched, cheap beside the file just
/// taken. A failure is logged and never held against the file (what it
/// brought is committed, and the next file's look matches what this one
/// could not); `None` then.
async fn match_deposits(pool: &PgPool, shared: &Shared, folder: &DropFolder, name: &str) -> Option<u64> {
    match crate::bank::reconcile::match_all(pool).await {
        Ok(m) => {
            shared.metrics.deposits_matched.inc_by(m.deposits());
            if m.questions > 0 {
                info!(folder = %folder.name, file = %name, questions = m.questions, "deposits left for a person: remitd reconcile --status ambiguous (or amount_mismatch, date_mismatch)");
            }
            Some(m.deposits())
        }
        Err(e) => {
            warn!(folder = %folder.name, file = %name, error = %e, "cannot match deposits with remittances now; the next file tries again");
            None
        }
    }
}
