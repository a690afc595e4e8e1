//! Corrected patient responsibility (source document 003: after undoing a
//! write-off, "enter the correct amount owed"). The EOB shows a copay there
//! was none of, or the payer put on the patient what it should have paid: a
//! person records what the patient owes, more or less, with a reason.
//!
//! It is a new ledger entry, never an edit: one `patient_responsibility`
//! entry of the signed amount, which moves it between the payer's side and
//! the patient's, with a correction row and an audit row (migration 0018
//! holds the same for every login). Neither side may end up owing less than
//! nothing, and what the correction changed is settled as a charge
//! correction is: write-offs it left too large are given back.

use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgPool;

use crate::actors::{require, Scope};
use crate::claims::view::balances_in;
use crate::denials::settle::{self, Source};
use crate::ledger::{self, audit, ActionError, Audit, Hold};

/// A correction to record.
#[derive(Debug, Clone)]
pub struct Correction<'a> {
    pub claim_id: &'a str,
    /// The service line (as imported), or the claim as a whole.
    pub line: Option<i32>,
    /// What the patient owes more (positive) or less (negative).
    pub amount: Decimal,
    /// The PR reason code it is about (1 deductible, 2 coinsurance, 3 copay).
    pub carc: Option<&'a str>,
    pub reason: &'a str,
    pub actor: &'a str,
}

/// What a correction did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Corrected {
    pub correction_id: i64,
    pub patient_balance_before: Decimal,
    pub patient_balance_after: Decimal,
    pub insurance_balance_before: Decimal,
    pub insurance_balance_after: Decimal,
    /// Write-offs given back because the balance they wrote off changed.
    pub writeoffs_reversed: usize,
}

/// Records a correction of the patient responsibility on a claim (or one
/// of its lines). Needs `billing.payment.write`.
pub async fn correct(pool: &PgPool, c: &Correction<'_>) -> Result<Corrected, ActionError> {
    let invalid = |m: String| Err(ActionError::Invalid(m));
    if c.amount.is_zero() || c.amount.scale() > 2 {
        return invalid(format!("a correction is an amount other than 0, in cents at most (+ the patient owes more, - less), found {}", c.amount));
    }
    if c.reason.trim().is_empty() {
        return invalid("a correction needs a reason (--reason TEXT)".into());
    }
    if c.carc.is_some_and(|code| !["1", "2", "3"].contains(&code)) {
        return invalid("the PR reason code is 1 (deductible), 2 (coinsurance) or 3 (copay)".into());
    }
    let mut db = ledger::begin(pool, Hold::Claims).await?;
    require(&mut db, c.actor, Scope::PaymentWrite).await?;
    let Some(claim) = sqlx::query_scalar!("SELECT id FROM claims WHERE claim_id = $1", c.claim_id).fetch_optional(&mut *db).await? else {
        return invalid(format!("no claim with id {:?}", c.claim_id));
    };
    ledger::lock_claims(&mut db, Hold::Claims, &[claim]).await?;
    let line = match c.line {
        None => None,
        Some(n) => match sqlx::query_scalar!("SELECT id FROM service_lines WHERE claim_id = $1 AND line_number = $2", claim, n).fetch_optional(&mut *db).await?
        {
            Some(id) => Some(id),
            None => return invalid(format!("claim {} has no line {n}", c.claim_id)),
        },
    };
    let before = balances_in(&mut db, claim).await?;
    let (ins_after, pat_after) = (before.insurance_balance - c.amount, before.patient_balance + c.amount);
    if ins_after < Decimal::ZERO || pat_after < Decimal::ZERO {
        return invalid(format!(
            "a correction of {} would leave claim {} owing insurance {ins_after}, patient {pat_after}: neither side may owe less than nothing",
            c.amount, c.claim_id
        ));
    }
    let id = sqlx::query_scalar!(
        "INSERT INTO responsibility_corrections (claim_id, service_line_id, amount, carc, reason, actor) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        claim,
        line,
        c.amount,
        c.carc,
        c.reason.trim(),
        c.actor,
    )
    .fetch_one(&mut *db)
    .await?;
    let detail = serde_json::json!({ "correction": id.to_string(), "line": c.line, "carc": c.carc });
    let fields = Audit { claim_id: Some(claim), reason: Some(c.reason.trim()), amount: Some(c.amount), detail: Some(detail), ..Audit::default() };
    audit(&mut db, c.actor, "responsibility_corrected", fields).await?;
    sqlx::query!(
        "INSERT INTO ledger_entries (claim_id, service_line_id, kind, group_code, reason_code, amount, actor, correction_id, memo)
         VALUES ($1, $2, 'patient_responsibility', 'PR', $3, $4, $5, $6, $7)",
        claim,
        line,
        c.carc,
        c.amount,
        c.actor,
        id,
        format!("responsibility corrected #{id}: {}", c.reason.trim()),
    )
    .execute(&mut *db)
    .await?;
    let settled = settle::after_posting(&mut db, Source::Correction { actor: c.actor, reason: c.reason.trim() }, &[claim]).await?;
    let after = balances_in(&mut db, claim).await?;
    db.commit().await?;
    Ok(Corrected {
        correction_id: id,
        patient_balance_before: before.patient_balance,
        patient_balance_after: after.patient_balance,
        insurance_balance_before: before.insurance_balance,
        insurance_balance_after: after.insurance_balance,
        writeoffs_reversed: settled.writeoffs_reversed,
    })
}
