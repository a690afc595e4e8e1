//! The one query that finds the balances a sweep takes. Preview, post and
//! every interactive answer run it, so what a person was shown is checked
//! again, under the write lock, before anything is written off.

use chrono_tz::Tz;
use sqlx::PgConnection;

use super::{Bucket, Line, Params, Section};

/// Summing every claim's amounts: sorted by claim and summed in order is
/// more than twice as fast as hashing a million groups (and stays in
/// memory with the sort given room), for this transaction only; the other
/// core is left to ingestion.
const FULL_SCAN_SETTINGS: &str = "SELECT set_config('work_mem', '256MB', true), set_config('enable_hashagg', 'off', true),
                                         set_config('max_parallel_workers_per_gather', '0', true)";

/// Runs the query, inside the caller's transaction (the settings above last
/// as long as it). Inside a run's transaction, after the ledger lock, its
/// answer is what will be written off.
///
/// The query returns every balance the parameters select, in report order:
/// insurance before patient, then by patient name and account. `only`
/// narrows it to some claims (row ids), for an interactive answer; the
/// plan is made for the values given (`plan_cache_mode`), so the narrowed
/// query sums those claims alone, through the view's grouping column and
/// its indexes, however often the statement was run before.
///
/// Balances come first: a full sweep must sum every claim's ledger anyway
/// (a balance is known only once summed), and the few claims that owe
/// anything are then checked against the cheap criteria one by one, rather
/// than a million claims joined to the sums.
pub async fn balances(conn: &mut PgConnection, params: &Params, tz: Tz, only: Option<&[i64]>) -> Result<Vec<Line>, sqlx::Error> {
    let (from, to) = params.entry_window(tz);
    let min_times = i32::try_from(params.min_times_billed).unwrap_or(i32::MAX);
    sqlx::query!("SELECT set_config('plan_cache_mode', 'force_custom_plan', true)").fetch_one(&mut *conn).await?;
    if only.is_none() {
        sqlx::query(FULL_SCAN_SETTINGS).execute(&mut *conn).await?;
    }
    sqlx::query_as!(
        Line,
        r#"WITH owed AS MATERIALIZED (
               SELECT claim_id, insurance_balance, patient_balance FROM claim_owed
               WHERE (insurance_balance <> 0 OR patient_balance <> 0) AND ($10::bigint[] IS NULL OR claim_id = ANY($10))
           ),
           balances AS (
               SELECT c.id, c.claim_id, c.account_id, c.payer_id, c.last_billed_date, v.bucket, v.amount, v.tx_code
               FROM owed o
               JOIN claims c ON c.id = o.claim_id
               CROSS JOIN LATERAL (VALUES ('insurance', o.insurance_balance, $5::text, $7::bool),
                                          ('patient', o.patient_balance, $6::text, $8::bool)) AS v(bucket, amount, tx_code, credits)
               WHERE c.last_billed_date <= $3 AND c.times_billed >= $4
                 AND ($14::date IS NULL OR c.service_date >= $14) AND ($15::date IS NULL OR c.service_date <= $15)
                 AND v.tx_code IS NOT NULL AND (v.amount > 0 OR (v.credits AND v.amount < 0))
                 AND EXISTS (SELECT 1 FROM claim_postings cp WHERE cp.claim_id = c.id AND cp.posted_at >= $1 AND cp.posted_at < $2)
           ),
           found AS (
               SELECT x.*, a.patient_name, a.account_number, p.payer_code,
                      EXISTS (SELECT 1 FROM denials d WHERE d.claim_id = x.id AND d.status IN ('APPEAL_PENDING', 'PENDING_WRITEOFF')) AS protected,
                      $9::numeric IS NOT NULL AND abs(x.amount) > $9 AS over
               FROM balances x JOIN accounts a ON a.id = x.account_id JOIN payers p ON p.id = x.payer_id
               WHERE ($11::text IS NULL OR p.payer_code = $11) AND ($12::text IS NULL OR a.account_number = $12)
                 AND ($13::text IS NULL OR x.claim_id = $13)
           )
           SELECT CASE WHEN f.protected THEN 'protected' WHEN f.over THEN 'out_of_range' ELSE 'written_off' END AS "section!: Section",
                  f.bucket AS "bucket!: Bucket", f.id AS claim_row, f.claim_id, f.patient_name, f.account_number,
                  f.last_billed_date AS "last_billed_date!", f.amount AS "amount!", f.tx_code AS "tx_code!", f.payer_code,
                  COALESCE((SELECT CASE cp.status_code WHEN '2' THEN 2 WHEN '20' THEN 2 WHEN '3' THEN 3 WHEN '21' THEN 3 ELSE 1 END
                            FROM claim_postings cp WHERE cp.claim_id = f.id AND cp.reverses_posting_id IS NULL
                            ORDER BY cp.id DESC LIMIT 1), 1)::smallint AS "policy_order!"
           FROM found f
           ORDER BY f.bucket, f.patient_name, f.account_number, f.claim_id"#,
        from,
        to,
        params.billed_on_or_before(),
        min_times,
        params.insurance_code.as_deref(),
        params.patient_code.as_deref(),
        params.include_insurance_credits,
        params.include_patient_credits,
        params.max_amount,
        only,
        params.payer.as_deref(),
        params.account.as_deref(),
        params.claim.as_deref(),
        params.service_from,
        params.service_to,
    )
    .fetch_all(conn)
    .await
}
