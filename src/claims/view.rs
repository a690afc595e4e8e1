//! `remitd claim show`: a claim with balances derived from its ledger.
//!
//! Nothing here is stored: every figure is a sum over `ledger_entries`, a
//! reversal counting as the kind it reverses. Write-offs carry group `PR`
//! when they write off patient responsibility, anything else is insurance.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgPool, Row};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ClaimView {
    pub claim_id: String,
    pub account_number: String,
    pub payer: String,
    pub service_date: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_billed_date: Option<NaiveDate>,
    pub times_billed: i32,
    pub charge: Decimal,
    pub paid: Decimal,
    pub contractual: Decimal,
    pub other_adjustments: Decimal,
    pub patient_responsibility: Decimal,
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
    pub status: String,
    pub amount: Decimal,
    pub reason_codes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_number: Option<i32>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EntryView {
    pub id: i64,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reversed_kind: Option<String>,
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
            None => self.kind.clone(),
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

/// A claim's balances, from the `claim_balances` view (migration 0006),
/// which the small-balance sweep reads too; `$1` is the claim's row id.
const BALANCES_SQL: &str = "SELECT charge, paid, contractual, other_adjustments, patient_responsibility, insurance_written_off, patient_written_off,
            insurance_balance, patient_balance
     FROM claim_balances WHERE claim_id = $1";

pub async fn balances(pool: &PgPool, claim_row: i64) -> Result<Balances, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    balances_in(&mut conn, claim_row).await
}

/// [`balances`] inside the caller's transaction.
pub async fn balances_in(conn: &mut sqlx::PgConnection, claim_row: i64) -> Result<Balances, sqlx::Error> {
    // A claim with neither lines nor entries has no row: all zero.
    let Some(r) = sqlx::query(BALANCES_SQL).bind(claim_row).fetch_optional(conn).await? else {
        return Ok(Balances::default());
    };
    Ok(Balances {
        charge: r.get(0),
        paid: r.get(1),
        contractual: r.get(2),
        other_adjustments: r.get(3),
        patient_responsibility: r.get(4),
        insurance_written_off: r.get(5),
        patient_written_off: r.get(6),
        insurance_balance: r.get(7),
        patient_balance: r.get(8),
    })
}

fn status(b: &Balances, denials: &[DenialView], posted: bool) -> &'static str {
    let open_denial = denials.iter().any(|d| matches!(d.status.as_str(), "OPEN" | "APPEAL_PENDING" | "PENDING_WRITEOFF"));
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
    let Some(row) = sqlx::query(
        "SELECT c.id, c.claim_id, a.account_number, p.payer_code, c.service_date, c.last_billed_date, c.times_billed
         FROM claims c JOIN accounts a ON a.id = c.account_id JOIN payers p ON p.id = c.payer_id WHERE c.claim_id = $1",
    )
    .bind(claim_id)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let id: i64 = row.get(0);
    let b = balances(pool, id).await?;
    let denials: Vec<DenialView> = sqlx::query(
        "SELECT d.id, d.status, d.amount, d.reason_codes, l.line_number FROM denials d LEFT JOIN service_lines l ON l.id = d.service_line_id
         WHERE d.claim_id = $1 ORDER BY d.id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| DenialView { id: r.get(0), status: r.get(1), amount: r.get(2), reason_codes: r.get(3), line_number: r.get(4) })
    .collect();
    let entries: Vec<EntryView> = sqlx::query(
        "SELECT e.id, e.kind, e.reversed_kind, l.line_number, e.group_code, e.reason_code, e.amount, r.trace_number, e.actor, e.memo, e.posted_at
         FROM ledger_entries e LEFT JOIN service_lines l ON l.id = e.service_line_id LEFT JOIN remittances r ON r.id = e.remittance_id
         WHERE e.claim_id = $1 ORDER BY e.id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| EntryView {
        id: r.get(0),
        kind: r.get(1),
        reversed_kind: r.get(2),
        line_number: r.get(3),
        group_code: r.get(4),
        reason_code: r.get(5),
        amount: r.get(6),
        trace_number: r.get(7),
        actor: r.get(8),
        memo: r.get(9),
        posted_at: r.get(10),
    })
    .collect();
    let posted = entries.iter().any(|e| e.kind != "write_off" && e.kind != "write_off_reversal");
    Ok(Some(ClaimView {
        claim_id: row.get(1),
        account_number: row.get(2),
        payer: row.get(3),
        service_date: row.get(4),
        last_billed_date: row.get(5),
        times_billed: row.get(6),
        charge: b.charge,
        paid: b.paid,
        contractual: b.contractual,
        other_adjustments: b.other_adjustments,
        patient_responsibility: b.patient_responsibility,
        written_off: b.insurance_written_off + b.patient_written_off,
        insurance_balance: b.insurance_balance,
        patient_balance: b.patient_balance,
        status: status(&b, &denials, posted),
        denials,
        entries,
    }))
}
