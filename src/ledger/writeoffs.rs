//! Write-offs as money: a request is recorded waiting, posting it writes
//! its ledger entries, reversing it gives them back, withdrawing a waiting
//! one ends it without money moving. Deciding whether and how much is the
//! workflows' business (`crate::writeoff`, the sweep, `crate::denials`);
//! these are the only statements that move a write-off's money or state.

use rust_decimal::Decimal;
use sqlx::PgConnection;

use super::kinds::{Bucket, WriteoffStatus};
use super::reverse::{reverse as reverse_entries, What};

/// A write-off to record, waiting (`PENDING_APPROVAL`) until [`post`]ed.
#[derive(Debug, Clone)]
pub struct NewRequest<'a> {
    pub receipt: i64,
    pub denial_id: Option<i64>,
    pub claim_id: i64,
    pub service_line_id: Option<i64>,
    pub amount: Decimal,
    pub bucket: Bucket,
    pub reason: &'a str,
    pub note: Option<&'a str>,
    pub requested_by: &'a str,
    /// A patient-responsibility write-off's parts: PR reason code and the
    /// amount moved to other adjustments. Empty for any other write-off.
    pub parts: &'a [(String, Decimal)],
}

/// Records a write-off request; nothing is posted yet.
pub async fn request(conn: &mut PgConnection, r: &NewRequest<'_>) -> Result<i64, sqlx::Error> {
    let id = sqlx::query_scalar!(
        "INSERT INTO writeoffs (receipt_id, denial_id, claim_id, service_line_id, amount, bucket, reason, note, requested_by, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'PENDING_APPROVAL') RETURNING id",
        r.receipt,
        r.denial_id,
        r.claim_id,
        r.service_line_id,
        r.amount,
        r.bucket.as_str(),
        r.reason,
        r.note,
        r.requested_by,
    )
    .fetch_one(&mut *conn)
    .await?;
    if !r.parts.is_empty() {
        let (codes, amounts): (Vec<&str>, Vec<Decimal>) = r.parts.iter().map(|(c, a)| (c.as_str(), *a)).unzip();
        sqlx::query!(
            "INSERT INTO writeoff_parts (writeoff_id, reason_code, amount) SELECT $1, c, a FROM UNNEST($2::text[], $3::numeric[]) AS u(c, a)",
            id,
            &codes as &[&str],
            &amounts,
        )
        .execute(conn)
        .await?;
    }
    Ok(id)
}

/// Which waiting write-offs [`post`] posts.
#[derive(Debug, Clone, Copy)]
pub enum Selection {
    One(i64),
    /// Every write-off of a receipt still waiting (a sweep run).
    Receipt(i64),
}

