//! Mass write-off of patient balances (source document 001: "Mass Write Off
//! for insurances that do not balance bill the patient"): for payers that
//! forbid billing the patient (Medicaid, most often), what the patient
//! still owes after insurance is written off, claim by claim, under one
//! receipt and one reason.
//!
//! A person names the payer (or an account or a claim) and may narrow by
//! service date and balance; the preview runs the whole write-off and rolls
//! it back, so it lists exactly what the post will do, row by row. Each
//! claim's patient balance becomes a claim-level `write_off` entry in the
//! patient bucket (group `PR`), with an audit row; the approval gate applies
//! claim by claim, counting the claim's earlier patient write-offs (Write
//! Off PR included) with this one. The run holds the whole ledger, so each
//! balance is what is owed when it commits.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use super::reasons::{self, Reason};
use super::{approval_policy, Approval};
use crate::actors::require;
use crate::ledger::receipts::{self, Receipt};
use crate::ledger::writeoffs::{post, Selection};
use crate::ledger::{self, audit, ActionError, Hold, ReceiptKind};
use crate::output::shown;

/// Which claims' patient balances a run takes. At least one of `payer`,
/// `account` and `claim` is given: a run over every patient is never what
/// a person meant.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Filter {
    /// The practice's payer id (claims CSV `payer_id`).
    pub payer: Option<String>,
    pub account: Option<String>,
    pub claim: Option<String>,
    /// Claims with a service date on or after this day.
    pub service_from: Option<NaiveDate>,
    /// Claims with a service date on or before this day.
    pub service_to: Option<NaiveDate>,
    /// Patient balances of at least this much.
    pub min_balance: Option<Decimal>,
    /// Patient balances of at most this much.
    pub max_balance: Option<Decimal>,
}

impl Filter {
    fn check(&self) -> Result<(), ActionError> {
        let invalid = |m: String| Err(ActionError::Invalid(m));
        if self.payer.is_none() && self.account.is_none() && self.claim.is_none() {
            return invalid("name the payer (--payer), an account (--account) or a claim (--claim) whose patient balances to write off".into());
        }
        if let (Some(from), Some(to)) = (self.service_from, self.service_to) {
            if from > to {
                return invalid(format!("the service dates start ({from}) after they end ({to})"));
            }
        }
        for b in [self.min_balance, self.max_balance].into_iter().flatten() {
            if b < Decimal::ZERO || b.scale() > 2 {
                return invalid(format!("a balance bound is zero or more, in cents at most, found {b}"));
            }
        }
        if let (Some(min), Some(max)) = (self.min_balance, self.max_balance) {
            if min > max {
                return invalid(format!("the smallest balance ({min}) is above the largest ({max})"));
            }
        }
        Ok(())
    }
}

/// What became of one claim's patient balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowOutcome {
    WrittenOff,
    PendingApproval,
    Skipped,
}

impl RowOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RowOutcome::WrittenOff => "written_off",
            RowOutcome::PendingApproval => "pending_approval",
            RowOutcome::Skipped => "skipped",
        }
    }
}

/// One claim of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub claim_id: String,
    pub account_number: String,
    pub payer: String,
    pub payer_name: Option<String>,
    pub service_date: NaiveDate,
    /// What the patient owed before the run.
    pub balance: Decimal,
    pub outcome: RowOutcome,
    /// The write-off made (in a preview, one that was rolled back).
    pub writeoff_id: Option<i64>,
    /// Why a row was skipped.
    pub why: Option<String>,
}

/// A run, previewed or posted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub preview: bool,
    /// The run's receipt; `None` for a preview or when nothing was written.
    pub receipt: Option<i64>,
    pub reason: String,
    pub rows: Vec<Row>,
    /// Posted now.
    pub written_off: Decimal,
    /// Waiting for an approver.
    pub pending_approval: Decimal,
}

impl Outcome {
    pub fn count(&self, outcome: RowOutcome) -> usize {
        self.rows.iter().filter(|r| r.outcome == outcome).count()
    }
}

/// A claim with a patient balance, as selected.
struct Candidate {
    claim_row: i64,
    claim_id: String,
    account_number: String,
    payer: String,
    payer_name: Option<String>,
    service_date: NaiveDate,
    balance: Decimal,
    /// A patient write-off on the claim waiting for approval.
    waiting: Option<i64>,
    /// The claim's patient write-offs posted or waiting, for the gate.
    prior: Decimal,
}

