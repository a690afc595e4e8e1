//! The demo's people as PostgreSQL logins, set up the way an install is
//! (`remitd migrate --daemon`): the daemon on a login of its own, and each
//! person on theirs, in the staff group, so every step runs as the person it
//! names and the database refuses what their scopes do not allow.
//!
//! That takes a superuser connection and a server that lets the new logins
//! in without a password (trust, as on a throwaway cluster), and the people's
//! names must be free on the server (logins belong to the whole cluster).
//! Otherwise the demo acts for its people as the database's owner, and says
//! why.

use anyhow::Context;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::database::DemoDatabase;

/// The logins the demo signed in as, and the roles it created for them.
pub struct Logins {
    pub daemon_url: String,
    people: Vec<(&'static str, PgPool)>,
}

impl Logins {
    /// `person`'s own connection.
    pub fn pool(&self, person: &str) -> Option<&PgPool> {
        self.people.iter().find(|(p, _)| *p == person).map(|(_, pool)| pool)
    }

    pub async fn close(&self) {
        for (_, pool) in &self.people {
            pool.close().await;
        }
    }
}

/// Why the demo cannot give its people logins on this server, if it cannot.
async fn obstacle(owner: &PgPool, people: &[&str]) -> anyhow::Result<Option<String>> {
    let superuser: bool = sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = session_user").fetch_one(owner).await?;
    if !superuser {
        return Ok(Some("the demo's login is not a superuser".into()));
    }
    let taken: Vec<String> = sqlx::query_scalar("SELECT rolname::text FROM pg_roles WHERE rolname = ANY($1) ORDER BY 1")
        .bind(people.iter().map(|p| p.to_string()).collect::<Vec<_>>())
        .fetch_all(owner)
        .await?;
    Ok((!taken.is_empty()).then(|| format!("the server already has logins named {}", taken.join(", "))))
}

/// Sets up the roles and the people's logins and connects as each person.
/// `created` receives every role made, so the clean-up can drop them even
/// if a later step fails. `None`: the demo acts as the owner (reason said).
pub async fn sign_in(db: &DemoDatabase, owner: &PgPool, people: &[&'static str], created: &mut Vec<String>) -> anyhow::Result<Option<Logins>> {
    if let Some(why) = obstacle(owner, people).await? {
        say!("  people act through the database's owner: {why}");
        return Ok(None);
    }
    let daemon = format!("{}_daemon", db.name);
    let (owner_role, staff) = crate::db::roles::names(&db.name);
    created.extend([daemon.clone(), owner_role, staff.clone()]);
    for line in crate::db::roles::setup(owner, &daemon).await? {
        say!("  {line}");
    }
    for person in people {
        let made = sqlx::query(&format!("CREATE ROLE {person} LOGIN IN ROLE \"{staff}\"")).execute(owner).await;
        match made {
            Ok(_) => created.push(person.to_string()),
            // Someone took the name since the check (another demo on this server).
            Err(e) if e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "42710") => {
                say!("  people act through the database's owner: the server now has a login named {person}");
                return Ok(None);
            }
            Err(e) => return Err(e).with_context(|| format!("creating the login {person}")),
        }
    }
    let mut pools = Vec::new();
    for person in people {
        let url = crate::db::with_user(&db.url, person);
        match PgPoolOptions::new().max_connections(2).connect(&url).await {
            Ok(pool) => pools.push((*person, pool)),
            Err(e) => {
                say!("  people act through the database's owner: the login {person} cannot connect ({e})");
                return Ok(None);
            }
        }
    }
    // Again, now that the people exist: the daemon's console may act as them.
    for line in crate::db::roles::setup(owner, &daemon).await? {
        say!("  {line}");
    }
    say!("  logins {} (group {staff}); each step runs as the person it names", people.join(", "));
    Ok(Some(Logins { daemon_url: crate::db::with_user(&db.url, &daemon), people: pools }))
}
