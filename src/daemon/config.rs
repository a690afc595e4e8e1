//! The daemon's configuration: a TOML file, overridden by `REMITD_*`
//! environment variables, with the database URL readable from a systemd
//! credential so the secret never sits in the config file.
//!
//! ```toml
//! database_url = "postgres://remitd@127.0.0.1:5432/remitd"   # optional, see below
//! [[drop_folders]]
//! name = "acme"
//! inbox = "/var/lib/remitd/acme/inbox"
//! archive = "/var/lib/remitd/acme/archive"
//! error = "/var/lib/remitd/acme/error"
//! poll_interval_secs = 10
//! settle_secs = 2
//! [[drop_folders]]
//! name = "bank"
//! kind = "bank"                # ACH or BAI2 files from the bank; default "remittances" (835s)
//! inbox = "/var/lib/remitd/bank/inbox"
//! archive = "/var/lib/remitd/bank/archive"
//! error = "/var/lib/remitd/bank/error"
//! [http]
//! listen = "127.0.0.1:9835"
//! [console]                    # optional: the support console, on the [http] address
//! enabled = true
//! idle_minutes = 30
//! [sweep]                      # optional: the scheduled small-balance sweep
//! schedule = "0 2 1 * *"
//! [writeoffs]                  # optional: the write-off approval gate
//! approval = "above:500.00"
//! ```
//!
//! A drop folder's `kind` says what arrives there: `remittances` (835
//! files, posted) unless it says `bank` (the bank's ACH files or BAI2
//! statements, whose deposits are stored and matched with the remittances
//! they pay). A folder holds one kind, so a file is never guessed at: an
//! 835 dropped in a bank folder is refused as a bank file, with the reason.
//!
//! Environment: `REMITD_DATABASE_URL`, `REMITD_HTTP__LISTEN` (nested keys
//! joined by `__`). The database URL is taken, in order, from the config or
//! environment, from the file named by `database_url_file`, or from
//! `$CREDENTIALS_DIRECTORY/database_url` (systemd `LoadCredential=`).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;

use crate::sweep::SweepConfig;

/// A secret that never prints.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: String) -> Self {
        Secret(s)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// What a drop folder receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FolderKind {
    /// 835 remittance files, posted to the ledger. The default, so that
    /// configurations written before there were kinds mean what they meant.
    #[default]
    Remittances,
    /// Bank files (ACH or BAI2): their deposits stored, then matched with
    /// the remittances they pay.
    Bank,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropFolder {
    /// The clearinghouse (or bank); appears in logs and metrics.
    pub name: String,
    /// What arrives in this folder: remittances unless it says `bank`.
    #[serde(default)]
    pub kind: FolderKind,
    pub inbox: PathBuf,
    pub archive: PathBuf,
    pub error: PathBuf,
    /// How often the inbox is rescanned even without file events.
    #[serde(default = "default_poll")]
    pub poll_interval_secs: u64,
    /// How long a file must keep its size and modification time before it
    /// is taken (files renamed into the inbox are taken at once).
    #[serde(default = "default_settle")]
    pub settle_secs: f64,
    /// Files larger than this are refused before a byte is read (moved to
    /// error/ with the reason): a runaway or hostile file cannot keep the
    /// daemon hashing for minutes while every other file waits.
    #[serde(default = "default_max_file_bytes")]
    pub max_file_bytes: u64,
}

impl DropFolder {
    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.poll_interval_secs.max(1))
    }

    /// Checked at load to be finite and within 0 to 3600 s.
    pub fn settle(&self) -> Duration {
        Duration::try_from_secs_f64(self.settle_secs.clamp(0.0, 3600.0)).unwrap_or_default()
    }
}

fn default_poll() -> u64 {
    10
}

fn default_settle() -> f64 {
    2.0
}

/// 2 GiB: twice the largest remittance file seen in practice, parsed in
/// seconds.
fn default_max_file_bytes() -> u64 {
    2 << 30
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9835))
}