/// Posts the ledger entries of each selected write-off still waiting and
/// marks it `POSTED`: a `write_off` entry in its bucket (group `PR` for the
/// patient's), or, for a patient-responsibility write-off, per part a
/// negative `patient_responsibility` and an `other_adjustment` (net zero on
/// the insurance side). One statement however many. `decided_by` records
/// an approver. Returns how many write-offs posted.
pub async fn post(conn: &mut PgConnection, which: Selection, actor: &str, decided_by: Option<&str>) -> Result<u64, sqlx::Error> {
    let (one, receipt) = match which {
        Selection::One(id) => (Some(id), None),
        Selection::Receipt(id) => (None, Some(id)),
    };
    let done = sqlx::query!(
        "WITH todo AS (
             SELECT w.id, w.claim_id, w.service_line_id, w.bucket, w.reason, w.amount, w.tx_code, w.note
             FROM writeoffs w WHERE (w.id = $1 OR w.receipt_id = $2) AND w.status = 'PENDING_APPROVAL'
         ), e AS (
             INSERT INTO ledger_entries (claim_id, service_line_id, kind, group_code, reason_code, amount, actor, writeoff_id, memo)
             SELECT x.claim_id, x.service_line_id, x.kind, x.group_code, x.reason_code, x.amount, $3, x.id, x.memo
             FROM (
                 SELECT t.id, t.claim_id, t.service_line_id, 'write_off' AS kind, CASE t.bucket WHEN 'patient' THEN 'PR' END AS group_code,
                        t.reason AS reason_code, t.amount,
                        'write-off #' || t.id || COALESCE(' under code ' || t.tx_code, '') || COALESCE(': ' || t.note, '') AS memo,
                        '' AS part, 0 AS o
                 FROM todo t WHERE NOT EXISTS (SELECT 1 FROM writeoff_parts p WHERE p.writeoff_id = t.id)
                 UNION ALL
                 SELECT t.id, t.claim_id, t.service_line_id, k.kind, 'PR', p.reason_code,
                        CASE k.kind WHEN 'patient_responsibility' THEN -p.amount ELSE p.amount END,
                        'PR write-off #' || t.id || ': ' || COALESCE(t.note, t.reason), p.reason_code, k.o
                 FROM todo t JOIN writeoff_parts p ON p.writeoff_id = t.id
                 CROSS JOIN (VALUES (1, 'patient_responsibility'), (2, 'other_adjustment')) AS k(o, kind)
             ) x
             ORDER BY x.id, x.part, x.o
             RETURNING id, writeoff_id
         )
         UPDATE writeoffs w SET status = 'POSTED', ledger_entry_id = f.first, decided_by = COALESCE($4, w.decided_by)
         FROM (SELECT writeoff_id, min(id) AS first FROM e GROUP BY writeoff_id) f
         WHERE w.id = f.writeoff_id",
        one,
        receipt,
        actor,
        decided_by,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// A write-off whose state just changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub id: i64,
    pub denial_id: Option<i64>,
    pub claim_id: i64,
    pub receipt_id: i64,
    pub amount: Decimal,
    pub bucket: Bucket,
    pub reason: String,
}

/// Gives back the money of each posted write-off in `ids` (others are left
/// alone) with reversing entries, and marks it `UNDONE`. Returns the
/// write-offs reversed, in id order.
pub async fn reverse(conn: &mut PgConnection, ids: &[i64], actor: &str, memo: &str) -> Result<Vec<Changed>, sqlx::Error> {
    let posted = sqlx::query_as!(
        Changed,
        r#"SELECT id, denial_id, claim_id, receipt_id, amount, bucket AS "bucket: Bucket", reason
           FROM writeoffs WHERE id = ANY($1) AND status = 'POSTED' ORDER BY id FOR UPDATE"#,
        ids,
    )
    .fetch_all(&mut *conn)
    .await?;
    if posted.is_empty() {
        return Ok(posted);
    }
    let ids: Vec<i64> = posted.iter().map(|w| w.id).collect();
    reverse_entries(conn, What::Writeoffs(&ids), actor, memo).await?;
    sqlx::query!(
        "UPDATE writeoffs w SET status = 'UNDONE',
             reversal_entry_id = (SELECT min(e.id) FROM ledger_entries e WHERE e.writeoff_id = w.id AND e.reverses_entry_id IS NOT NULL)
         WHERE w.id = ANY($1)",
        &ids,
    )
    .execute(conn)
    .await?;
    Ok(posted)
}

/// Ends each write-off in `ids` still waiting for approval, as `status`
/// (`REJECTED` by a supervisor, `CANCELLED` by a remittance), decided by
/// `actor`. Nothing was posted, so nothing is reversed. Returns the
/// write-offs ended, in id order.
pub async fn withdraw(conn: &mut PgConnection, ids: &[i64], status: WriteoffStatus, actor: &str) -> Result<Vec<Changed>, sqlx::Error> {
    sqlx::query_as!(
        Changed,
        r#"WITH ended AS (
               UPDATE writeoffs SET status = $2, decided_by = $3 WHERE id = ANY($1) AND status = 'PENDING_APPROVAL'
               RETURNING id, denial_id, claim_id, receipt_id, amount, bucket, reason
           )
           SELECT id AS "id!", denial_id, claim_id AS "claim_id!", receipt_id AS "receipt_id!", amount AS "amount!",
                  bucket AS "bucket!: Bucket", reason AS "reason!"
           FROM ended ORDER BY id"#,
        ids,
        status.as_str(),
        actor,
    )
    .fetch_all(conn)
    .await
}
