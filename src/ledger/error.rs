//! Why a money action was refused. One vocabulary for every workflow that
//! moves money (write-offs, denials, sweeps), so a refusal reads the same
//! whichever command a person ran.

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("actor {0:?} does not exist (add it with: remitd actor add NAME)")]
    UnknownActor(String),
    #[error("actor {actor:?} lacks the scope {scope} (grant it with: remitd actor grant {actor} {scope})")]
    Forbidden { actor: String, scope: String },
    #[error("logged in to PostgreSQL as {login:?}, so acting as {actor:?} is refused: a login acts only as itself")]
    NotYou { login: String, actor: String },
    #[error("denial #{0} does not exist")]
    NoDenial(i64),
    #[error("write-off #{0} does not exist")]
    NoWriteoff(i64),
    #[error("denial #{id} is {status}: {why}")]
    WrongState { id: i64, status: String, why: &'static str },
    #[error("{0}")]
    Invalid(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}
