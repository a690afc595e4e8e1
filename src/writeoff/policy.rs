//! The approval gate: which write-offs wait for a supervisor. A tenant
//! policy, the same for every desk and instance, kept in `settings`.

use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use crate::actors::{require, Scope};
use crate::ledger::{audit, ActionError, Audit, SYSTEM_ACTOR};

/// Which write-offs wait for approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Approval {
    Off,
    /// Every manual write-off, patient-responsibility ones included.
    All,
    /// Those that take what was written off or requested on one denial (or,
    /// for a patient-responsibility write-off, on one claim) above the amount.
    Above(Decimal),
}

impl Approval {
    pub fn parse(s: &str) -> Result<Approval, ActionError> {
        match s {
            "off" => Ok(Approval::Off),
            "all" => Ok(Approval::All),
            _ => s
                .strip_prefix("above:")
                .and_then(|a| a.parse::<Decimal>().ok())
                .filter(|a| *a >= Decimal::ZERO)
                .map(Approval::Above)
                .ok_or_else(|| ActionError::Invalid(format!("approval policy must be off, all or above:AMOUNT, found {s:?}"))),
        }
    }

    pub fn as_setting(&self) -> String {
        match self {
            Approval::Off => "off".into(),
            Approval::All => "all".into(),
            Approval::Above(a) => format!("above:{a}"),
        }
    }

    /// Whether writing off `amount` waits, when `prior` was already written
    /// off or requested in the same place: amounts count together, so a
    /// large write-off cut into small ones waits like the whole.
    pub fn gates(&self, prior: Decimal, amount: Decimal) -> bool {
        match self {
            Approval::Off => false,
            Approval::All => true,
            Approval::Above(limit) => prior + amount > *limit,
        }
    }
}

impl std::str::FromStr for Approval {
    type Err = ActionError;

    fn from_str(s: &str) -> Result<Approval, ActionError> {
        Approval::parse(s)
    }
}

/// Stored as its setting's text (`off`, `all`, `above:500`).
impl sqlx::Type<sqlx::Postgres> for Approval {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <String as sqlx::Type<sqlx::Postgres>>::type_info()
    }
}

impl sqlx::Decode<'_, sqlx::Postgres> for Approval {
    fn decode(value: sqlx::postgres::PgValueRef<'_>) -> Result<Approval, sqlx::error::BoxDynError> {
        Ok(Approval::parse(<&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?)?)
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for Approval {
    fn encode_by_ref(&self, buf: &mut sqlx::postgres::PgArgumentBuffer) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <String as sqlx::Encode<sqlx::Postgres>>::encode(self.as_setting(), buf)
    }
}

pub async fn approval_policy(conn: &mut PgConnection) -> Result<Approval, ActionError> {
    Ok(sqlx::query_scalar!(r#"SELECT value AS "value: Approval" FROM settings WHERE key = 'writeoff.approval'"#).fetch_one(conn).await?)
}

pub async fn set_approval_policy(pool: &PgPool, actor: &str, policy: Approval) -> Result<(), ActionError> {
    let mut db = pool.begin().await?;
    require(&mut db, actor, Scope::WriteoffApprove).await?;
    store_policy(&mut db, actor, policy, None).await?;
    db.commit().await?;
    Ok(())
}

/// Applies the policy of the configuration file (`[writeoffs] approval`)
/// at daemon start, as `system`, when it differs from the one in force.
/// Returns whether it changed anything.
pub async fn apply_configured_policy(pool: &PgPool, policy: Approval) -> Result<bool, ActionError> {
    let mut db = pool.begin().await?;
    sqlx::query!("SELECT 1 AS one FROM settings WHERE key = 'writeoff.approval' FOR UPDATE").fetch_optional(&mut *db).await?;
    if approval_policy(&mut db).await? == policy {
        return Ok(false);
    }
    store_policy(&mut db, SYSTEM_ACTOR, policy, Some(serde_json::json!({ "from": "configuration" }))).await?;
    db.commit().await?;
    Ok(true)
}

async fn store_policy(db: &mut PgConnection, actor: &str, policy: Approval, detail: Option<serde_json::Value>) -> Result<(), ActionError> {
    sqlx::query!("UPDATE settings SET value = $1 WHERE key = 'writeoff.approval'", policy as Approval).execute(&mut *db).await?;
    audit(db, actor, "approval_policy_set", Audit { reason: Some(&policy.as_setting()), detail, ..Audit::default() }).await?;
    Ok(())
}
