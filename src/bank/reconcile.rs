//! Reassociation: which deposits are explained by which remittances, and
//! what is left for a person (CAQH CORE rule 370).
//!
//! [`match_all`] matches what it is sure of, in one transaction:
//! 1. each open deposit with the one open remittance naming the same trace
//!    and payer (or, for a check deposit, its check number), going the
//!    same way (credits with payments, debits with takebacks), with the
//!    same amount and dates within the window; a deposit or remittance with
//!    two such candidates is left alone;
//! 2. each bulk check deposit (no TRN, no check number that names one
//!    remittance) with the one set of check-paid remittances within the
//!    window whose amounts add up to it ([`super::sums`]);
//! 3. and asks about the rest: the deposits two remittances could explain,
//!    the bulk deposits several sets add up to, and the deposits whose
//!    remittance names their trace but disagrees on amount or date.
//!
//! A person settles a question with [`match_by_hand`] (a reason, audited,
//! in her own name; a deposit may be explained with no remittance at all)
//! or undoes a match with [`unmatch`]. The daemon never matches again a
//! deposit a person has unmatched: it is in her hands.
//!
//! The window and which pairs are candidates live in the database
//! (`remitd_reassociation_window`, the view `reassociation_candidates`), so
//! matching, questions and every report read them from one place.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use super::sums::{self, Ways};
use crate::actors::Scope;
use crate::ledger::audit::{record as audit, Audit};
use crate::ledger::ActionError;

/// The advisory lock matching takes (one key, negative: see
/// `store::IMPORT_LOCK`). The daemon's matching and a person's queue, so
/// neither decides on what the other is changing.
const MATCH_LOCK: i64 = -0x6d617463;

/// What one round of matching did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Matched {
    /// Deposits matched with their one remittance.
    pub one_to_one: u64,
    /// Bulk deposits matched with the set of checks they hold.
    pub bulk: u64,
    /// Deposits left for a person, with a question.
    pub questions: u64,
}

impl Matched {
    /// Deposits matched, one to one or in bulk.
    pub fn deposits(&self) -> u64 {
        self.one_to_one + self.bulk
    }
}

impl std::fmt::Display for Matched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} deposits matched with their remittance, {} bulk deposits with their checks, {} questions for a person",
            self.one_to_one, self.bulk, self.questions
        )
    }
}

/// Matches what can be matched without a doubt, and asks about the rest.
pub async fn match_all(pool: &PgPool) -> Result<Matched, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", MATCH_LOCK).execute(&mut *tx).await?;
    crate::db::without_jit(&mut tx).await?;
    // A deposit a person unmatched stays hers: never matched again here.
    let one_to_one = sqlx::query!(
        r#"WITH sure AS (
               SELECT c.deposit_id, c.remittance_id, c.how,
                      count(*) OVER (PARTITION BY c.deposit_id) AS per_deposit,
                      count(*) OVER (PARTITION BY c.remittance_id) AS per_remittance
               FROM reassociation_candidates c
               WHERE c.amount_agrees AND c.date_agrees
                 AND NOT EXISTS (SELECT 1 FROM reassociations x WHERE x.deposit_id = c.deposit_id AND x.ended_at IS NOT NULL)
           )
           INSERT INTO reassociations (deposit_id, remittance_id, how, match_id)
           SELECT deposit_id, remittance_id, how, nextval('reassociation_matches') FROM sure
           WHERE per_deposit = 1 AND per_remittance = 1"#
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // A bulk deposit matched takes its checks out of the others' sets, so
    // one that had several answers may have one now: again until nothing
    // more is matched (each round matches at least one deposit).
    let mut bulk = 0;
    let bulk_questions = loop {
        let (matched, questions) = match_bulk(&mut tx).await?;
        bulk += matched;
        if matched == 0 {
            break questions;
        }
    };
    let questions = ask(&mut tx, &bulk_questions).await?;
    tx.commit().await?;
    Ok(Matched { one_to_one, bulk, questions })
}

/// A bulk deposit several sets of checks add up to, for [`ask`].
struct BulkQuestion {
    deposit_id: i64,
    remittance_ids: Vec<i64>,
    detail: String,
}

