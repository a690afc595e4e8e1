//! The one query that finds the balances a sweep takes. Preview, post and
//! every interactive answer run it, so what a person was shown is checked
//! again, under the write lock, before anything is written off.

use chrono_tz::Tz;
use rust_decimal::Decimal;
use sqlx::{PgConnection, Row};

use super::{Bucket, Line, Params, Section};

/// Every balance the parameters select, in report order: insurance before
/// patient, then by patient name and account. `{ONLY}` narrows the query
/// to some claims (row ids in `$10`), for an interactive answer.
///
/// Balances come first: a full sweep must sum every claim's ledger anyway
/// (a balance is known only once summed), and the few claims that owe
/// anything are then checked against the cheap criteria one by one, rather
/// than a million claims joined to the sums.
const SQL: &str = "
WITH owed AS MATERIALIZED (
    SELECT claim_id, insurance_balance, patient_balance FROM claim_owed
    WHERE (insurance_balance <> 0 OR patient_balance <> 0) {ONLY}
),
balances AS (
    SELECT c.id, c.claim_id, c.account_id, c.payer_id, c.last_billed_date, v.bucket, v.amount, v.tx_code
    FROM owed o
    JOIN claims c ON c.id = o.claim_id
    CROSS JOIN LATERAL (VALUES ('insurance', o.insurance_balance, $5::text, $7::bool),
                               ('patient', o.patient_balance, $6::text, $8::bool)) AS v(bucket, amount, tx_code, credits)
    WHERE c.last_billed_date <= $3 AND c.times_billed >= $4
      AND v.tx_code IS NOT NULL AND (v.amount > 0 OR (v.credits AND v.amount < 0))
      AND EXISTS (SELECT 1 FROM claim_postings cp WHERE cp.claim_id = c.id AND cp.posted_at >= $1 AND cp.posted_at < $2)
)
SELECT x.id, x.claim_id, x.bucket, x.amount, x.tx_code, a.patient_name, a.account_number, x.last_billed_date, p.payer_code,
       COALESCE((SELECT CASE cp.status_code WHEN '2' THEN 2 WHEN '20' THEN 2 WHEN '3' THEN 3 WHEN '21' THEN 3 ELSE 1 END
                 FROM claim_postings cp WHERE cp.claim_id = x.id AND cp.reverses_posting_id IS NULL
                 ORDER BY cp.id DESC LIMIT 1), 1)::smallint,
       EXISTS (SELECT 1 FROM denials d WHERE d.claim_id = x.id AND d.status IN ('APPEAL_PENDING', 'PENDING_WRITEOFF')),
       $9::numeric IS NOT NULL AND abs(x.amount) > $9
FROM balances x JOIN accounts a ON a.id = x.account_id JOIN payers p ON p.id = x.payer_id
ORDER BY x.bucket, a.patient_name, a.account_number, x.claim_id";

/// Summing every claim's amounts: sorted by claim and summed in order is
/// more than twice as fast as hashing a million groups (and stays in
/// memory with the sort given room), for this transaction only; the other
/// core is left to ingestion.
const SETTINGS: &str = "SELECT set_config('work_mem', '256MB', true), set_config('enable_hashagg', 'off', true),
                               set_config('max_parallel_workers_per_gather', '0', true)";

/// Runs the query, inside the caller's transaction (the settings above last
/// as long as it). Inside a run's transaction, after the ledger lock, its
/// answer is what will be written off.
pub async fn balances(conn: &mut PgConnection, params: &Params, tz: Tz, only: Option<&[i64]>) -> Result<Vec<Line>, sqlx::Error> {
    let (from, to) = params.entry_window(tz);
    let min_times = i32::try_from(params.min_times_billed).unwrap_or(i32::MAX);
    let sql = match only {
        // Narrowed, the sums are taken for those claims alone (the view's
        // grouping column takes the condition down to the indexes).
        Some(_) => SQL.replace("{ONLY}", "AND claim_id = ANY($10)"),
        None => {
            sqlx::query(SETTINGS).execute(&mut *conn).await?;
            SQL.replace("{ONLY}", "AND $10::bigint[] IS NULL")
        }
    };
    let rows = sqlx::query(&sql)
        .bind(from)
        .bind(to)
        .bind(params.billed_on_or_before())
        .bind(min_times)
        .bind(params.insurance_code.as_deref())
        .bind(params.patient_code.as_deref())
        .bind(params.include_insurance_credits)
        .bind(params.include_patient_credits)
        .bind(params.max_amount)
        .bind(only)
        .fetch_all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let (protected, over): (bool, bool) = (r.get(10), r.get(11));
            Line {
                section: if protected {
                    Section::Protected
                } else if over {
                    Section::OutOfRange
                } else {
                    Section::WrittenOff
                },
                claim_row: r.get(0),
                claim_id: r.get(1),
                bucket: Bucket::parse(r.get(2)),
                amount: r.get::<Decimal, _>(3),
                tx_code: r.get(4),
                patient_name: r.get(5),
                account_number: r.get(6),
                last_billed_date: r.get(7),
                payer_code: r.get(8),
                policy_order: r.get(9),
            }
        })
        .collect())
}
