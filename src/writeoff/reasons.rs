//! Write-off reasons, kept as data (migration 0013): the picklist every
//! write-off chooses from, each reason with the scope writing off with it
//! takes and an optional cap on one write-off. Admins add, cap and retire
//! reasons; a retired reason stays on the rows that used it and takes no
//! new ones. The database holds the same rules for every client
//! (`writeoffs_within_their_reason`, `writeoff_reasons_change_needs_admin`);
//! the checks here say the same thing earlier, in a person's words.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use crate::actors::{require, Scope};
use crate::ledger::{audit, ActionError, Audit};

/// One write-off reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub code: String,
    pub label: String,
    /// A write-off with this reason needs free text (`other`).
    pub requires_note: bool,
    /// What writing off with it takes.
    pub scope: Scope,
    /// The most one write-off with it may take; `None`: no cap.
    pub max_amount: Option<Decimal>,
    /// When it was retired; `None` while it is in use.
    pub retired_at: Option<DateTime<Utc>>,
}

impl Reason {
    /// Refuses a write-off of `amount` with this reason: when it is retired,
    /// needs a note and has none, or is capped below `amount`.
    pub fn allows(&self, note: Option<&str>, amount: Option<Decimal>) -> Result<(), ActionError> {
        if let Some(at) = self.retired_at {
            return Err(ActionError::Invalid(format!("the reason {:?} was retired on {}: choose another (remitd reason list)", self.code, at.date_naive())));
        }
        if self.requires_note && note.is_none_or(|n| n.trim().is_empty()) {
            return Err(ActionError::Invalid(format!("reason {:?} needs a note (--note TEXT)", self.code)));
        }
        self.within_cap(amount.unwrap_or_default())
    }

    /// Refuses an amount over the cap.
    pub fn within_cap(&self, amount: Decimal) -> Result<(), ActionError> {
        match self.max_amount {
            Some(cap) if amount.abs() > cap => Err(ActionError::Invalid(format!(
                "a write-off of {amount} is over the cap of reason {:?}, {cap} (an admin changes it: remitd reason cap {} AMOUNT)",
                self.code, self.code
            ))),
            _ => Ok(()),
        }
    }
}

/// The reason `code`; an unknown one is refused with the reasons in use.
pub async fn get(conn: &mut PgConnection, code: &str) -> Result<Reason, ActionError> {
    let found = sqlx::query_as!(
        Reason,
        r#"SELECT code, label, requires_note, scope AS "scope: Scope", max_amount, retired_at FROM writeoff_reasons WHERE code = $1"#,
        code
    )
    .fetch_optional(&mut *conn)
    .await?;
    match found {
        Some(r) => Ok(r),
        None => {
            let known = sqlx::query_scalar!("SELECT code FROM writeoff_reasons WHERE retired_at IS NULL ORDER BY code").fetch_all(conn).await?;
            Err(ActionError::Invalid(format!("unknown reason {code:?} (reasons: {})", known.join(", "))))
        }
    }
}

/// Every reason, those in use first, then the retired ones.
pub async fn list(pool: &PgPool, retired_too: bool) -> Result<Vec<Reason>, ActionError> {
    Ok(sqlx::query_as!(
        Reason,
        r#"SELECT code, label, requires_note, scope AS "scope: Scope", max_amount, retired_at FROM writeoff_reasons
           WHERE $1 OR retired_at IS NULL ORDER BY retired_at IS NOT NULL, code"#,
        retired_too
    )
    .fetch_all(pool)
    .await?)
}

/// A reason to add.
#[derive(Debug, Clone)]
pub struct NewReason<'a> {
    pub code: &'a str,
    pub label: &'a str,
    pub requires_note: bool,
    pub scope: Scope,
    pub max_amount: Option<Decimal>,
}