/// Step 2: bulk check deposits. A credit with no TRN whose customer
/// reference names no remittance, against the check-paid remittances of
/// the window that are each smaller than it. A set is matched only when it
/// is the one set adding up and none of its remittances is in another
/// deposit's set.
async fn match_bulk(conn: &mut PgConnection) -> Result<(u64, Vec<BulkQuestion>), sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT d.id AS "deposit_id!", d.amount AS "total!", r.id AS "remittance_id!", r.payment_amount AS "amount!"
           FROM open_deposits d
           JOIN open_remittances r
             ON r.payment_method = 'CHK' AND COALESCE(r.credit_debit, 'C') = 'C' AND r.payment_amount < d.amount
            AND r.payment_date BETWEEN d.deposit_date - 7 AND d.deposit_date + 7
            AND remitd_business_days(d.deposit_date, r.payment_date) <= remitd_reassociation_window()
           WHERE d.credit AND d.trace_number IS NULL AND d.deposit_date IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM reassociation_candidates c WHERE c.deposit_id = d.id)
             AND NOT EXISTS (SELECT 1 FROM reassociations x WHERE x.deposit_id = d.id AND x.ended_at IS NOT NULL)
           ORDER BY d.id, r.id"#
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut found: Vec<(i64, Vec<i64>)> = Vec::new();
    let mut questions = Vec::new();
    for group in rows.chunk_by(|a, b| a.deposit_id == b.deposit_id) {
        let deposit_id = group[0].deposit_id;
        let cents = |d: Decimal| (d * Decimal::ONE_HUNDRED).trunc().try_into().unwrap_or(i64::MAX);
        let amounts: Vec<i64> = group.iter().map(|r| cents(r.amount)).collect();
        let ids: Vec<i64> = group.iter().map(|r| r.remittance_id).collect();
        let detail = match sums::ways(&amounts, cents(group[0].total), 2) {
            Ways::None => continue,
            Ways::One(picked) => {
                found.push((deposit_id, picked.into_iter().map(|i| ids[i]).collect()));
                continue;
            }
            Ways::Several => "more than one set of checks paid in the window adds up to it".to_string(),
            Ways::TooMany => format!("{} checks paid in the window could be in it: too many to tell which", ids.len()),
        };
        questions.push(BulkQuestion { deposit_id, remittance_ids: ids, detail });
    }
    // A remittance two deposits' sets both want is neither's.
    let mut wanted: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    for id in found.iter().flat_map(|(_, ids)| ids) {
        *wanted.entry(*id).or_default() += 1;
    }
    let (sure, contested): (Vec<_>, Vec<_>) = found.into_iter().partition(|(_, ids)| ids.iter().all(|id| wanted[id] == 1));
    for (deposit_id, remittance_ids) in contested {
        questions.push(BulkQuestion { deposit_id, remittance_ids, detail: "its checks add up to another deposit too".into() });
    }
    let deposits: Vec<i64> = sure.iter().flat_map(|(d, ids)| ids.iter().map(move |_| *d)).collect();
    let remittances: Vec<i64> = sure.iter().flat_map(|(_, ids)| ids.iter().copied()).collect();
    sqlx::query!(
        r#"WITH matches AS (SELECT d, nextval('reassociation_matches') AS match_id FROM (SELECT DISTINCT d FROM unnest($1::int8[]) AS d) ds)
           INSERT INTO reassociations (deposit_id, remittance_id, how, match_id)
           SELECT p.d, p.r, 'bulk', m.match_id FROM unnest($1::int8[], $2::int8[]) AS p(d, r) JOIN matches m ON m.d = p.d"#,
        &deposits,
        &remittances
    )
    .execute(&mut *conn)
    .await?;
    Ok((sure.len() as u64, questions))
}