/// Writes off (or, with `preview`, shows what would be written off) the
/// patient balance of every claim the filter selects, with `reason`.
pub async fn write_off(pool: &PgPool, filter: &Filter, reason: &str, note: Option<&str>, actor: &str, preview: bool) -> Result<Outcome, ActionError> {
    filter.check()?;
    let mut db = ledger::begin(pool, Hold::Ledger).await?;
    let why = reasons::get(&mut db, reason).await?;
    require(&mut db, actor, why.scope).await?;
    why.allows(note, None)?;
    let policy = approval_policy(&mut db).await?;
    let candidates = select(&mut db, filter).await?;
    let mut out = Outcome { preview, receipt: None, reason: reason.to_string(), rows: Vec::new(), written_off: Decimal::ZERO, pending_approval: Decimal::ZERO };
    let (now, gated) = plan(candidates, &why, policy, &mut out.rows);
    if now.is_empty() && gated.is_empty() {
        db.rollback().await?;
        return Ok(out);
    }
    let run = Receipt { kind: ReceiptKind::PatientBalance, actor, reason, note, filter: serde_json::to_value(filter).unwrap_or_default() };
    let receipt = match preview {
        true => receipts::open_preview(&mut db, &run).await?,
        false => receipts::open(&mut db, &run).await?,
    };
    let made_now = request(&mut db, receipt, &now, reason, note, actor).await?;
    // The audit rows first: the database takes a person's write-off entries
    // only once their audit row is there.
    audit::record_writeoffs(&mut db, &ids(&made_now), actor, "writeoff_posted", serde_json::json!({ "mass": "patient_balance" })).await?;
    post(&mut db, Selection::Receipt(receipt), actor, None).await?;
    let made_gated = request(&mut db, receipt, &gated, reason, note, actor).await?;
    audit::record_writeoffs(&mut db, &ids(&made_gated), actor, "writeoff_requested", serde_json::json!({ "mass": "patient_balance" })).await?;
    for (made, outcome) in [(made_now, RowOutcome::WrittenOff), (made_gated, RowOutcome::PendingApproval)] {
        for (claim_id, writeoff_id) in made {
            if let Some(row) = out.rows.iter_mut().find(|r| r.claim_id == claim_id && r.outcome == outcome) {
                row.writeoff_id = Some(writeoff_id);
            }
        }
    }
    out.written_off = total(&out.rows, RowOutcome::WrittenOff);
    out.pending_approval = total(&out.rows, RowOutcome::PendingApproval);
    if preview {
        db.rollback().await?;
    } else {
        db.commit().await?;
        out.receipt = Some(receipt);
    }
    Ok(out)
}

fn total(rows: &[Row], outcome: RowOutcome) -> Decimal {
    rows.iter().filter(|r| r.outcome == outcome).map(|r| r.balance).sum()
}

fn ids(made: &[(String, i64)]) -> Vec<i64> {
    made.iter().map(|(_, id)| *id).collect()
}

/// The run as a report: one line per claim (skipped ones with why), then
/// the totals and the receipt.
pub fn text(out: &Outcome) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let title = if out.preview { "PREVIEW: " } else { "" };
    let _ = writeln!(s, "{title}PATIENT BALANCE WRITE-OFF, reason {}", shown(&out.reason));
    let _ = writeln!(s, "{:<20} {:<14} {:<22} {:<10} {:>12}  OUTCOME", "CLAIM", "ACCOUNT", "PAYER", "SERVICE", "BALANCE");
    for r in &out.rows {
        let payer = match &r.payer_name {
            Some(name) => format!("{} {}", r.payer, name),
            None => r.payer.clone(),
        };
        let payer: String = payer.chars().take(22).collect();
        let _ = writeln!(
            s,
            "{:<20} {:<14} {:<22} {:<10} {:>12}  {}",
            shown(&r.claim_id),
            shown(&r.account_number),
            shown(&payer),
            r.service_date,
            format!("{:.2}", r.balance),
            r.outcome.as_str().replace('_', " ")
        );
        if let Some(why) = &r.why {
            let _ = writeln!(s, "    {}", shown(why));
        }
    }
    let count = |o| out.count(o);
    let _ = writeln!(
        s,
        "TOTALS: {} written off {:.2}; {} waiting for approval {:.2}; {} skipped",
        count(RowOutcome::WrittenOff),
        out.written_off,
        count(RowOutcome::PendingApproval),
        out.pending_approval,
        count(RowOutcome::Skipped)
    );
    match (out.preview, out.receipt) {
        (true, _) => s.push_str("PREVIEW: nothing was written.\n"),
        (false, Some(r)) => {
            let _ = writeln!(s, "receipt #{r}");
        }
        (false, None) => s.push_str("nothing to write off.\n"),
    }
    s
}

