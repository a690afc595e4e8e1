//! `remitd claim show`: a claim with balances derived from its ledger.
//!
//! Nothing here is stored: every figure is a sum over `ledger_entries`, a
//! reversal counting as the kind it reverses. Write-offs carry group `PR`
//! when they write off patient responsibility, anything else is insurance.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgPool;

use crate::denials::DenialStatus;
use crate::ledger::EntryKind;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ClaimView {
    pub claim_id: String,
    pub account_number: String,
    pub payer: String,
    /// The payer's name (the practice's, else the newest remittance's N1*PR).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer_name: Option<String>,
    pub service_date: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_billed_date: Option<NaiveDate>,
    pub times_billed: i32,
    pub charge: Decimal,
    pub paid: Decimal,
    pub contractual: Decimal,
    /// Other adjustments of the payer (CAS groups OA, PI other than the
    /// contractual ones); not the moves of a Write Off PR, which count as
    /// patient write-offs.
    pub other_adjustments: Decimal,
    /// What the payers made the patient's (group PR), as they said it:
    /// before any patient write-off. `0.00` here is a $0 responsibility,
    /// which `patient_written_off` never is.
    pub patient_responsibility: Decimal,
    /// Written off on the payer side (denials, insurance sweeps).
    pub insurance_written_off: Decimal,
    /// Written off on the patient side: Write Off PR, patient sweeps and mass
    /// write-offs alike.
    pub patient_written_off: Decimal,
    /// Both write-offs together.
    pub written_off: Decimal,
    /// What the payer side still owes, denied amounts included.
    pub insurance_balance: Decimal,
    pub patient_balance: Decimal,
    pub status: &'static str,
    pub denials: Vec<DenialView>,
    pub entries: Vec<EntryView>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DenialView {
    pub id: i64,
    pub status: DenialStatus,
    pub amount: Decimal,
    pub reason_codes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_number: Option<i32>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EntryView {
    pub id: i64,
    pub kind: EntryKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reversed_kind: Option<EntryKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_number: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    pub amount: Decimal,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_number: Option<String>,
    pub actor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
    pub posted_at: DateTime<Utc>,
}

impl EntryView {
    /// What the entry is, as listings print it: `payment`, `contractual
    /// CO-45 line 2`, `reversal of payment`.
    pub fn describe(&self) -> String {
        let kind = match &self.reversed_kind {
            Some(k) => format!("reversal of {k}"),
            None => self.kind.to_string(),
        };
        let code = match (&self.group_code, &self.reason_code) {
            (Some(g), Some(r)) => format!(" {g}-{r}"),
            (None, Some(r)) => format!(" {r}"),
            _ => String::new(),
        };
        let line = self.line_number.map(|n| format!(" line {n}")).unwrap_or_default();
        format!("{kind}{code}{line}")
    }
}

/// Balances of one claim, from its ledger.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Balances {
    pub charge: Decimal,
    pub paid: Decimal,
    pub contractual: Decimal,
    pub other_adjustments: Decimal,
    pub patient_responsibility: Decimal,
    pub insurance_written_off: Decimal,
    pub patient_written_off: Decimal,
    /// What the payer side still owes: charge less paid, contractual, other
    /// adjustments, patient responsibility and insurance write-offs.
    pub insurance_balance: Decimal,
    /// Patient responsibility less patient write-offs.
    pub patient_balance: Decimal,
}

pub async fn balances(pool: &PgPool, claim_row: i64) -> Result<Balances, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    balances_in(&mut conn, claim_row).await
}

/// A claim's balances, from the `claim_balances` view (migrations 0006 and
/// 0008), which the small-balance sweep reads too, inside the caller's
/// transaction. A claim with neither lines nor entries has no row: all zero.
pub async fn balances_in(conn: &mut sqlx::PgConnection, claim_row: i64) -> Result<Balances, sqlx::Error> {
    let found = sqlx::query_as!(
        Balances,
        r#"SELECT charge AS "charge!", paid AS "paid!", contractual AS "contractual!", other_adjustments AS "other_adjustments!",
                  patient_responsibility AS "patient_responsibility!", insurance_written_off AS "insurance_written_off!",
                  patient_written_off AS "patient_written_off!", insurance_balance AS "insurance_balance!", patient_balance AS "patient_balance!"
           FROM claim_balances WHERE claim_id = $1"#,
        claim_row,
    )
    .fetch_optional(conn)
    .await?;
    Ok(found.unwrap_or_default())
}