/// Step 3: the questions, asked afresh: what step 1 and 2 left because it
/// had two answers, or an answer that disagrees on amount or date. One
/// statement: a question asked again as it was is left as it is, a new or
/// changed one is written, and one no longer asked is closed.
async fn ask(conn: &mut PgConnection, bulk: &[BulkQuestion]) -> Result<u64, sqlx::Error> {
    let asked = sqlx::query_scalar!(
        r#"WITH candidates AS MATERIALIZED (
               SELECT * FROM reassociation_candidates
           ), agreeing AS (
               SELECT c.*, count(*) OVER (PARTITION BY c.deposit_id) AS per_deposit, count(*) OVER (PARTITION BY c.remittance_id) AS per_remittance
               FROM candidates c WHERE c.amount_agrees AND c.date_agrees
           ), ambiguous AS (
               SELECT a.deposit_id, array_agg(a.remittance_id ORDER BY a.remittance_id) AS ids, max(a.per_deposit) AS per_deposit
               FROM agreeing a WHERE a.per_deposit > 1 OR a.per_remittance > 1 GROUP BY a.deposit_id
           ), disagreeing AS (
               SELECT DISTINCT ON (c.deposit_id) c.*
               FROM candidates c
               WHERE NOT (c.amount_agrees AND c.date_agrees) AND NOT EXISTS (SELECT 1 FROM agreeing a WHERE a.deposit_id = c.deposit_id)
               ORDER BY c.deposit_id, c.remittance_id
           ), new AS (
               SELECT deposit_id, 'ambiguous' AS kind, ids AS remittance_ids,
                      CASE WHEN per_deposit > 1 THEN per_deposit || ' remittances name this deposit''s trace with its amount'
                           ELSE 'another deposit names the same remittance with the same amount' END AS detail
               FROM ambiguous
               UNION ALL
               SELECT deposit_id, CASE WHEN amount_agrees THEN 'date' ELSE 'amount' END, ARRAY[remittance_id],
                      CASE WHEN amount_agrees THEN 'the remittance is dated ' || days_apart || ' business days from the deposit'
                           ELSE 'the deposit is ' || abs(difference) || CASE WHEN difference < 0 THEN ' less' ELSE ' more' END || ' than the remittance' END
               FROM disagreeing
               UNION ALL
               SELECT q.deposit_id, 'ambiguous', ARRAY(SELECT jsonb_array_elements_text(q.ids)::int8), q.detail
               FROM jsonb_to_recordset($1::jsonb) AS q(deposit_id int8, ids jsonb, detail text)
           ), written AS (
               INSERT INTO deposit_questions AS q (deposit_id, kind, remittance_ids, detail)
               SELECT deposit_id, kind, remittance_ids, detail FROM new
               ON CONFLICT (deposit_id) DO UPDATE SET kind = EXCLUDED.kind, remittance_ids = EXCLUDED.remittance_ids, detail = EXCLUDED.detail,
                                                      asked_at = now(), open = true
               WHERE (q.kind, q.remittance_ids, q.detail, q.open) IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.remittance_ids, EXCLUDED.detail, true)
           ), closed AS (
               UPDATE deposit_questions q SET open = false WHERE q.open AND NOT EXISTS (SELECT 1 FROM new WHERE new.deposit_id = q.deposit_id)
           )
           SELECT count(*) AS "asked!" FROM new"#,
        serde_json::Value::Array(bulk.iter().map(|q| serde_json::json!({ "deposit_id": q.deposit_id, "ids": q.remittance_ids, "detail": q.detail })).collect())
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(asked as u64)
}

/// What a person's decision starts with: a reason, the scope, and the
/// matching lock, so it never decides on what a round of matching is
/// changing. `what` names the decision in the refusal.
async fn decision(pool: &PgPool, actor: &str, reason: &str, what: &str) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, ActionError> {
    if reason.trim().is_empty() {
        return Err(ActionError::Invalid(format!("{what} needs a reason (--reason TEXT)")));
    }
    let mut tx = pool.begin().await?;
    crate::actors::require(&mut tx, actor, Scope::PaymentWrite).await?;
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", MATCH_LOCK).execute(&mut *tx).await?;
    Ok(tx)
}

