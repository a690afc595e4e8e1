//! The set-based write of a sweep run: a handful of statements whatever the
//! number of balances, all inside the caller's transaction, so a crash
//! leaves each balance written off with its audit row, or untouched.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use super::{Line, Params};
use crate::ledger::receipts::{self, Receipt};
use crate::ledger::writeoffs::{post, Selection};
use crate::ledger::{audit, ReceiptKind, SYSTEM_ACTOR};

/// The reason every sweep write-off records.
pub const REASON: &str = "small-balance";

/// How a run was started; stored with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Post,
    Interactive,
    Scheduled,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Post => "post",
            Mode::Interactive => "interactive",
            Mode::Scheduled => "scheduled",
        }
    }
}

/// A stored run and, when it writes anything off, its receipt.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub id: i64,
    pub receipt: Option<i64>,
}

/// Records a run started by a person (`--post`, `--interactive`), with the
/// receipt its write-offs go under: returns the run's id and the receipt.
pub async fn start_run(conn: &mut PgConnection, mode: Mode, actor: &str, params: &Params, skipped_protected: usize) -> Result<(i64, i64), sqlx::Error> {
    let json = serde_json::to_value(params).unwrap_or_default();
    let receipt = receipts::open(conn, &Receipt { kind: ReceiptKind::Sweep, actor, reason: REASON, note: None, filter: json.clone() }).await?;
    // Without a slot there is no conflict to skip: a row always comes back.
    let id = insert_run(conn, mode, None, actor, json, skipped_protected, Some(receipt)).await?.ok_or(sqlx::Error::RowNotFound)?;
    Ok((id, receipt))
}

/// Records the run of a schedule slot, with a receipt when it will write
/// something off. `None`: the slot already ran (another instance got there
/// first) and the caller must roll back.
pub async fn claim_slot(
    conn: &mut PgConnection,
    slot: DateTime<Utc>,
    params: &Params,
    skipped_protected: usize,
    with_receipt: bool,
) -> Result<Option<Run>, sqlx::Error> {
    let json = serde_json::to_value(params).unwrap_or_default();
    let receipt = match with_receipt {
        true => Some(receipts::open(conn, &Receipt { kind: ReceiptKind::Sweep, actor: SYSTEM_ACTOR, reason: REASON, note: None, filter: json.clone() }).await?),
        false => None,
    };
    let id = insert_run(conn, Mode::Scheduled, Some(slot), SYSTEM_ACTOR, json, skipped_protected, receipt).await?;
    Ok(id.map(|id| Run { id, receipt }))
}

async fn insert_run(
    conn: &mut PgConnection,
    mode: Mode,
    slot: Option<DateTime<Utc>>,
    actor: &str,
    params: serde_json::Value,
    skipped_protected: usize,
    receipt: Option<i64>,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "INSERT INTO sweep_runs (receipt_id, mode, slot, actor, params, skipped_protected) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (slot) DO NOTHING RETURNING id",
        receipt,
        mode.as_str(),
        slot,
        actor,
        params,
        i32::try_from(skipped_protected).unwrap_or(i32::MAX),
    )
    .fetch_optional(conn)
    .await
}