fn status(b: &Balances, denials: &[DenialView], posted: bool) -> &'static str {
    let open_denial = denials.iter().any(|d| matches!(d.status, DenialStatus::Open | DenialStatus::AppealPending | DenialStatus::PendingWriteoff));
    let (ins, pat) = (b.insurance_balance, b.patient_balance);
    if !posted {
        "awaiting_remittance"
    } else if open_denial {
        "denied"
    } else if ins < Decimal::ZERO || pat < Decimal::ZERO {
        "credit"
    } else if ins.is_zero() && pat.is_zero() {
        "closed"
    } else if ins.is_zero() {
        "patient_balance"
    } else {
        "insurance_balance"
    }
}

/// The claim with id `claim_id` (CLP01 as imported), or `None`.
pub async fn show(pool: &PgPool, claim_id: &str) -> Result<Option<ClaimView>, sqlx::Error> {
    let Some(row) = sqlx::query!(
        "SELECT c.id, c.claim_id, a.account_number, p.payer_code, remitd_claim_payer_name(c.id) AS payer_name, c.service_date, c.last_billed_date, c.times_billed
         FROM claims c JOIN accounts a ON a.id = c.account_id JOIN payers p ON p.id = c.payer_id WHERE c.claim_id = $1",
        claim_id,
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let b = balances(pool, row.id).await?;
    // A Write Off PR posts as a negative patient responsibility and an
    // other adjustment (net zero on the payer side); shown here as what it
    // is, a patient write-off of responsibility the payer assigned.
    let moved = sqlx::query_scalar!(
        r#"SELECT COALESCE(sum(w.amount), 0) AS "moved!" FROM writeoffs w JOIN writeoff_receipts r ON r.id = w.receipt_id
           WHERE w.claim_id = $1 AND w.status = 'POSTED' AND r.kind = 'patient_responsibility'"#,
        row.id
    )
    .fetch_one(pool)
    .await?;
    let denials = sqlx::query_as!(
        DenialView,
        r#"SELECT d.id, d.status AS "status: DenialStatus", d.amount, d.reason_codes, l.line_number AS "line_number?"
           FROM denials d LEFT JOIN service_lines l ON l.id = d.service_line_id WHERE d.claim_id = $1 ORDER BY d.id"#,
        row.id,
    )
    .fetch_all(pool)
    .await?;
    let entries = sqlx::query_as!(
        EntryView,
        r#"SELECT e.id, e.kind AS "kind: EntryKind", e.reversed_kind AS "reversed_kind: EntryKind", l.line_number AS "line_number?", e.group_code, e.reason_code, e.amount,
                  r.trace_number AS "trace_number?", e.actor, e.memo, e.posted_at
           FROM ledger_entries e LEFT JOIN service_lines l ON l.id = e.service_line_id LEFT JOIN remittances r ON r.id = e.remittance_id
           WHERE e.claim_id = $1 ORDER BY e.id"#,
        row.id,
    )
    .fetch_all(pool)
    .await?;
    let posted = entries.iter().any(|e| !matches!(e.kind, EntryKind::WriteOff | EntryKind::WriteOffReversal | EntryKind::ChargeCorrection));
    Ok(Some(ClaimView {
        claim_id: row.claim_id,
        account_number: row.account_number,
        payer: row.payer_code,
        payer_name: row.payer_name,
        service_date: row.service_date,
        last_billed_date: row.last_billed_date,
        times_billed: row.times_billed,
        charge: b.charge,
        paid: b.paid,
        contractual: b.contractual,
        other_adjustments: b.other_adjustments - moved,
        patient_responsibility: b.patient_responsibility + moved,
        insurance_written_off: b.insurance_written_off,
        patient_written_off: b.patient_written_off + moved,
        written_off: b.insurance_written_off + b.patient_written_off + moved,
        insurance_balance: b.insurance_balance,
        patient_balance: b.patient_balance,
        status: status(&b, &denials, posted),
        denials,
        entries,
    }))
}