impl Default for Http {
    fn default() -> Self {
        Http { listen: default_listen() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    database_url: Option<Secret>,
    database_url_file: Option<PathBuf>,
    #[serde(default)]
    drop_folders: Vec<DropFolder>,
    #[serde(default)]
    http: Http,
    #[serde(default)]
    sweep: SweepConfig,
    #[serde(default)]
    writeoffs: Writeoffs,
    #[serde(default)]
    console: crate::console::ConsoleConfig,
}

/// `[writeoffs]`: tenant policy for the write-off workflows.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Writeoffs {
    /// The approval gate: `off`, `all` or `above:AMOUNT`. When set, the
    /// daemon applies it at start (audited as `system`); when absent, the
    /// policy set with `remitd writeoff policy` stays in force.
    pub approval: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: Secret,
    pub drop_folders: Vec<DropFolder>,
    pub http: Http,
    /// The scheduled small-balance sweep and the defaults of `remitd sweep`.
    pub sweep: SweepConfig,
    /// `sweep.schedule`, parsed and checked at load: `None`, no scheduled runs.
    pub sweep_schedule: Option<crate::sweep::schedule::Schedule>,
    /// The write-off approval gate from `[writeoffs] approval`, if set.
    pub approval: Option<crate::writeoff::Approval>,
    /// The support console (`[console]`), off unless enabled.
    pub console: crate::console::ConsoleConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration {path}: {source}")]
    Invalid { path: String, source: Box<figment::Error> },
    #[error("no database URL: set database_url, REMITD_DATABASE_URL, database_url_file, or the systemd credential database_url")]
    NoDatabase,
    #[error("cannot read the database URL from {path}: {source}")]
    Secret { path: String, source: std::io::Error },
    #[error("drop folder {name:?}: {problem}")]
    Folder { name: String, problem: String },
    #[error("[sweep]: {0}")]
    Sweep(#[from] crate::sweep::SweepError),
    #[error("[console]: {0}")]
    Console(String),
    #[error("[writeoffs]: {0}")]
    Writeoffs(#[from] crate::ledger::ActionError),
}

impl Config {
    /// Loads `path`, then the environment on top.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = figment(path).extract().map_err(|e| ConfigError::Invalid { path: path.display().to_string(), source: Box::new(e) })?;
        let database_url = match (raw.database_url, raw.database_url_file) {
            (Some(url), _) => url,
            (None, Some(file)) => read_secret(&file)?,
            (None, None) => match std::env::var_os("CREDENTIALS_DIRECTORY") {
                Some(dir) => read_secret(&Path::new(&dir).join("database_url"))?,
                None => return Err(ConfigError::NoDatabase),
            },
        };
        let approval = raw.writeoffs.approval.as_deref().map(crate::writeoff::Approval::parse).transpose()?;
        let sweep_schedule = raw.sweep.schedule()?;
        let config = Config { database_url, drop_folders: raw.drop_folders, http: raw.http, sweep: raw.sweep, sweep_schedule, approval, console: raw.console };
        config.check()?;
        Ok(config)
    }

    /// The drop folders that take 835s: the only ones the console may put
    /// a remittance in (a bank folder would refuse it as a bank file).
    pub fn remittance_folders(&self) -> Vec<DropFolder> {
        self.drop_folders.iter().filter(|f| f.kind == FolderKind::Remittances).cloned().collect()
    }

    /// Only the `[sweep]` section (and `REMITD_SWEEP__*`), for `remitd sweep`.
    pub fn load_sweep(path: &Path) -> Result<SweepConfig, ConfigError> {
        figment(path).extract_inner::<Option<SweepConfig>>("sweep").map(Option::unwrap_or_default).or_else(|e| match e.missing() {
            true => Ok(SweepConfig::default()),
            false => Err(ConfigError::Invalid { path: path.display().to_string(), source: Box::new(e) }),
        })
    }

    fn check(&self) -> Result<(), ConfigError> {
        self.console.check().map_err(ConfigError::Console)?;
        let mut names = std::collections::HashSet::new();
        for f in &self.drop_folders {
            let problem = |p: &str| Err(ConfigError::Folder { name: f.name.clone(), problem: p.to_string() });
            if !names.insert(&f.name) {
                return problem("the name is used twice");
            }
            if f.inbox == f.archive || f.inbox == f.error || f.archive == f.error {
                return problem("inbox, archive and error must be three different folders");
            }
            if f.archive.starts_with(&f.inbox) || f.error.starts_with(&f.inbox) {
                return problem("archive and error must not be inside the inbox");
            }
            if !(f.settle_secs.is_finite() && (0.0..=3600.0).contains(&f.settle_secs)) {
                return problem(&format!("settle_secs must be a number of seconds from 0 to 3600, not {}", f.settle_secs));
            }
            if !(1..=3600).contains(&f.poll_interval_secs) {
                return problem(&format!("poll_interval_secs must be from 1 to 3600, not {}", f.poll_interval_secs));
            }
            if f.max_file_bytes == 0 {
                return problem("max_file_bytes must be more than 0");
            }
        }
        Ok(())
    }
}

fn figment(path: &Path) -> Figment {
    Figment::new().merge(Toml::file_exact(path)).merge(Env::prefixed("REMITD_").split("__"))
}

fn read_secret(path: &Path) -> Result<Secret, ConfigError> {
    std::fs::read_to_string(path).map(|s| Secret::new(s.trim().to_string())).map_err(|source| ConfigError::Secret { path: path.display().to_string(), source })
}

#[cfg(test)]
// figment's Jail closures return its large error type; that is its API.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    const FILE: &str = r#"
        database_url = "postgres://file@127.0.0.1/remitd"
        [[drop_folders]]
        name = "acme"
        inbox = "/d/acme/inbox"
        archive = "/d/acme/archive"
        error = "/d/acme/error"
        [http]
        listen = "127.0.0.1:9835"
    "#;

    #[test]
    fn environment_overrides_the_file() {
        Jail::expect_with(|jail| {
            jail.create_file("remitd.toml", FILE)?;
            jail.set_env("REMITD_DATABASE_URL", "postgres://env@127.0.0.1/remitd");
            jail.set_env("REMITD_HTTP__LISTEN", "127.0.0.1:19999");
            let c = Config::load(Path::new("remitd.toml")).expect("loads");
            assert_eq!(c.database_url.expose(), "postgres://env@127.0.0.1/remitd");
            assert_eq!(c.http.listen.port(), 19999);
            assert_eq!(c.drop_folders[0].poll_interval(), Duration::from_secs(10), "default poll");
            assert_eq!(format!("{:?}", c.database_url), "Secret(..)", "never printed");
            assert_eq!(c.approval, None, "no [writeoffs]: the policy in the database stays");
            assert_eq!(c.drop_folders[0].kind, FolderKind::Remittances, "no kind: remittances, as before kinds existed");
            Ok(())
        });
    }

    #[test]
    fn the_database_url_comes_from_the_systemd_credential() {
        Jail::expect_with(|jail| {
            jail.create_file("remitd.toml", &FILE.replace("database_url = \"postgres://file@127.0.0.1/remitd\"", ""))?;
            jail.create_file("database_url", "postgres://cred@127.0.0.1/remitd\n")?;
            let dir = jail.directory().display().to_string();
            jail.set_env("CREDENTIALS_DIRECTORY", dir);
            let c = Config::load(Path::new("remitd.toml")).expect("loads");
            assert_eq!(c.database_url.expose(), "postgres://cred@127.0.0.1/remitd");
            Ok(())
        });
    }

    #[test]
    fn bad_configurations_say_what_is_wrong() {
        Jail::expect_with(|jail| {
            jail.create_file("nodb.toml", &FILE.replace("database_url = \"postgres://file@127.0.0.1/remitd\"", ""))?;
            let e = Config::load(Path::new("nodb.toml")).expect_err("no database");
            assert!(matches!(e, ConfigError::NoDatabase), "{e}");
            jail.create_file("same.toml", &FILE.replace("/d/acme/archive", "/d/acme/inbox"))?;
            let e = Config::load(Path::new("same.toml")).expect_err("same folders");
            assert_eq!(e.to_string(), "drop folder \"acme\": inbox, archive and error must be three different folders");
            jail.create_file("gate.toml", &format!("{FILE}\n[writeoffs]\napproval = \"sometimes\"\n"))?;
            let e = Config::load(Path::new("gate.toml")).expect_err("bad approval policy");
            assert!(e.to_string().starts_with("[writeoffs]: approval policy must be off, all or above:AMOUNT"), "{e}");
            for (key, value, says) in [
                ("settle_secs", "nan", "settle_secs must be a number of seconds from 0 to 3600, not NaN"),
                ("settle_secs", "-1.0", "settle_secs must be a number of seconds from 0 to 3600, not -1"),
                ("settle_secs", "inf", "settle_secs must be a number of seconds from 0 to 3600, not inf"),
                ("poll_interval_secs", "0", "poll_interval_secs must be from 1 to 3600, not 0"),
                ("max_file_bytes", "0", "max_file_bytes must be more than 0"),
            ] {
                jail.create_file("bad.toml", &FILE.replace("error = \"/d/acme/error\"", &format!("error = \"/d/acme/error\"\n{key} = {value}")))?;
                let e = Config::load(Path::new("bad.toml")).expect_err(key);
                assert_eq!(e.to_string(), format!("drop folder \"acme\": {says}"));
            }
            jail.create_file("sso.toml", &format!("{FILE}\n[console]\nenabled = true\ntrusted_header = \"X-Remote-User\"\n"))?;
            let e = Config::load(Path::new("sso.toml")).expect_err("a header anyone may send");
            assert!(e.to_string().contains("trusted_header needs trusted_proxies"), "{e}");
            jail.create_file("bank.toml", &FILE.replace("name = \"acme\"", "name = \"acme\"\nkind = \"bank\""))?;
            assert_eq!(Config::load(Path::new("bank.toml")).expect("a bank folder").drop_folders[0].kind, FolderKind::Bank);
            jail.create_file("kind.toml", &FILE.replace("name = \"acme\"", "name = \"acme\"\nkind = \"cheques\""))?;
            let e = Config::load(Path::new("kind.toml")).expect_err("unknown kind").to_string();
            assert!(e.contains("cheques") && e.contains("remittances") && e.contains("bank") && e.contains("kind"), "{e}");
            jail.create_file("typo.toml", &format!("{FILE}\nunknown_key = 1\n"))?;
            let e = Config::load(Path::new("typo.toml")).expect_err("unknown key");
            assert!(e.to_string().contains("unknown_key"), "{e}");
            Ok(())
        });
    }
}
