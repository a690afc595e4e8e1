//! `remitd actor ...` and `remitd admin init`: who may act, granted by an
//! admin and audited with who granted it.

use sqlx::PgPool;

use super::refused;
use super::writeoffs::ActorArg;
use crate::actors::{self, Scope};
use crate::output::shown;

#[derive(Debug, clap::Subcommand)]
pub enum ActorCommand {
    /// Add a person who may act on denials and write-offs (an admin adds).
    Add {
        name: String,
        #[command(flatten)]
        by: ActorArg,
    },
    /// Give a scope (an admin grants).
    Grant {
        name: String,
        #[arg(value_enum)]
        scope: Scope,
        #[command(flatten)]
        by: ActorArg,
    },
    /// Take a scope away (an admin revokes; the last admin stays one).
    Revoke {
        name: String,
        #[arg(value_enum)]
        scope: Scope,
        #[command(flatten)]
        by: ActorArg,
    },
    /// Every actor with its scopes.
    List,
}

#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Name the first admin: only the database's owner, only while there is none.
    Init { name: String },
}

pub async fn run_actor(pool: PgPool, command: ActorCommand) -> u8 {
    let result = match &command {
        ActorCommand::Add { name, by } => by.act(&pool, async |by| actors::add(&pool, by, name).await).await.map(|()| println!("actor {} added", shown(name))),
        ActorCommand::Grant { name, scope, by } => {
            by.act(&pool, async |by| actors::grant(&pool, by, name, *scope).await).await.map(|()| println!("{} may now {scope}", shown(name)))
        }
        ActorCommand::Revoke { name, scope, by } => {
            by.act(&pool, async |by| actors::revoke(&pool, by, name, *scope).await).await.map(|()| println!("{} no longer has {scope}", shown(name)))
        }
        ActorCommand::List => actors::list(&pool).await.map(|all| {
            for (name, scopes) in all {
                println!("{}: {}", shown(&name), if scopes.is_empty() { "(no scopes)".to_string() } else { scopes.join(", ") });
            }
        }),
    };
    result.map_or_else(refused, |()| 0)
}

pub async fn run_admin(pool: PgPool, command: AdminCommand) -> u8 {
    let AdminCommand::Init { name } = command;
    actors::init_admin(&pool, &name).await.map(|()| println!("{} is this database's first admin (remitd.admin)", shown(&name))).map_or_else(refused, |()| 0)
}
