//! The PostgreSQL roles a remitd database runs with, set up by
//! `remitd migrate --daemon ROLE` (run as a superuser):
//!
//! - `<database>_owner`, NOLOGIN: owns the database and every table, view,
//!   sequence and function in it. Nobody logs in as it, so no runtime login
//!   can alter or drop a table, disable a trigger or replace a function.
//! - the daemon's login (created when missing, LOGIN without a password:
//!   `pg_hba.conf` decides how it authenticates, peer on the host). It
//!   reads and writes through the guards of migration 0010, which let it
//!   write rows naming `system`; it holds no scope, so it writes nothing
//!   off by hand.
//! - `<database>_staff`, NOLOGIN: the group a person's login joins
//!   (`GRANT <database>_staff TO ann`). It may connect, read every table and
//!   write the ones the workflows write; what each person may do is their
//!   scopes, held by the database's triggers.
//!
//! Roles belong to the cluster; the names carry the database's name, so two
//! remitd databases on one cluster share nothing. Running it again updates
//! ownership and grants (new migrations create objects owned by whoever
//! ran them) and reports what changed.

use sqlx::{PgConnection, PgPool};

/// What a setup did, line by line, for the operator.
pub type Report = Vec<String>;

#[derive(Debug, thiserror::Error)]
pub enum RolesError {
    #[error("{0}")]
    Invalid(String),
    #[error("setting up roles: {0}")]
    Db(#[from] sqlx::Error),
}

/// `name` quoted as an SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The owner and staff roles of database `db`.
pub fn names(db: &str) -> (String, String) {
    (format!("{db}_owner"), format!("{db}_staff"))
}

/// Creates or updates the roles of the database `pool` is connected to,
/// with `daemon` as the daemon's login. One transaction: all of it or none.
pub async fn setup(pool: &PgPool, daemon: &str) -> Result<Report, RolesError> {
    crate::actors::validate_name(daemon).map_err(|e| RolesError::Invalid(format!("daemon role: {e}")))?;
    let mut tx = pool.begin().await?;
    let (db, superuser): (String, bool) =
        sqlx::query_as("SELECT current_database(), rolsuper FROM pg_roles WHERE rolname = session_user").fetch_one(&mut *tx).await?;
    if !superuser {
        return Err(RolesError::Invalid("setting up roles takes a superuser login (for example: sudo -u postgres remitd migrate --daemon remitd)".into()));
    }
    let (owner, staff) = names(&db);
    if owner.len() > 63 {
        return Err(RolesError::Invalid(format!("database name {db:?} is too long for its role names (at most 57 bytes)")));
    }
    let mut report = Report::new();
    for (role, login) in [(owner.as_str(), false), (staff.as_str(), false), (daemon, true)] {
        if create_role(&mut tx, role, login).await? {
            report.push(format!("created role {role}{}", if login { " (LOGIN)" } else { " (NOLOGIN)" }));
        }
    }
    report.extend(take_ownership(&mut tx, &db, &owner).await?);
    grant(&mut tx, &db, &staff, daemon).await?;
    report.extend(console_may_act_for_staff(&mut tx, &staff, daemon).await?);
    let recorded = sqlx::query(
        "INSERT INTO settings (key, value) VALUES ('daemon_role', $1)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value WHERE settings.value IS DISTINCT FROM EXCLUDED.value",
    )
    .bind(daemon)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if recorded > 0 {
        report.push(format!("the daemon logs in as {daemon}"));
    }
    tx.commit().await?;
    Ok(report)
}

/// Creates `role` unless it exists; says whether it did. Two setups at once
/// may both try: the second one's "already exists" is not an error.
async fn create_role(conn: &mut PgConnection, role: &str, login: bool) -> Result<bool, sqlx::Error> {
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)").bind(role).fetch_one(&mut *conn).await?;
    if exists {
        return Ok(false);
    }
    let kind = if login { "LOGIN" } else { "NOLOGIN" };
    sqlx::query(&format!("CREATE ROLE {} {kind}", ident(role))).execute(&mut *conn).await?;
    Ok(true)
}

