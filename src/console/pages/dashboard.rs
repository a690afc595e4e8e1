//! The dashboard: what came in today, what waits for a person (deposits
//! and remittances to reconcile among it), the last
//! and next sweep, and two small inline SVG charts: the denials not yet
//! settled by age, and the last 30 days' write-offs by reason.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::bank::reconcile;
use crate::console::web::{money, render, Me, PageError};
use crate::console::Console;
use crate::writeoff::history;

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage<'a> {
    who: &'a str,
    csrf: &'a str,
    t: Today,
    /// Deposits and remittances a person has to decide or ask about.
    to_reconcile: usize,
    next_sweep: Option<DateTime<Utc>>,
    ages: Chart,
    causes: Chart,
}

struct Today {
    files: i64,
    refused: i64,
    paid: Decimal,
    conflicts: i64,
    unmatched: i64,
    open_denials: i64,
    waiting: i64,
    last_sweep: Option<DateTime<Utc>>,
}

/// A bar chart laid out here, so the template only prints numbers: the
/// labels, then bars from `bar_x` scaled to the largest value.
struct Chart {
    /// The id of the heading that names the chart.
    title: &'static str,
    width: i64,
    bar_x: i64,
    color: &'static str,
    bars: Vec<Bar>,
}

struct Bar {
    label: String,
    /// What the bar's end says.
    value: String,
    y: i64,
    width: i64,
}

impl Chart {
    /// Bars of at most 300 units for `(label, value, shown)` rows.
    fn new(title: &'static str, width: i64, bar_x: i64, color: &'static str, rows: Vec<(String, Decimal, String)>) -> Chart {
        let most = rows.iter().map(|r| r.1).max().unwrap_or_default().max(Decimal::ONE);
        let bars = rows
            .into_iter()
            .enumerate()
            .map(|(i, (label, v, value))| {
                let width = (v * Decimal::from(300) / most).round().try_into().unwrap_or(0);
                Bar { label, value, y: i as i64 * 28, width }
            })
            .collect();
        Chart { title, width, bar_x, color, bars }
    }

    fn height(&self) -> usize {
        self.bars.len() * 28 + 4
    }
}

/// Days the causes chart looks back.
const CAUSE_DAYS: u64 = 30;

const AGES: [&str; 4] = ["0–30 days", "31–60 days", "61–90 days", "over 90 days"];

pub async fn show(State(console): State<Arc<Console>>, me: Me) -> Result<Response, PageError> {
    let db = &me.person.db;
    let t = sqlx::query_as!(
        Today,
        r#"SELECT
            (SELECT count(*) FROM ingested_files WHERE received_at >= current_date) AS "files!",
            (SELECT count(*) FROM ingested_files WHERE received_at >= current_date AND state = 'refused') AS "refused!",
            (SELECT coalesce(sum(payment_amount), 0) FROM remittances WHERE posted_at >= current_date) AS "paid!",
            (SELECT count(*) FROM remittance_conflicts WHERE resolved_at IS NULL) AS "conflicts!",
            (SELECT count(*) FROM unmatched_claims WHERE state = 'open') AS "unmatched!",
            (SELECT count(*) FROM denials WHERE status = 'OPEN') AS "open_denials!",
            (SELECT count(*) FROM writeoffs WHERE status = 'PENDING_APPROVAL') AS "waiting!",
            (SELECT max(started_at) FROM sweep_runs) AS last_sweep"#
    )
    .fetch_one(db)
    .await?;
    let counts = sqlx::query!(
        r#"SELECT count(*) FILTER (WHERE opened_at > now() - interval '30 days') AS "a!",
                  count(*) FILTER (WHERE opened_at <= now() - interval '30 days' AND opened_at > now() - interval '60 days') AS "b!",
                  count(*) FILTER (WHERE opened_at <= now() - interval '60 days' AND opened_at > now() - interval '90 days') AS "c!",
                  count(*) FILTER (WHERE opened_at <= now() - interval '90 days') AS "d!"
           FROM denials WHERE status IN ('OPEN', 'APPEAL_PENDING', 'PENDING_WRITEOFF')"#
    )
    .fetch_one(db)
    .await?;
    let values = [counts.a, counts.b, counts.c, counts.d];
    let ages =
        Chart::new("ages-title", 520, 110, "#3b6ea5", AGES.iter().zip(values).map(|(label, n)| (label.to_string(), Decimal::from(n), n.to_string())).collect());
    let since = chrono::Local::now().date_naive().checked_sub_days(chrono::Days::new(CAUSE_DAYS));
    let c = history::causes(db, since, None).await?;
    let causes = Chart::new(
        "causes-title",
        760,
        340,
        "#1e7b34",
        c.rows.into_iter().map(|r| (format!("{} ({})", r.label, r.bucket.as_str()), r.amount, money(&r.amount))).collect(),
    );
    let rows = reconcile::report(db, chrono::Local::now().date_naive(), reconcile::Filter { open_only: true, ..reconcile::Filter::default() }).await?;
    let to_reconcile = rows.iter().filter(|r| r.status.needs_a_person()).count();
    let next_sweep = console.sweep.schedule().ok().flatten().and_then(|s| s.next(Utc::now()));
    Ok(render(&DashboardPage { who: me.name(), csrf: &me.csrf, t, to_reconcile, next_sweep, ages, causes }))
}