/// Refuses a code that cannot be a reason's: lowercase letters, digits and
/// `-`, starting with a letter, at most 40 characters; the same in every
/// report and CSV column, so nothing needs quoting.
fn validate_code(code: &str) -> Result<(), ActionError> {
    let ok =
        (1..=40).contains(&code.len()) && code.starts_with(|c: char| c.is_ascii_lowercase()) && code.chars().all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-'));
    match ok {
        true => Ok(()),
        false => Err(ActionError::Invalid(format!("{code:?} cannot be a reason code: 1 to 40 lowercase letters, digits and '-', starting with a letter"))),
    }
}

fn validate_cap(cap: Option<Decimal>) -> Result<(), ActionError> {
    match cap {
        Some(c) if c <= Decimal::ZERO || c.scale() > 2 => Err(ActionError::Invalid(format!("a cap is more than 0, in cents at most, found {c}"))),
        _ => Ok(()),
    }
}

/// Adds a reason on an admin's authority. A code that exists is refused
/// (its label and rules stay as they are), retired or not.
pub async fn add(pool: &PgPool, by: &str, r: &NewReason<'_>) -> Result<(), ActionError> {
    validate_code(r.code)?;
    validate_cap(r.max_amount)?;
    if r.label.trim().is_empty() {
        return Err(ActionError::Invalid("a reason needs a label (--label TEXT): what reports print".into()));
    }
    if r.scope == Scope::Admin {
        return Err(ActionError::Invalid("a reason takes a billing scope (billing.denial.write, billing.payment.write or billing.writeoff.approve)".into()));
    }
    let mut db = pool.begin().await?;
    require(&mut db, by, Scope::Admin).await?;
    let added = sqlx::query!(
        "INSERT INTO writeoff_reasons (code, label, requires_note, scope, max_amount) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        r.code,
        r.label.trim(),
        r.requires_note,
        r.scope.as_str(),
        r.max_amount,
    )
    .execute(&mut *db)
    .await?
    .rows_affected();
    if added == 0 {
        let existing = get(&mut db, r.code).await?;
        let state = if existing.retired_at.is_some() { "a retired reason" } else { "a reason" };
        return Err(ActionError::Invalid(format!("{:?} is {state} already ({}): nothing changed", r.code, existing.label)));
    }
    let detail = serde_json::json!({ "code": r.code, "label": r.label.trim(), "scope": r.scope, "max_amount": r.max_amount, "requires_note": r.requires_note });
    audit(&mut db, by, "reason_added", Audit { reason: Some(r.code), detail: Some(detail), ..Audit::default() }).await?;
    db.commit().await?;
    Ok(())
}

/// Sets (or, with `None`, lifts) the cap of reason `code`. Write-offs
/// already made keep their amounts.
pub async fn set_cap(pool: &PgPool, by: &str, code: &str, cap: Option<Decimal>) -> Result<Reason, ActionError> {
    validate_cap(cap)?;
    let mut db = pool.begin().await?;
    require(&mut db, by, Scope::Admin).await?;
    let before = get(&mut db, code).await?;
    sqlx::query!("UPDATE writeoff_reasons SET max_amount = $2 WHERE code = $1", code, cap).execute(&mut *db).await?;
    let detail = serde_json::json!({ "from": before.max_amount, "to": cap });
    audit(&mut db, by, "reason_cap_set", Audit { reason: Some(code), amount: cap, detail: Some(detail), ..Audit::default() }).await?;
    let after = get(&mut db, code).await?;
    db.commit().await?;
    Ok(after)
}

/// Retires reason `code`: it stays on every row that has it and takes no
/// new write-off. Requests already waiting for approval may still be
/// decided. Retiring a retired reason changes nothing.
pub async fn retire(pool: &PgPool, by: &str, code: &str) -> Result<Reason, ActionError> {
    let mut db = pool.begin().await?;
    require(&mut db, by, Scope::Admin).await?;
    let before = get(&mut db, code).await?;
    if before.retired_at.is_none() {
        sqlx::query!("UPDATE writeoff_reasons SET retired_at = now() WHERE code = $1", code).execute(&mut *db).await?;
        audit(&mut db, by, "reason_retired", Audit { reason: Some(code), ..Audit::default() }).await?;
    }
    let after = get(&mut db, code).await?;
    db.commit().await?;
    Ok(after)
}