/// A person matches deposit `deposit_id` with `remittance_ids` (none: the
/// deposit is explained by `reason` alone, e.g. interest or a patient's
/// payment). The amounts need not agree: the reason says why they may
/// not. Needs `billing.payment.write`; audited; the database holds it too.
pub async fn match_by_hand(pool: &PgPool, actor: &str, deposit_id: i64, remittance_ids: &[i64], reason: &str) -> Result<HandMatch, ActionError> {
    let mut tx = decision(pool, actor, reason, "matching by hand").await?;
    let deposit = sqlx::query!(
        r#"SELECT d.amount, d.credit, d.same_money_as, EXISTS (SELECT 1 FROM reassociations x WHERE x.deposit_id = d.id AND x.ended_at IS NULL) AS "matched!"
           FROM deposits d WHERE d.id = $1"#,
        deposit_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ActionError::Invalid(format!("no deposit #{deposit_id}")))?;
    if deposit.matched {
        return Err(ActionError::Invalid(format!("deposit #{deposit_id} is matched already: unmatch it first")));
    }
    if let Some(first) = deposit.same_money_as {
        return Err(ActionError::Invalid(format!("deposit #{deposit_id} is the money of deposit #{first} reported again: match that one")));
    }
    let remittances = sqlx::query!(
        r#"SELECT r.id, r.payment_amount, COALESCE(r.credit_debit, 'C') = 'C' AS "credit!",
                  EXISTS (SELECT 1 FROM reassociations x WHERE x.remittance_id = r.id AND x.ended_at IS NULL) AS "matched!"
           FROM remittances r WHERE r.id = ANY($1) ORDER BY r.id"#,
        remittance_ids
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut wanted: Vec<i64> = remittance_ids.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    if let Some(missing) = wanted.iter().find(|id| !remittances.iter().any(|r| r.id == **id)) {
        return Err(ActionError::Invalid(format!("no remittance #{missing}")));
    }
    if let Some(r) = remittances.iter().find(|r| r.matched) {
        return Err(ActionError::Invalid(format!("remittance #{} is matched with another deposit already: unmatch that first", r.id)));
    }
    if let Some(r) = remittances.iter().find(|r| r.credit != deposit.credit) {
        let (d, m) = if deposit.credit { ("a credit", "takes money back") } else { ("a debit", "pays") };
        return Err(ActionError::Invalid(format!("deposit #{deposit_id} is {d} and remittance #{} {m}: they cannot explain each other", r.id)));
    }
    let paid: Decimal = remittances.iter().map(|r| r.payment_amount).sum();
    let difference = (!wanted.is_empty()).then(|| deposit.amount - paid).filter(|d| !d.is_zero());
    sqlx::query!(
        r#"WITH m AS (SELECT nextval('reassociation_matches') AS id)
           INSERT INTO reassociations (deposit_id, remittance_id, how, match_id, matched_by, reason)
           SELECT $1, r, 'manual', m.id, $3, $4 FROM m, unnest(CASE WHEN cardinality($2::int8[]) = 0 THEN ARRAY[NULL::int8] ELSE $2::int8[] END) AS r"#,
        deposit_id,
        &wanted,
        actor,
        reason
    )
    .execute(&mut *tx)
    .await?;
    let detail = serde_json::json!({ "deposit_id": deposit_id, "remittance_ids": wanted, "difference": difference });
    audit(&mut tx, actor, "deposit_matched", Audit { reason: Some(reason), amount: Some(deposit.amount), detail: Some(detail), ..Audit::default() }).await?;
    tx.commit().await?;
    Ok(HandMatch { deposit_id, remittance_ids: wanted, difference })
}

/// What [`match_by_hand`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandMatch {
    pub deposit_id: i64,
    /// Empty: the deposit is explained without a remittance.
    pub remittance_ids: Vec<i64>,
    /// Deposit minus remittances, when they differ.
    pub difference: Option<Decimal>,
}

/// A person ends deposit `deposit_id`'s match (the daemon's or a person's):
/// the match stays on record, ended, with her reason; the deposit and its
/// remittances are open again, and the daemon leaves the deposit to people.
pub async fn unmatch(pool: &PgPool, actor: &str, deposit_id: i64, reason: &str) -> Result<Vec<i64>, ActionError> {
    let mut tx = decision(pool, actor, reason, "unmatching").await?;
    let freed = sqlx::query_scalar!(
        "UPDATE reassociations SET ended_at = now(), ended_by = $2, end_reason = $3 WHERE deposit_id = $1 AND ended_at IS NULL RETURNING remittance_id",
        deposit_id,
        actor,
        reason
    )
    .fetch_all(&mut *tx)
    .await?;
    if freed.is_empty() {
        return Err(ActionError::Invalid(format!("deposit #{deposit_id} is not matched")));
    }
    let freed: Vec<i64> = freed.into_iter().flatten().collect();
    let detail = serde_json::json!({ "deposit_id": deposit_id, "remittance_ids": freed });
    audit(&mut tx, actor, "deposit_unmatched", Audit { reason: Some(reason), detail: Some(detail), ..Audit::default() }).await?;
    tx.commit().await?;
    Ok(freed)
}

