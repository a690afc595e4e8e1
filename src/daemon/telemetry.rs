//! Logging: JSON lines on standard output, or the journal when systemd says
//! standard output is the journal (`JOURNAL_STREAM` names its device and
//! inode). Events carry file names, control numbers, claim ids, counts and
//! amounts as fields, never patient names, member ids or birth dates.

use std::os::unix::fs::MetadataExt;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Whether stdout is the stream `JOURNAL_STREAM` describes (`device:inode`).
fn stdout_is_journal() -> bool {
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else { return false };
    let Some((dev, ino)) = stream.to_str().and_then(|s| s.split_once(':')) else { return false };
    let Ok(meta) = std::fs::metadata("/proc/self/fd/1") else { return false };
    dev.parse::<u64>().is_ok_and(|d| d == meta.dev()) && ino.parse::<u64>().is_ok_and(|i| i == meta.ino())
}

/// Installs the global subscriber. `RUST_LOG` filters (default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    if stdout_is_journal() {
        if let Ok(journald) = tracing_journald::layer() {
            let _ = tracing_subscriber::registry().with(filter).with(journald).try_init();
            return;
        }
    }
    let json = tracing_subscriber::fmt::layer().json().flatten_event(true).with_current_span(false).with_span_list(false);
    let _ = tracing_subscriber::registry().with(filter).with(json).try_init();
}
