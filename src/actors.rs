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
    /// Read write-offs, receipts, their history and the audit trail (every
    /// other scope includes it; see migration 0017).
    #[sqlx(rename = "billing.read")]
    #[serde(rename = "billing.read")]
    #[value(name = "billing.read")]
    Read,
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
    /// Add people and grant or revoke scopes; change what decides how money
    /// posts (CARC categories).
    #[sqlx(rename = "remitd.admin")]
    #[serde(rename = "remitd.admin")]
    #[value(name = "remitd.admin")]
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 5] = [Scope::Read, Scope::DenialWrite, Scope::PaymentWrite, Scope::WriteoffApprove, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "billing.read",
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

/// Refuses unless `actor` exists, holds `scope`, and is who the session
/// is. A login acts only as itself: the PostgreSQL role the connection
/// authenticated as (peer, SCRAM or certificate) must be `actor`. The
/// database's owner and superusers, who can change every table anyway, may
/// act for any actor they name.
pub async fn require(conn: &mut PgConnection, actor: &str, scope: Scope) -> Result<(), ActionError> {
    let row = sqlx::query!(
        r#"SELECT EXISTS (SELECT 1 FROM actor_scopes WHERE actor = $1 AND scope = $2) AS "held!",
                  remitd_login() AS "login!", remitd_login_is_owner() AS "owner!"
           FROM actors WHERE name = $1"#,
        actor,
        scope.as_str(),
    )
    .fetch_optional(conn)
    .await?;
    match row {
        None => Err(ActionError::UnknownActor(actor.to_string())),
        Some(r) if !r.owner && r.login != actor => Err(ActionError::NotYou { login: r.login, actor: actor.to_string() }),
        Some(r) if !r.held => Err(ActionError::Forbidden { actor: actor.to_string(), scope: scope.to_string() }),
        Some(_) => Ok(()),
    }
}

/// Whether `actor`, who this session is, holds `scope`: what a page asks
/// before offering a form ([`require`] still decides when it is sent).
pub async fn holds(pool: &PgPool, actor: &str, scope: Scope) -> Result<bool, ActionError> {
    let mut conn = pool.acquire().await?;
    match require(&mut conn, actor, scope).await {
        Ok(()) => Ok(true),
        Err(ActionError::Forbidden { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Refuses a login that may not read write-offs and the audit trail (it
/// holds no scope; migration 0017), naming the scope to grant. The database
/// would only show such a login its own rows: an empty history must not
/// look like one where nothing happened.
pub async fn require_read(pool: &PgPool) -> Result<(), ActionError> {
    let r = sqlx::query!(r#"SELECT remitd_login_may_read() AS "may!", remitd_login() AS "login!""#).fetch_one(pool).await?;
    match r.may {
        true => Ok(()),
        false => Err(ActionError::Forbidden { actor: r.login, scope: Scope::Read.to_string() }),
    }
}

/// The name what this session writes carries (`remitd_acting()`, migration
/// 0011): `system` for the daemon's login and the database's owner, who
/// post what remittances bring; a person's own login otherwise.
pub async fn acting(conn: &mut PgConnection) -> Result<String, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT remitd_acting() AS "acting!""#).fetch_one(conn).await
}

/// Whether this session may post remittances: the daemon's login or the
/// database's owner. A person asks the daemon instead (a drop folder, a
/// refeed request).
pub async fn posts_remittances(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    Ok(acting(&mut conn).await? == SYSTEM_ACTOR)
}

/// Who this session acts as when no actor is named: its login.
pub async fn login(pool: &PgPool) -> Result<String, ActionError> {
    Ok(sqlx::query_scalar!(r#"SELECT remitd_login() AS "login!""#).fetch_one(pool).await?)
}

/// Refuses a name that cannot be an actor's, saying why. The rule is the
/// one the database holds (`actors_name_check`): lowercase letters, digits,
/// `.`, `_` and `-`, starting with a letter, at most 63 bytes (what a
/// PostgreSQL login role can be called without quoting). `system` is the
/// daemon's alone; names PostgreSQL keeps for itself are refused too.
pub fn validate_name(name: &str) -> Result<(), ActionError> {
    let refuse = |why: &str| Err(ActionError::Invalid(format!("{name:?} cannot be an actor name: {why}")));
    if name.eq_ignore_ascii_case(SYSTEM_ACTOR) {
        return refuse("`system` is the daemon");
    }
    if name.is_empty() || name.len() > 63 {
        return refuse("a name has 1 to 63 characters");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return refuse("a name starts with a lowercase letter");
    }
    if let Some(c) = name.chars().find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-')) {
        return refuse(&format!("{c:?} is not allowed (lowercase letters, digits, '.', '_' and '-' are)"));
    }
    if ["public", "none", "current_user", "session_user", "current_role"].contains(&name) || name.starts_with("pg_") {
        return refuse("PostgreSQL keeps that name for itself");
    }
    Ok(())
}

/// Names the first admin of a remitd database. Only the database's owner
/// (or a superuser) may, and only while no actor holds `remitd.admin`;
/// from then on admins add people and grant scopes. The row in the audit
/// log records the login that ran it.
pub async fn init_admin(pool: &PgPool, name: &str) -> Result<(), ActionError> {
    validate_name(name)?;
    transaction(pool, async |db| init_admin_in(db, name).await).await
}

async fn init_admin_in(db: &mut PgConnection, name: &str) -> Result<(), ActionError> {
    // Ownership first: a login that is not the owner may not even read who the admins are.
    let who = sqlx::query!(r#"SELECT remitd_login() AS "login!", remitd_login_is_owner() AS "owner!""#).fetch_one(&mut *db).await?;
    if !who.owner {
        return Err(ActionError::Invalid(format!("only the database's owner names its first admin (connected as {})", who.login)));
    }
    // One bootstrap at a time: a second one waits, then sees the first's admin.
    sqlx::query!("LOCK TABLE actor_scopes IN SHARE ROW EXCLUSIVE MODE").execute(&mut *db).await?;
    let admins =
        sqlx::query_scalar!("SELECT string_agg(actor, ', ' ORDER BY actor) FROM actor_scopes WHERE scope = 'remitd.admin'").fetch_one(&mut *db).await?;
    if let Some(admins) = admins {
        return Err(ActionError::Invalid(format!(
            "this database already has an admin ({admins}); an admin grants scopes: remitd actor grant NAME remitd.admin"
        )));
    }
    sqlx::query!("INSERT INTO actors (name) VALUES ($1) ON CONFLICT DO NOTHING", name).execute(&mut *db).await?;
    sqlx::query!("INSERT INTO actor_scopes (actor, scope) VALUES ($1, $2)", name, Scope::Admin.as_str()).execute(&mut *db).await?;
    let detail = serde_json::json!({ "to": name, "scope": Scope::Admin, "by_login": who.login });
    audit(db, name, "admin_initialised", Audit { detail: Some(detail), ..Audit::default() }).await?;
    Ok(())
}

/// Adds an actor (no scopes yet) on an admin's authority; adding one that
/// exists changes nothing.
pub async fn add(pool: &PgPool, by: &str, name: &str) -> Result<(), ActionError> {
    validate_name(name)?;
    transaction(pool, async |db| add_in(db, by, name).await).await
}

async fn add_in(db: &mut PgConnection, by: &str, name: &str) -> Result<(), ActionError> {
    require(db, by, Scope::Admin).await?;
    let added = sqlx::query!("INSERT INTO actors (name) VALUES ($1) ON CONFLICT DO NOTHING", name).execute(&mut *db).await?.rows_affected();
    if added > 0 {
        audit(db, by, "actor_added", Audit { detail: Some(serde_json::json!({ "name": name })), ..Audit::default() }).await?;
    }
    Ok(())
}

/// Grants `scope` to `name` on the authority of `by`, an admin. Audited
/// with who granted it.
pub async fn grant(pool: &PgPool, by: &str, name: &str, scope: Scope) -> Result<(), ActionError> {
    transaction(pool, async |db| grant_in(db, by, name, scope).await).await
}

async fn grant_in(db: &mut PgConnection, by: &str, name: &str, scope: Scope) -> Result<(), ActionError> {
    require(db, by, Scope::Admin).await?;
    if name == SYSTEM_ACTOR {
        return Err(ActionError::Invalid("`system` is the daemon: it is given no scopes".into()));
    }
    let exists = sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM actors WHERE name = $1) AS "exists!""#, name).fetch_one(&mut *db).await?;
    if !exists {
        return Err(ActionError::UnknownActor(name.to_string()));
    }
    let granted = sqlx::query!("INSERT INTO actor_scopes (actor, scope) VALUES ($1, $2) ON CONFLICT DO NOTHING", name, scope.as_str())
        .execute(&mut *db)
        .await?
        .rows_affected();
    if granted > 0 {
        let detail = serde_json::json!({ "to": name, "scope": scope });
        audit(db, by, "scope_granted", Audit { detail: Some(detail), ..Audit::default() }).await?;
    }
    Ok(())
}

/// Takes `scope` from `name` on the authority of `by`, an admin. The last
/// admin cannot give up `remitd.admin`: the database would have nobody to
/// grant anything.
pub async fn revoke(pool: &PgPool, by: &str, name: &str, scope: Scope) -> Result<(), ActionError> {
    transaction(pool, async |db| revoke_in(db, by, name, scope).await).await
}

async fn revoke_in(db: &mut PgConnection, by: &str, name: &str, scope: Scope) -> Result<(), ActionError> {
    // Two admins revoking each other at once must not leave none.
    sqlx::query!("LOCK TABLE actor_scopes IN SHARE ROW EXCLUSIVE MODE").execute(&mut *db).await?;
    require(db, by, Scope::Admin).await?;
    let revoked = sqlx::query!("DELETE FROM actor_scopes WHERE actor = $1 AND scope = $2", name, scope.as_str()).execute(&mut *db).await?.rows_affected();
    let admins_left = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM actor_scopes WHERE scope = $1"#, Scope::Admin.as_str()).fetch_one(&mut *db).await?;
    if admins_left == 0 {
        return Err(ActionError::Invalid(format!("{name:?} is the last admin; grant remitd.admin to someone else first")));
    }
    if revoked > 0 {
        let detail = serde_json::json!({ "from": name, "scope": scope });
        audit(db, by, "scope_revoked", Audit { detail: Some(detail), ..Audit::default() }).await?;
    }
    Ok(())
}

/// Runs `f` in a transaction, committed when it succeeds and rolled back
/// at once when it refuses: these transactions lock the scopes table, and
/// a refusal must not leave it locked until the pool next hands out the
/// connection.
async fn transaction<T>(pool: &PgPool, f: impl AsyncFnOnce(&mut PgConnection) -> Result<T, ActionError>) -> Result<T, ActionError> {
    let mut db = pool.begin().await?;
    match f(&mut db).await {
        Ok(v) => {
            db.commit().await?;
            Ok(v)
        }
        Err(e) => {
            db.rollback().await?;
            Err(e)
        }
    }
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

/// The shortest password the console accepts: NIST SP 800-63B's minimum
/// for a password a person chooses.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Sets `name`'s console password on the authority of `by` (the person
/// herself, or an admin). remitd hashes it with argon2id and the database
/// keeps only the hash (`remitd_set_password`, migration 0021, which holds
/// the same rule for every login). Audited, without the hash.
pub async fn set_password(pool: &PgPool, by: &str, name: &str, password: &str) -> Result<(), ActionError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ActionError::Invalid(format!("a password has at least {MIN_PASSWORD_CHARS} characters")));
    }
    let hash = crate::console::password::hash(password);
    transaction(pool, async |db| {
        if by == name {
            require_self(db, by).await?;
        } else {
            require(db, by, Scope::Admin).await?;
        }
        sqlx::query!("SELECT remitd_set_password($1, $2)", name, hash).execute(&mut *db).await?;
        audit(db, by, "password_set", Audit { detail: Some(serde_json::json!({ "for": name })), ..Audit::default() }).await?;
        Ok(())
    })
    .await
}

/// Refuses unless `actor` exists and is who this session acts as (or the
/// session owns the database): what `require` checks, without a scope.
async fn require_self(db: &mut PgConnection, actor: &str) -> Result<(), ActionError> {
    let r = sqlx::query!(
        r#"SELECT EXISTS (SELECT 1 FROM actors WHERE name = $1) AS "exists!", remitd_login() AS "login!", remitd_login_is_owner() AS "owner!""#,
        actor
    )
    .fetch_one(&mut *db)
    .await?;
    match r {
        r if !r.exists => Err(ActionError::UnknownActor(actor.to_string())),
        r if !r.owner && r.login != actor => Err(ActionError::NotYou { login: r.login, actor: actor.to_string() }),
        _ => Ok(()),
    }
}