/// Claims (row id) and the amount to write off on each.
type Amounts = Vec<(i64, Decimal)>;

/// Sorts the candidates into rows: skipped (a write-off already waits on
/// the claim, or the balance is over the reason's cap), written off now, or
/// waiting for approval. Returns the claims (row id, amount) of the last two.
fn plan(candidates: Vec<Candidate>, reason: &Reason, policy: Approval, rows: &mut Vec<Row>) -> (Amounts, Amounts) {
    let (mut now, mut gated) = (Vec::new(), Vec::new());
    for c in candidates {
        let skip = match c.waiting {
            Some(w) => Some(format!("a patient write-off waits for approval on this claim (#{w})")),
            None => reason.within_cap(c.balance).err().map(|e| e.to_string()),
        };
        let outcome = match skip {
            Some(_) => RowOutcome::Skipped,
            None if policy.gates(c.prior, c.balance) => {
                gated.push((c.claim_row, c.balance));
                RowOutcome::PendingApproval
            }
            None => {
                now.push((c.claim_row, c.balance));
                RowOutcome::WrittenOff
            }
        };
        rows.push(Row {
            claim_id: c.claim_id,
            account_number: c.account_number,
            payer: c.payer,
            payer_name: c.payer_name,
            service_date: c.service_date,
            balance: c.balance,
            outcome,
            writeoff_id: None,
            why: skip,
        });
    }
    (now, gated)
}

/// The claims the filter selects that owe a patient balance, by payer,
/// account and claim.
async fn select(db: &mut PgConnection, f: &Filter) -> Result<Vec<Candidate>, sqlx::Error> {
    sqlx::query_as!(
        Candidate,
        r#"SELECT c.id AS claim_row, c.claim_id, a.account_number, p.payer_code AS payer, remitd_claim_payer_name(c.id) AS payer_name, c.service_date,
                  o.patient_balance AS "balance!",
                  (SELECT min(w.id) FROM writeoffs w
                   WHERE w.claim_id = c.id AND w.bucket = 'patient' AND w.status = 'PENDING_APPROVAL') AS waiting,
                  remitd_patient_writeoffs_on(c.id) AS "prior!"
           FROM claims c JOIN claim_owed o ON o.claim_id = c.id
           JOIN accounts a ON a.id = c.account_id JOIN payers p ON p.id = c.payer_id
           WHERE o.patient_balance > 0
             AND ($1::text IS NULL OR p.payer_code = $1)
             AND ($2::text IS NULL OR a.account_number = $2)
             AND ($3::text IS NULL OR c.claim_id = $3)
             AND ($4::date IS NULL OR c.service_date >= $4)
             AND ($5::date IS NULL OR c.service_date <= $5)
             AND ($6::numeric IS NULL OR o.patient_balance >= $6)
             AND ($7::numeric IS NULL OR o.patient_balance <= $7)
           ORDER BY p.payer_code, a.account_number, c.claim_id"#,
        f.payer.as_deref(),
        f.account.as_deref(),
        f.claim.as_deref(),
        f.service_from,
        f.service_to,
        f.min_balance,
        f.max_balance,
    )
    .fetch_all(db)
    .await
}

/// Inserts one waiting claim-level patient write-off per (claim row,
/// amount) under `receipt`; returns (claim id, write-off id) pairs.
async fn request(
    db: &mut PgConnection,
    receipt: i64,
    claims: &[(i64, Decimal)],
    reason: &str,
    note: Option<&str>,
    actor: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    if claims.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<i64> = claims.iter().map(|(c, _)| *c).collect();
    let amounts: Vec<Decimal> = claims.iter().map(|(_, a)| *a).collect();
    let made = sqlx::query!(
        r#"WITH made AS (
               INSERT INTO writeoffs (receipt_id, claim_id, amount, bucket, reason, note, requested_by, status)
               SELECT $1, t.claim_row, t.amount, 'patient', $2, $3, $4, 'PENDING_APPROVAL'
               FROM unnest($5::bigint[], $6::numeric[]) AS t(claim_row, amount)
               ORDER BY t.claim_row
               RETURNING id, claim_id
           )
           SELECT c.claim_id, m.id FROM made m JOIN claims c ON c.id = m.claim_id ORDER BY m.id"#,
        receipt,
        reason,
        note,
        actor,
        &rows,
        &amounts,
    )
    .fetch_all(db)
    .await?;
    Ok(made.into_iter().map(|m| (m.claim_id, m.id)).collect())
}
