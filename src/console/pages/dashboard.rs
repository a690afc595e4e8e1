//! The dashboard: what came in today, what waits for a person, and the
//! open denials by age as a small inline SVG chart.

use askama::Template;
use axum::response::Response;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::console::web::{render, Me, PageError};

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage<'a> {
    who: &'a str,
    csrf: &'a str,
    t: Today,
    ages: Vec<Bar>,
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

/// One bar of the denials-by-age chart, laid out here so the template
/// only prints numbers.
struct Bar {
    label: &'static str,
    count: i64,
    y: i64,
    width: i64,
}

const AGES: [&str; 4] = ["0–30 days", "31–60 days", "61–90 days", "over 90 days"];

pub async fn show(me: Me) -> Result<Response, PageError> {
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
    let most = values.iter().copied().max().unwrap_or(0).max(1);
    let ages = AGES.iter().zip(values).enumerate().map(|(i, (label, count))| Bar { label, count, y: i as i64 * 28, width: count * 300 / most }).collect();
    Ok(render(&DashboardPage { who: me.name(), csrf: &me.csrf, t, ages }))
}
