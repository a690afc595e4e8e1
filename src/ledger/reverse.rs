//! The one routine that reverses ledger entries. Payer reversals, undoing a
//! write-off, reopening a denial and reversing write-offs that a payer's
//! later remittance made wrong all come here, so a reversal always negates
//! the same kinds the same way:
//!
//! - a `write_off` is given back by a `write_off_reversal` of the same
//!   amount (it names the write-off and keeps its group, so the bucket it
//!   came from gets it back);
//! - anything else is negated by a `reversal` whose `reversed_kind` is the
//!   kind it negates, so balances that sum by kind net out.
//!
//! Each entry is reversed at most once: entries already reversed are
//! skipped, and a unique index on `reverses_entry_id` makes a second
//! reversal of one entry fail even from two transactions at once.

use sqlx::PgConnection;

/// Which entries to reverse.
#[derive(Debug, Clone, Copy)]
pub enum What<'a> {
    /// Every entry a claim posting made (a payer reversal of that posting);
    /// the reversing entries belong to the reversal's own remittance and
    /// posting.
    Posting { original: i64, remittance_id: i64, reversal_posting: i64 },
    /// Every entry these write-offs posted.
    Writeoffs(&'a [i64]),
}

/// Reverses the entries `what` names, as `actor` with `memo`. Returns the
/// reversing entries' ids, in the order of the entries they reverse.
pub async fn reverse(conn: &mut PgConnection, what: What<'_>, actor: &str, memo: &str) -> Result<Vec<i64>, sqlx::Error> {
    let (posting, writeoffs, remittance, reversal_posting) = match what {
        What::Posting { original, remittance_id, reversal_posting } => (Some(original), &[][..], Some(remittance_id), Some(reversal_posting)),
        What::Writeoffs(ids) => (None, ids, None, None),
    };
    let ids = sqlx::query_scalar!(
        "INSERT INTO ledger_entries (claim_id, service_line_id, remittance_id, claim_posting_id, kind, reversed_kind,
                                     group_code, reason_code, amount, reverses_entry_id, actor, memo, writeoff_id)
         SELECT l.claim_id, l.service_line_id, $3, $4,
                CASE l.kind WHEN 'write_off' THEN 'write_off_reversal' ELSE 'reversal' END,
                CASE l.kind WHEN 'write_off' THEN NULL ELSE l.kind END,
                l.group_code, l.reason_code,
                CASE l.kind WHEN 'write_off' THEN l.amount ELSE -l.amount END,
                l.id, $5, $6, l.writeoff_id
         FROM ledger_entries l
         WHERE (l.claim_posting_id = $1 OR l.writeoff_id = ANY($2))
           AND l.kind NOT IN ('reversal', 'write_off_reversal')
           AND NOT EXISTS (SELECT 1 FROM ledger_entries r WHERE r.reverses_entry_id = l.id)
         ORDER BY l.id
         RETURNING id",
        posting,
        writeoffs,
        remittance,
        reversal_posting,
        actor,
        memo,
    )
    .fetch_all(conn)
    .await?;
    Ok(ids)
}
