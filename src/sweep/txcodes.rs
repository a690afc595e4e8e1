//! Transaction codes: the practice's names for the kinds of entries on an
//! account. A sweep writes off under an adjustment code, so a report read
//! next to the practice-management system says what each line was.

use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use super::SweepError;
use crate::actors::{require, Scope};
use crate::ledger::{audit, Audit};

pub const KINDS: [&str; 3] = ["adjustment", "payment", "charge"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TxCode {
    pub code: String,
    pub kind: String,
    pub description: String,
}

pub async fn list(pool: &PgPool) -> Result<Vec<TxCode>, SweepError> {
    Ok(sqlx::query_as!(TxCode, "SELECT code, kind, description FROM transaction_codes ORDER BY kind, code").fetch_all(pool).await?)
}

/// Adds a code; a code that exists keeps its kind (changing what a code
/// means would rewrite the meaning of past reports). Codes decide what the
/// sweep may write off under, so adding one takes the approve scope.
pub async fn add(pool: &PgPool, code: &str, kind: &str, description: &str, actor: &str) -> Result<(), SweepError> {
    if code.is_empty() || code.chars().any(char::is_whitespace) {
        return Err(SweepError::Invalid(format!("a transaction code is one word, found {code:?}")));
    }
    if !KINDS.contains(&kind) {
        return Err(SweepError::Invalid(format!("kind must be one of {}, found {kind:?}", KINDS.join(", "))));
    }
    if description.trim().is_empty() {
        return Err(SweepError::Invalid("a transaction code needs a description".into()));
    }
    let existing = sqlx::query_scalar!("SELECT kind FROM transaction_codes WHERE code = $1", code).fetch_optional(pool).await?;
    match existing {
        Some(k) => Err(SweepError::Invalid(format!("transaction code {code:?} exists already, as a {k} code: nothing changed (remitd txcode list)"))),
        None => {
            let mut db = pool.begin().await?;
            require(&mut db, actor, Scope::WriteoffApprove).await?;
            sqlx::query!("INSERT INTO transaction_codes (code, kind, description) VALUES ($1, $2, $3)", code, kind, description.trim())
                .execute(&mut *db)
                .await?;
            let detail = serde_json::json!({ "code": code, "kind": kind });
            audit(&mut db, actor, "txcode_added", Audit { detail: Some(detail), ..Audit::default() }).await?;
            db.commit().await?;
            Ok(())
        }
    }
}

/// Refuses unless `code` exists and is an adjustment code.
pub async fn require_adjustment(conn: &mut PgConnection, code: &str) -> Result<(), SweepError> {
    let kind = sqlx::query_scalar!("SELECT kind FROM transaction_codes WHERE code = $1", code).fetch_optional(&mut *conn).await?;
    match kind.as_deref() {
        Some("adjustment") => Ok(()),
        Some(other) => Err(SweepError::NotAdjustment { code: code.to_string(), kind: other.to_string() }),
        None => {
            let known = sqlx::query_scalar!("SELECT code FROM transaction_codes WHERE kind = 'adjustment' ORDER BY code").fetch_all(conn).await?;
            Err(SweepError::UnknownCode { code: code.to_string(), known: known.join(", ") })
        }
    }
}
