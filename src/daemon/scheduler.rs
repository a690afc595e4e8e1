//! Runs the small-balance sweep at the slots of `[sweep] schedule`.
//!
//! The task wakes at each slot (and at least once a minute, so a clock
//! change or a database that comes back is noticed), asks the sweep to run
//! the slot due now, and records what happened. Whether a slot already ran
//! is the database's answer, not this task's memory: a restart, or a second
//! instance, finds the slot taken.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch as signal;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::{sleep_or_stop, Shared};
use crate::sweep::schedule::{Clock, Schedule};
use crate::sweep::{Section, SlotOutcome, SweepConfig};

/// Longest sleep between looks at the clock.
const MAX_SLEEP: Duration = Duration::from_secs(60);

pub fn spawn(
    pool: PgPool,
    config: SweepConfig,
    schedule: Schedule,
    clock: Arc<dyn Clock>,
    shared: Arc<Shared>,
    stop: signal::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now = clock.now();
            match crate::sweep::scheduled(&pool, &config, &schedule, now).await {
                Ok(SlotOutcome::Ran(slot, report)) => {
                    let written = report.count(Section::WrittenOff);
                    shared.metrics.sweep_writeoffs.inc_by(written as u64);
                    info!(
                        slot = %slot,
                        run = report.run,
                        receipt = report.receipt,
                        written_off = written,
                        total = %report.total(Section::WrittenOff),
                        out_of_range = report.count(Section::OutOfRange),
                        skipped_protected = report.skipped_protected,
                        "small-balance sweep ran"
                    );
                }
                Ok(SlotOutcome::AlreadyRan(slot)) => debug!(slot = %slot, "small-balance sweep slot already ran"),
                Ok(SlotOutcome::NotDue) => {}
                Err(e) => warn!(error = %e, "small-balance sweep failed; it is tried again while its slot is due"),
            }
            let until_next = schedule.next(now).and_then(|next| (next - clock.now()).to_std().ok()).unwrap_or(MAX_SLEEP);
            if sleep_or_stop(until_next.clamp(Duration::from_secs(1), MAX_SLEEP), &stop).await {
                return;
            }
        }
    })
}
