//! Watching the reassociation queues: every few minutes the daemon reads
//! where each deposit and open remittance stands, exports each state's size
//! and age as metrics, and logs each remittance the moment it turns overdue
//! (its money not in within the window), so whoever watches the log knows
//! to ask the payer without opening a report.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch as signal;
use tracing::warn;

use super::metrics::StatusLabel;
use super::{sleep_or_stop, Shared};
use crate::bank::reconcile::{self, Filter, Row, Side, Status};

/// How often the queues are read: overdue is counted in business days, so
/// minutes are plenty, and the report is one query over the open items.
const EVERY: Duration = Duration::from_secs(300);

/// Reads the queues now and then every [`EVERY`] until stopped.
pub fn spawn(pool: PgPool, shared: Arc<Shared>, stop: signal::Receiver<bool>) {
    tokio::spawn(async move {
        let mut watch = Overdue::default();
        loop {
            let today = chrono::Local::now().date_naive();
            match reconcile::report(&pool, today, Filter::default()).await {
                Ok(rows) => {
                    export(&shared, &rows);
                    watch.note(&rows);
                }
                Err(e) => warn!(error = %e, "cannot read the reassociation queues now"),
            }
            if sleep_or_stop(EVERY, &stop).await {
                return;
            }
        }
    });
}

/// Sets each state's gauges; a state with nothing in it reads 0.
fn export(shared: &Shared, rows: &[Row]) {
    let queues = reconcile::queues(rows);
    for status in <Status as clap::ValueEnum>::value_variants() {
        let label = StatusLabel { status: status.as_str().to_string() };
        let q = queues.iter().find(|q| q.status == *status);
        shared.metrics.reassociation_items.get_or_create(&label).set(q.map_or(0, |q| q.count as i64));
        shared.metrics.reassociation_oldest_days.get_or_create(&label).set(q.and_then(|q| q.oldest_days).map_or(0, i64::from));
    }
}

/// The overdue remittances seen so far. The first reading says how many
/// are overdue in one line (a restart does not log each again); each later
/// reading logs the ones that turned overdue since.
#[derive(Default)]
struct Overdue {
    seen: Option<HashSet<i64>>,
}

impl Overdue {
    fn note(&mut self, rows: &[Row]) {
        let first = self.seen.is_none();
        let turned = self.turned(rows);
        if first && !turned.is_empty() {
            let oldest = turned.iter().filter_map(|r| r.waiting_days).max().unwrap_or_default();
            warn!(
                remittances = turned.len(),
                oldest_business_days = oldest,
                "remittances overdue: their money is not in; see remitd reconcile --status overdue"
            );
            return;
        }
        for r in turned {
            warn!(
                remittance_id = r.remittance_ids.first().copied().unwrap_or_default(),
                trace = r.trace.as_deref().unwrap_or_default(),
                payer = %r.payer,
                amount = %r.amount,
                payment_date = ?r.date,
                "remittance turned overdue: no deposit within the window; ask the payer"
            );
        }
    }

    /// The overdue remittances of `rows` not overdue at the last reading
    /// (at the first, all of them); remembers them for the next.
    fn turned<'r>(&mut self, rows: &'r [Row]) -> Vec<&'r Row> {
        let overdue: Vec<&Row> = rows.iter().filter(|r| r.status == Status::Overdue && r.side == Side::Remittance).collect();
        let seen = self.seen.take().unwrap_or_default();
        self.seen = Some(overdue.iter().filter_map(|r| r.remittance_ids.first().copied()).collect());
        overdue.into_iter().filter(|r| r.remittance_ids.first().is_none_or(|id| !seen.contains(id))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn remittance(id: i64, status: Status) -> Row {
        Row {
            status,
            side: Side::Remittance,
            credit: true,
            trace: Some(format!("EFT-{id}")),
            payer: "PAYER".into(),
            amount: Decimal::ONE_HUNDRED,
            date: None,
            deposit_id: None,
            remittance_ids: vec![id],
            detail: None,
            waiting_days: Some(4),
        }
    }

    #[test]
    fn each_remittance_is_told_once_when_it_turns_overdue() {
        let mut o = Overdue::default();
        let ids = |v: Vec<&Row>| v.iter().map(|r| r.remittance_ids[0]).collect::<Vec<_>>();
        assert_eq!(ids(o.turned(&[remittance(1, Status::Overdue), remittance(2, Status::Awaiting)])), [1]);
        assert_eq!(ids(o.turned(&[remittance(1, Status::Overdue), remittance(2, Status::Awaiting)])), Vec::<i64>::new());
        assert_eq!(ids(o.turned(&[remittance(1, Status::Overdue), remittance(2, Status::Overdue)])), [2]);
        // Paid at last, then (unmatched by a person) overdue again: told again.
        assert_eq!(ids(o.turned(&[remittance(2, Status::Overdue)])), Vec::<i64>::new());
        assert_eq!(ids(o.turned(&[remittance(1, Status::Overdue), remittance(2, Status::Overdue)])), [1]);
    }
}
