//! Reassociation: which deposits are explained by which remittances, and
//! what is left for a person (CAQH CORE rule 370).
//!
//! [`match_all`] matches, set-based, every unmatched credit deposit with the
//! one posted remittance that has its trace number and payer (or, for a
//! check deposit, its check number), the same amount and a payment date
//! within [`WINDOW`] business days; a deposit or remittance with two
//! candidates is left alone. [`report`] then says where each stands.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgPool;

/// Business days an 835 and its EFT may be apart (rule 370's window).
pub const WINDOW: i32 = 3;

/// Matches what can be matched without a doubt; returns how many.
pub async fn match_all(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        r#"WITH candidates AS (
               SELECT d.id AS deposit_id, r.id AS remittance_id,
                      CASE WHEN d.trace_number IS NOT NULL THEN 'trace' ELSE 'check' END AS how
               FROM deposits d
               JOIN remittances r
                 ON ((d.trace_number = r.trace_number AND d.payer_id = r.payer_key) OR (d.trace_number IS NULL AND d.customer_reference = r.trace_number))
                AND d.amount = r.payment_amount
                AND (d.deposit_date IS NULL OR r.payment_date IS NULL OR remitd_business_days(d.deposit_date, r.payment_date) <= $1)
               WHERE d.credit AND r.handling_code <> 'H'
                 AND NOT EXISTS (SELECT 1 FROM reassociations x WHERE x.deposit_id = d.id OR x.remittance_id = r.id)
           ), sure AS (
               SELECT c.* FROM candidates c
               WHERE (SELECT count(*) FROM candidates o WHERE o.deposit_id = c.deposit_id) = 1
                 AND (SELECT count(*) FROM candidates o WHERE o.remittance_id = c.remittance_id) = 1
           )
           INSERT INTO reassociations (deposit_id, remittance_id, how) SELECT deposit_id, remittance_id, how FROM sure
           ON CONFLICT DO NOTHING"#,
        WINDOW
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Where a deposit or a remittance stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A deposit explained by its remittance.
    Matched,
    /// A posted remittance whose money has not arrived, within the window.
    Awaiting,
    /// The same, past the window: ask the payer.
    Overdue,
    /// A deposit no remittance explains (yet).
    Unexplained,
    /// A debit: a payer took money back.
    Takeback,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub status: Status,
    pub trace: Option<String>,
    pub payer: String,
    pub amount: Decimal,
    /// The deposit's date, or the remittance's payment date.
    pub date: Option<NaiveDate>,
    pub deposit_id: Option<i64>,
    pub remittance_id: Option<i64>,
}

/// Every deposit and every paid remittance, with where it stands on `today`.
pub async fn report(pool: &PgPool, today: NaiveDate) -> Result<Vec<Row>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT CASE WHEN x.id IS NOT NULL THEN 'matched' WHEN NOT d.credit THEN 'takeback' ELSE 'unexplained' END AS "status!",
                  COALESCE(d.trace_number, d.customer_reference) AS trace, d.payer_name AS "payer!", d.amount AS "amount!", d.deposit_date AS date,
                  d.id AS "deposit_id?", x.remittance_id AS "remittance_id?"
           FROM deposits d LEFT JOIN reassociations x ON x.deposit_id = d.id
           UNION ALL
           SELECT CASE WHEN r.payment_date IS NOT NULL AND remitd_business_days(r.payment_date, $1) > $2 AND r.payment_date < $1 THEN 'overdue' ELSE 'awaiting' END,
                  r.trace_number, r.payer_name, r.payment_amount, r.payment_date, NULL, r.id
           FROM remittances r
           WHERE r.payment_amount > 0 AND r.handling_code <> 'H' AND NOT EXISTS (SELECT 1 FROM reassociations x WHERE x.remittance_id = r.id)
           ORDER BY 5 NULLS LAST, 3, 2"#,
        today,
        WINDOW
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Row {
            status: match r.status.as_str() {
                "matched" => Status::Matched,
                "takeback" => Status::Takeback,
                "unexplained" => Status::Unexplained,
                "overdue" => Status::Overdue,
                _ => Status::Awaiting,
            },
            trace: r.trace,
            payer: r.payer,
            amount: r.amount,
            date: r.date,
            deposit_id: r.deposit_id,
            remittance_id: r.remittance_id,
        })
        .collect())
}