/// Where a deposit or a remittance stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Status {
    /// A deposit explained by its remittance(s).
    Matched,
    /// A deposit a person explained without a remittance.
    Explained,
    /// A deposit that is another's money reported again (the ACH credit a
    /// statement shows too).
    ReportedTwice,
    /// Two remittances could explain it, or two deposits pay one: a person
    /// decides.
    Ambiguous,
    /// Its remittance names its trace but another amount.
    AmountMismatch,
    /// Its remittance names its trace and amount, dated outside the window.
    DateMismatch,
    /// A posted remittance whose money has not arrived, within the window.
    Awaiting,
    /// The same, past the window: ask the payer.
    Overdue,
    /// A credit no remittance explains (yet).
    Unexplained,
    /// A debit no remittance explains: a payer took money back unannounced.
    Takeback,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Matched => "matched",
            Status::Explained => "explained",
            Status::ReportedTwice => "reported_twice",
            Status::Ambiguous => "ambiguous",
            Status::AmountMismatch => "amount_mismatch",
            Status::DateMismatch => "date_mismatch",
            Status::Awaiting => "awaiting",
            Status::Overdue => "overdue",
            Status::Unexplained => "unexplained",
            Status::Takeback => "takeback",
        }
    }

    fn parse(s: &str) -> Status {
        <Status as clap::ValueEnum>::from_str(s, false).unwrap_or(Status::Unexplained)
    }

    /// Whether a person has something to do about it.
    pub fn needs_a_person(self) -> bool {
        !matches!(self, Status::Matched | Status::Explained | Status::ReportedTwice | Status::Awaiting)
    }
}

/// Which side of a payment a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Money a bank file reports.
    Deposit,
    /// A posted remittance no deposit pays yet.
    Remittance,
}

/// One deposit, or one remittance no deposit pays yet.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub status: Status,
    pub side: Side,
    /// Credit (money in) or debit (money taken back).
    pub credit: bool,
    pub trace: Option<String>,
    pub payer: String,
    pub amount: Decimal,
    /// The deposit's date, or the remittance's payment date.
    pub date: Option<NaiveDate>,
    pub deposit_id: Option<i64>,
    pub remittance_ids: Vec<i64>,
    /// Why: the question's wording, who matched by hand and why, which
    /// deposit it repeats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Business days since `date`, for what is still open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_days: Option<i32>,
}

/// Which rows a report holds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub status: Option<Status>,
    /// Only what is still open: no matched, explained or reported-twice
    /// deposit (a tenth of the rows in an office that keeps up; what a
    /// count of the work waiting needs).
    pub open_only: bool,
}

