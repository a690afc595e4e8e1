//! Who may do what. Actors and their scopes live in the database so every
//! desk and every instance agrees; each money-moving command names its actor
//! and is refused, with the missing scope named, when the actor lacks it.

use sqlx::{PgConnection, PgPool, Row};

use super::WriteoffError;

/// May write off denials, appeal and withdraw appeals, undo write-offs.
pub const DENIAL_WRITE: &str = "billing.denial.write";
/// May post contractual write-off entries.
pub const PAYMENT_WRITE: &str = "billing.payment.write";
/// May approve or reject write-offs waiting for approval.
pub const WRITEOFF_APPROVE: &str = "billing.writeoff.approve";

pub const SCOPES: [&str; 3] = [DENIAL_WRITE, PAYMENT_WRITE, WRITEOFF_APPROVE];

/// Refuses unless `actor` exists and holds `scope`.
pub async fn require(conn: &mut PgConnection, actor: &str, scope: &str) -> Result<(), WriteoffError> {
    let held: Option<bool> = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM actor_scopes WHERE actor = $1 AND scope = $2) FROM actors WHERE name = $1")
        .bind(actor)
        .bind(scope)
        .fetch_optional(conn)
        .await?;
    match held {
        None => Err(WriteoffError::UnknownActor(actor.to_string())),
        Some(false) => Err(WriteoffError::Forbidden { actor: actor.to_string(), scope: scope.to_string() }),
        Some(true) => Ok(()),
    }
}

/// Adds an actor (no scopes yet); adding one that exists changes nothing.
pub async fn add(pool: &PgPool, name: &str) -> Result<(), WriteoffError> {
    if name.trim().is_empty() || name == crate::posting::SYSTEM_ACTOR {
        return Err(WriteoffError::Invalid(format!("{name:?} cannot be an actor name")));
    }
    sqlx::query("INSERT INTO actors (name) VALUES ($1) ON CONFLICT DO NOTHING").bind(name).execute(pool).await?;
    Ok(())
}

pub async fn grant(pool: &PgPool, name: &str, scope: &str) -> Result<(), WriteoffError> {
    if !SCOPES.contains(&scope) {
        return Err(WriteoffError::Invalid(format!("unknown scope {scope:?} (scopes: {})", SCOPES.join(", "))));
    }
    let mut conn = pool.acquire().await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM actors WHERE name = $1)").bind(name).fetch_one(&mut *conn).await?;
    if !exists {
        return Err(WriteoffError::UnknownActor(name.to_string()));
    }
    sqlx::query("INSERT INTO actor_scopes (actor, scope) VALUES ($1, $2) ON CONFLICT DO NOTHING").bind(name).bind(scope).execute(&mut *conn).await?;
    sqlx::query("INSERT INTO audit_log (actor, action, detail) VALUES ('system', 'scope_granted', jsonb_build_object('to', $1::text, 'scope', $2::text))")
        .bind(name)
        .bind(scope)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn revoke(pool: &PgPool, name: &str, scope: &str) -> Result<(), WriteoffError> {
    let mut conn = pool.acquire().await?;
    sqlx::query("DELETE FROM actor_scopes WHERE actor = $1 AND scope = $2").bind(name).bind(scope).execute(&mut *conn).await?;
    sqlx::query("INSERT INTO audit_log (actor, action, detail) VALUES ('system', 'scope_revoked', jsonb_build_object('from', $1::text, 'scope', $2::text))")
        .bind(name)
        .bind(scope)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Every actor with its scopes.
pub async fn list(pool: &PgPool) -> Result<Vec<(String, Vec<String>)>, WriteoffError> {
    let rows = sqlx::query("SELECT a.name, COALESCE(array_agg(s.scope ORDER BY s.scope) FILTER (WHERE s.scope IS NOT NULL), '{}') FROM actors a LEFT JOIN actor_scopes s ON s.actor = a.name GROUP BY a.name ORDER BY a.name")
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}