/// Makes `owner` the owner of the database and of every object in its
/// public schema that belongs to someone else.
async fn take_ownership(conn: &mut PgConnection, db: &str, owner: &str) -> Result<Report, sqlx::Error> {
    let mut report = Report::new();
    let db_owner: String =
        sqlx::query_scalar("SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1").bind(db).fetch_one(&mut *conn).await?;
    if db_owner != owner {
        sqlx::query(&format!("ALTER DATABASE {} OWNER TO {}", ident(db), ident(owner))).execute(&mut *conn).await?;
        report.push(format!("database {db} now belongs to {owner}"));
    }
    // Tables (their sequences follow them), views, then free-standing
    // sequences and functions.
    let objects: Vec<(String, String)> = sqlx::query_as(
        "SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, c.oid::regclass::text
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'S') AND c.relowner <> to_regrole($1)
           AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
         UNION ALL
         SELECT 'FUNCTION', p.oid::regprocedure::text
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'public' AND p.proowner <> to_regrole($1)",
    )
    .bind(owner)
    .fetch_all(&mut *conn)
    .await?;
    for (kind, name) in &objects {
        sqlx::query(&format!("ALTER {kind} {name} OWNER TO {}", ident(owner))).execute(&mut *conn).await?;
    }
    if !objects.is_empty() {
        report.push(format!("{} tables, views, sequences and functions now belong to {owner}", objects.len()));
    }
    Ok(report)
}

/// What the daemon and staff may touch; the same for both, the triggers
/// telling them apart. Granted again on every run: objects a new migration
/// created are covered too. Nobody but the owner may DELETE, except from
/// `actor_scopes` (revoking a scope; guarded by the admin trigger).
async fn grant(conn: &mut PgConnection, db: &str, staff: &str, daemon: &str) -> Result<(), sqlx::Error> {
    let (db, staff, daemon) = (ident(db), ident(staff), ident(daemon));
    for sql in [
        format!("REVOKE ALL ON DATABASE {db} FROM PUBLIC"),
        format!("GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {staff}, {daemon}"),
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC".to_string(),
        format!("GRANT USAGE ON SCHEMA public TO {staff}, {daemon}"),
        format!("GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {staff}, {daemon}"),
        format!("GRANT DELETE ON actor_scopes TO {staff}, {daemon}"),
        format!("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {staff}, {daemon}"),
        // Receipts are numbered by the database (migration 0014), never by hand.
        format!("REVOKE ALL ON receipt_counter FROM {staff}, {daemon}"),
        // Password hashes are read and written only through their functions (migration 0021).
        format!("REVOKE ALL ON actor_passwords FROM {staff}, {daemon}"),
    ] {
        sqlx::query(&sql).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Lets the daemon's login take each staff member's role (`GRANT ann TO
/// remitd`), so the console it serves can act as the person who logged in
/// (migration 0021), and lets it read password hashes to check a login.
/// Nobody else is given a person's role. Run again after adding staff.
async fn console_may_act_for_staff(conn: &mut PgConnection, staff: &str, daemon: &str) -> Result<Report, sqlx::Error> {
    let people: Vec<String> = sqlx::query_scalar(
        "SELECT m.rolname::text FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
         WHERE g.rolname = $1 AND m.rolcanlogin AND m.rolname <> $2 AND NOT pg_has_role($2, m.oid, 'MEMBER') ORDER BY 1",
    )
    .bind(staff)
    .bind(daemon)
    .fetch_all(&mut *conn)
    .await?;
    for person in &people {
        sqlx::query(&format!("GRANT {} TO {}", ident(person), ident(daemon))).execute(&mut *conn).await?;
    }
    sqlx::query(&format!("GRANT EXECUTE ON FUNCTION remitd_password_hash(text) TO {}", ident(daemon))).execute(&mut *conn).await?;
    Ok(match people.is_empty() {
        true => Report::new(),
        false => vec![format!("the console may act as {}", people.join(", "))],
    })
}

/// The daemon's login recorded by an earlier setup, if any.
pub async fn recorded_daemon(pool: &PgPool) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT value FROM settings WHERE key = 'daemon_role'").fetch_optional(pool).await
}
