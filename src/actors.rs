//! Who may do what. Actors and their scopes live in the database so every
//! desk and every instance agrees; each money-moving command names its actor
//! and is refused, with the missing scope named, when the actor lacks it.

use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};

use crate::ledger::{audit, ActionError, Audit, SYSTEM_ACTOR};

/// What an actor may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, clap::ValueEnum)]
#[sqlx(type_name = "text")]
pub enum Scope {
    /// Write off denials, appeal and withdraw appeals, undo those write-offs.
    #[sqlx(rename = "billing.denial.write")]
    #[serde(rename = "billing.denial.write")]
    #[value(name = "billing.denial.write")]
    DenialWrite,
    /// Post contractual and patient-responsibility write-offs.
    #[sqlx(rename = "billing.payment.write")]
    #[serde(rename = "billing.payment.write")]
    #[value(name = "billing.payment.write")]
    PaymentWrite,
    /// Approve or reject write-offs waiting for approval; set the policy.
    #[sqlx(rename = "billing.writeoff.approve")]
    #[serde(rename = "billing.writeoff.approve")]
    #[value(name = "billing.writeoff.approve")]
    WriteoffApprove,
    /// Change what decides how money posts (CARC categories).
    #[sqlx(rename = "remitd.admin")]
    #[serde(rename = "remitd.admin")]
    #[value(name = "remitd.admin")]
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::DenialWrite, Scope::PaymentWrite, Scope::WriteoffApprove, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::DenialWrite => "billing.denial.write",
            Scope::PaymentWrite => "billing.payment.write",
            Scope::WriteoffApprove => "billing.writeoff.approve",
            Scope::Admin => "remitd.admin",
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Refuses unless `actor` exists and holds `scope`.
pub async fn require(conn: &mut PgConnection, actor: &str, scope: Scope) -> Result<(), ActionError> {
    let held = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM actor_scopes WHERE actor = $1 AND scope = $2) AS "held!" FROM actors WHERE name = $1"#,
        actor,
        scope.as_str(),
    )
    .fetch_optional(conn)
    .await?;
    match held {
        None => Err(ActionError::UnknownActor(actor.to_string())),
        Some(false) => Err(ActionError::Forbidden { actor: actor.to_string(), scope: scope.to_string() }),
        Some(true) => Ok(()),
    }
}

/// Adds an actor (no scopes yet); adding one that exists changes nothing.
pub async fn add(pool: &PgPool, name: &str) -> Result<(), ActionError> {
    if name.trim().is_empty() || name == SYSTEM_ACTOR {
        return Err(ActionError::Invalid(format!("{name:?} cannot be an actor name")));
    }
    sqlx::query!("INSERT INTO actors (name) VALUES ($1) ON CONFLICT DO NOTHING", name).execute(pool).await?;
    Ok(())
}

pub async fn grant(pool: &PgPool, name: &str, scope: Scope) -> Result<(), ActionError> {
    let mut db = pool.begin().await?;
    let exists = sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM actors WHERE name = $1) AS "exists!""#, name).fetch_one(&mut *db).await?;
    if !exists {
        return Err(ActionError::UnknownActor(name.to_string()));
    }
    sqlx::query!("INSERT INTO actor_scopes (actor, scope) VALUES ($1, $2) ON CONFLICT DO NOTHING", name, scope.as_str()).execute(&mut *db).await?;
    let detail = serde_json::json!({ "to": name, "scope": scope });
    audit(&mut db, SYSTEM_ACTOR, "scope_granted", Audit { detail: Some(detail), ..Audit::default() }).await?;
    db.commit().await?;
    Ok(())
}

pub async fn revoke(pool: &PgPool, name: &str, scope: Scope) -> Result<(), ActionError> {
    let mut db = pool.begin().await?;
    sqlx::query!("DELETE FROM actor_scopes WHERE actor = $1 AND scope = $2", name, scope.as_str()).execute(&mut *db).await?;
    let detail = serde_json::json!({ "from": name, "scope": scope });
    audit(&mut db, SYSTEM_ACTOR, "scope_revoked", Audit { detail: Some(detail), ..Audit::default() }).await?;
    db.commit().await?;
    Ok(())
}

/// Every actor with its scopes.
pub async fn list(pool: &PgPool) -> Result<Vec<(String, Vec<String>)>, ActionError> {
    let rows = sqlx::query!(
        r#"SELECT a.name, COALESCE(array_agg(s.scope ORDER BY s.scope) FILTER (WHERE s.scope IS NOT NULL), '{}') AS "scopes!"
           FROM actors a LEFT JOIN actor_scopes s ON s.actor = a.name GROUP BY a.name ORDER BY a.name"#
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.name, r.scopes)).collect())
}