/// Writes off `lines` under the run's receipt. An insurance balance first
/// closes the open denials of its claim (oldest first, each up to what
/// remains of it, and the denial becomes WRITE_OFF); what is left of the
/// balance is written off against the claim. The caller holds the whole
/// ledger, so the balances are what is owed. Write-offs are numbered by
/// claim, its denials' first, so which is newest is the same every run.
/// Returns the write-offs made.
pub async fn write_off(conn: &mut PgConnection, run: i64, receipt: i64, actor: &str, lines: &[&Line]) -> Result<usize, sqlx::Error> {
    let claims: Vec<i64> = lines.iter().map(|l| l.claim_row).collect();
    let buckets: Vec<&str> = lines.iter().map(|l| l.bucket.as_str()).collect();
    let amounts: Vec<Decimal> = lines.iter().map(|l| l.amount).collect();
    let codes: Vec<&str> = lines.iter().map(|l| l.tx_code.as_str()).collect();
    let made = sqlx::query!(
        "WITH todo AS (
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::numeric[], $4::text[]) AS t(claim_row, bucket, balance, tx_code)
         ),
         open_denials AS (
             SELECT t.claim_row, t.balance, d.id AS denial_id, d.service_line_id, b.remaining
             FROM todo t JOIN denials d ON d.claim_id = t.claim_row AND d.status = 'OPEN'
             JOIN denial_balances b ON b.denial_id = d.id
             WHERE t.bucket = 'insurance' AND t.balance > 0
         ),
         shares AS (
             SELECT claim_row, denial_id, service_line_id,
                    LEAST(remaining, balance - COALESCE(sum(remaining) OVER (PARTITION BY claim_row ORDER BY denial_id
                                                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)) AS amount
             FROM open_denials WHERE remaining > 0
         ),
         taken AS (
             SELECT claim_row, sum(amount) AS amount FROM shares WHERE amount > 0 GROUP BY claim_row
         ),
         parts AS (
             SELECT s.claim_row, 'insurance' AS bucket, t.tx_code, s.denial_id, s.service_line_id, s.amount
             FROM shares s JOIN todo t ON t.claim_row = s.claim_row AND t.bucket = 'insurance'
             WHERE s.amount > 0
             UNION ALL
             SELECT t.claim_row, t.bucket, t.tx_code, NULL, NULL, t.balance - COALESCE(k.amount, 0)
             FROM todo t LEFT JOIN taken k ON k.claim_row = t.claim_row AND t.bucket = 'insurance'
         )
         INSERT INTO writeoffs (receipt_id, denial_id, claim_id, service_line_id, amount, bucket, reason, tx_code, requested_by, status)
         SELECT $5, denial_id, claim_row, service_line_id, amount, bucket, $7, tx_code, $6, 'PENDING_APPROVAL'
         FROM parts WHERE amount <> 0
         ORDER BY claim_row, denial_id NULLS LAST, bucket
         RETURNING id, denial_id",
        &claims,
        &buckets as &[&str],
        &amounts,
        &codes as &[&str],
        receipt,
        actor,
        REASON,
    )
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<i64> = made.iter().map(|w| w.id).collect();
    let denials: Vec<i64> = made.iter().filter_map(|w| w.denial_id).collect();
    // Inserted waiting, posted in the same transaction by the one routine
    // every write-off posts through; the sweep's parameters are its approval.
    audit::record_writeoffs(conn, &ids, actor, "writeoff_posted", serde_json::json!({ "sweep_run": run })).await?;
    post(conn, Selection::Receipt(receipt), actor, Some(actor)).await?;
    crate::denials::close_written_off(conn, &denials).await?;
    Ok(ids.len())
}

/// Appends `lines` to the run's stored report.
pub async fn store_lines(conn: &mut PgConnection, run: i64, lines: &[&Line]) -> Result<(), sqlx::Error> {
    let col = |f: fn(&Line) -> &str| lines.iter().map(|l| f(l)).collect::<Vec<&str>>();
    sqlx::query!(
        "INSERT INTO sweep_lines (run_id, line_no, section, bucket, claim_id, patient_name, account_number, last_billed_date,
                                  amount, tx_code, payer_code, policy_order)
         SELECT $1, (SELECT COALESCE(max(line_no), 0) FROM sweep_lines WHERE run_id = $1) + t.n,
                t.section, t.bucket, t.claim_row, t.patient_name, t.account_number, t.billed, t.amount, t.tx_code, t.payer_code, t.policy_order
         FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::date[], $8::numeric[], $9::text[], $10::text[], $11::int2[])
              WITH ORDINALITY AS t(section, bucket, claim_row, patient_name, account_number, billed, amount, tx_code, payer_code, policy_order, n)",
        run,
        &col(|l| l.section.as_str()) as &[&str],
        &col(|l| l.bucket.as_str()) as &[&str],
        &lines.iter().map(|l| l.claim_row).collect::<Vec<i64>>(),
        &col(|l| &l.patient_name) as &[&str],
        &col(|l| &l.account_number) as &[&str],
        &lines.iter().map(|l| l.last_billed_date).collect::<Vec<_>>(),
        &lines.iter().map(|l| l.amount).collect::<Vec<Decimal>>(),
        &col(|l| &l.tx_code) as &[&str],
        &col(|l| &l.payer_code) as &[&str],
        &lines.iter().map(|l| l.policy_order).collect::<Vec<i16>>(),
    )
    .execute(conn)
    .await?;
    Ok(())
}
