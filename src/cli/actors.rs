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
    /// Set a console password: one's own, or anyone's as an admin. Read
    /// from the terminal without echo, or as the first line of standard
    /// input when that is not a terminal.
    Password {
        name: String,
        #[command(flatten)]
        by: ActorArg,
    },
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
        ActorCommand::Password { name, by } => match read_password(name) {
            Ok(password) => by
                .act(&pool, async |by| actors::set_password(&pool, by, name, &password).await)
                .await
                .map(|()| println!("{}'s console password is set", shown(name))),
            Err(e) => Err(e),
        },
    };
    result.map_or_else(refused, |()| 0)
}

/// The new password: asked twice on a terminal, else standard input's first line.
fn read_password(name: &str) -> Result<String, crate::ledger::ActionError> {
    use std::io::IsTerminal;
    let unreadable = |e: std::io::Error| crate::ledger::ActionError::Invalid(format!("cannot read the password: {e}"));
    if !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(unreadable)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let first = rpassword::prompt_password(format!("new console password for {}: ", shown(name))).map_err(unreadable)?;
    let again = rpassword::prompt_password("again: ").map_err(unreadable)?;
    match first == again {
        true => Ok(first),
        false => Err(crate::ledger::ActionError::Invalid("the two passwords differ; nothing changed".into())),
    }
}

pub async fn run_admin(pool: PgPool, command: AdminCommand) -> u8 {
    let AdminCommand::Init { name } = command;
    actors::init_admin(&pool, &name).await.map(|()| println!("{} is this database's first admin (remitd.admin)", shown(&name))).map_or_else(refused, |()| 0)
}