/// Every deposit and every open remittance dated within the filter's days,
/// with where it stands on `today`.
pub async fn report(pool: &PgPool, today: NaiveDate, filter: Filter) -> Result<Vec<Row>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    crate::db::without_jit(&mut tx).await?;
    let rows = sqlx::query!(
        r#"SELECT * FROM (
           SELECT CASE WHEN m.remittance_ids IS NOT NULL AND cardinality(m.remittance_ids) > 0 THEN 'matched'
                       WHEN m.deposit_id IS NOT NULL THEN 'explained'
                       WHEN d.same_money_as IS NOT NULL THEN 'reported_twice'
                       WHEN q.kind = 'amount' THEN 'amount_mismatch'
                       WHEN q.kind = 'date' THEN 'date_mismatch'
                       WHEN q.kind IS NOT NULL THEN 'ambiguous'
                       WHEN NOT d.credit THEN 'takeback' ELSE 'unexplained' END AS status,
                  true AS deposit, d.credit, COALESCE(d.trace_number, d.customer_reference) AS trace, d.payer_name AS payer, d.amount, d.deposit_date AS date,
                  d.id AS deposit_id, COALESCE(m.remittance_ids, q.remittance_ids, '{}') AS remittance_ids,
                  COALESCE(q.detail, m.detail, CASE WHEN d.same_money_as IS NOT NULL THEN 'the money of deposit #' || d.same_money_as || ', reported again' END) AS detail,
                  CASE WHEN m.deposit_id IS NULL AND d.same_money_as IS NULL AND d.deposit_date < $1 THEN remitd_business_days(d.deposit_date, $1) END AS waiting_days
           FROM deposits d
           LEFT JOIN (SELECT x.deposit_id, array_agg(x.remittance_id ORDER BY x.remittance_id) FILTER (WHERE x.remittance_id IS NOT NULL) AS remittance_ids,
                             max(CASE WHEN x.how = 'manual' THEN 'matched by ' || x.matched_by || ': ' || x.reason END) AS detail
                      FROM reassociations x WHERE x.ended_at IS NULL GROUP BY x.deposit_id) m ON m.deposit_id = d.id
           LEFT JOIN deposit_questions q ON q.deposit_id = d.id AND q.open AND m.deposit_id IS NULL
           WHERE NOT $4 OR (m.deposit_id IS NULL AND d.same_money_as IS NULL)
           UNION ALL
           SELECT CASE WHEN q.kind = 'amount' THEN 'amount_mismatch' WHEN q.kind = 'date' THEN 'date_mismatch' WHEN q.kind IS NOT NULL THEN 'ambiguous'
                       WHEN r.payment_date IS NOT NULL AND r.payment_date < $1 AND remitd_business_days(r.payment_date, $1) > remitd_reassociation_window() THEN 'overdue'
                       ELSE 'awaiting' END,
                  false, COALESCE(r.credit_debit, 'C') = 'C', r.trace_number, r.payer_name, r.payment_amount, r.payment_date,
                  q.deposit_id, ARRAY[r.id], q.detail,
                  CASE WHEN r.payment_date < $1 THEN remitd_business_days(r.payment_date, $1) END
           FROM open_remittances r
           LEFT JOIN (SELECT DISTINCT ON (u.remittance_id) u.remittance_id, q.deposit_id, q.kind, q.detail
                      FROM deposit_questions q CROSS JOIN LATERAL unnest(q.remittance_ids) AS u(remittance_id)
                      WHERE q.open AND NOT EXISTS (SELECT 1 FROM reassociations x WHERE x.deposit_id = q.deposit_id AND x.ended_at IS NULL)
                      ORDER BY u.remittance_id, q.deposit_id) q ON q.remittance_id = r.id
           ) rows
           WHERE ($2::date IS NULL OR rows.date >= $2) AND ($3::date IS NULL OR rows.date <= $3) AND ($5::text IS NULL OR rows.status = $5)
           ORDER BY rows.date NULLS LAST, rows.payer, rows.trace, rows.deposit_id"#,
        today,
        filter.from,
        filter.to,
        filter.open_only,
        filter.status.map(Status::as_str)
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| Row {
            status: Status::parse(r.status.as_deref().unwrap_or_default()),
            side: if r.deposit.unwrap_or(true) { Side::Deposit } else { Side::Remittance },
            credit: r.credit.unwrap_or(true),
            trace: r.trace,
            payer: r.payer.unwrap_or_default(),
            amount: r.amount.unwrap_or_default(),
            date: r.date,
            deposit_id: r.deposit_id,
            remittance_ids: r.remittance_ids.unwrap_or_default(),
            detail: r.detail,
            waiting_days: r.waiting_days,
        })
        .collect())
}

/// How many rows are in each state and how long the oldest has waited
/// (business days): the queues' sizes and ages, for metrics and the
/// dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Queue {
    pub status: Status,
    pub count: usize,
    pub amount: Decimal,
    pub oldest_days: Option<i32>,
}

/// The queues of `rows`, one per state present, in the order of [`Status`].
pub fn queues(rows: &[Row]) -> Vec<Queue> {
    let mut by: std::collections::BTreeMap<Status, Queue> = std::collections::BTreeMap::new();
    for r in rows {
        let q = by.entry(r.status).or_insert(Queue { status: r.status, count: 0, amount: Decimal::ZERO, oldest_days: None });
        q.count += 1;
        q.amount += r.amount;
        q.oldest_days = q.oldest_days.max(r.waiting_days);
    }
    by.into_values().collect()
}
