//! What a remittance posts: its claim postings and their ledger entries,
//! gathered in column vectors and inserted with one `INSERT ... SELECT FROM
//! UNNEST(...)` statement per transaction set, not a round trip per row;
//! and its provider-level (PLB) adjustments.

use rust_decimal::Decimal;
use sqlx::PgConnection;

use super::kinds::EntryKind;
use crate::model::{Claim, ProviderAdjustment};

/// The actor recorded on everything remitd posts by itself.
pub const SYSTEM_ACTOR: &str = "system";

/// Claim postings and entries of one remittance, not yet written.
#[derive(Debug, Default)]
pub struct Batch {
    // claim_postings
    p_claim: Vec<i64>,
    p_status: Vec<String>,
    p_charge: Vec<Decimal>,
    p_paid: Vec<Decimal>,
    p_pccn: Vec<Option<String>>,
    p_f8: Vec<Option<String>>,
    // ledger_entries, each tied to a posting by its 1-based ordinal
    e_posting: Vec<i32>,
    e_claim: Vec<i64>,
    e_line: Vec<Option<i64>>,
    e_kind: Vec<&'static str>,
    e_group: Vec<Option<String>>,
    e_reason: Vec<Option<String>>,
    e_amount: Vec<Decimal>,
}

/// One entry of a posting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub line_id: Option<i64>,
    pub kind: EntryKind,
    pub group_code: Option<String>,
    pub reason_code: Option<String>,
    pub amount: Decimal,
}

impl Batch {
    /// Adds the posting of one matched claim with its entries; returns the
    /// posting's ordinal in the batch (1-based), which [`Batch::write`]
    /// turns into its id.
    pub fn add_posting(&mut self, claim_id: i64, claim: &Claim, entries: impl IntoIterator<Item = Entry>) -> usize {
        self.p_claim.push(claim_id);
        self.p_status.push(claim.status_code.to_string());
        self.p_charge.push(claim.charge);
        self.p_paid.push(claim.paid);
        self.p_pccn.push(claim.payer_claim_control_number.as_ref().map(ToString::to_string));
        self.p_f8.push(claim.original_reference.as_ref().map(ToString::to_string));
        let ordinal = self.p_claim.len();
        let posting = i32::try_from(ordinal).unwrap_or(i32::MAX);
        for e in entries {
            self.e_posting.push(posting);
            self.e_claim.push(claim_id);
            self.e_line.push(e.line_id);
            self.e_kind.push(e.kind.as_str());
            self.e_group.push(e.group_code);
            self.e_reason.push(e.reason_code);
            self.e_amount.push(e.amount);
        }
        ordinal
    }

    pub fn is_empty(&self) -> bool {
        self.p_claim.is_empty()
    }

    /// Writes the postings and their entries in one statement and returns
    /// the postings' ids in ordinal order. `src` numbers the postings up
    /// front, so entries can refer to them in the same statement; the
    /// references are checked once per statement by triggers (migrations
    /// 0002 and 0007).
    pub async fn write(self, conn: &mut PgConnection, remittance_id: i64) -> Result<Vec<i64>, sqlx::Error> {
        if self.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query_scalar!(
            r#"WITH src AS MATERIALIZED (
                   SELECT u.*, nextval('claim_postings_id_seq') AS id
                   FROM UNNEST($2::bigint[], $3::text[], $4::numeric[], $5::numeric[], $6::text[], $7::text[])
                        WITH ORDINALITY AS u(claim_id, status, charge, paid, pccn, f8, ord)
               ), postings AS (
                   INSERT INTO claim_postings (id, remittance_id, claim_id, status_code, charge, paid, payer_claim_control_number, original_reference)
                   SELECT id, $1, claim_id, status, charge, paid, pccn, f8 FROM src
               ), entries AS (
                   INSERT INTO ledger_entries (claim_id, service_line_id, remittance_id, claim_posting_id, kind, group_code, reason_code, amount, actor)
                   SELECT e.claim_id, e.line_id, $1, src.id, e.kind, e.grp, e.reason, e.amount, $8
                   FROM UNNEST($9::int[], $10::bigint[], $11::bigint[], $12::text[], $13::text[], $14::text[], $15::numeric[])
                        WITH ORDINALITY AS e(ord, claim_id, line_id, kind, grp, reason, amount, n)
                   JOIN src ON src.ord = e.ord
                   ORDER BY e.n
               )
               SELECT id AS "id!" FROM src ORDER BY ord"#,
            remittance_id,
            &self.p_claim,
            &self.p_status,
            &self.p_charge,
            &self.p_paid,
            &self.p_pccn as &[Option<String>],
            &self.p_f8 as &[Option<String>],
            SYSTEM_ACTOR,
            &self.e_posting,
            &self.e_claim,
            &self.e_line as &[Option<i64>],
            &self.e_kind as &[&str],
            &self.e_group as &[Option<String>],
            &self.e_reason as &[Option<String>],
            &self.e_amount,
        )
        .fetch_all(conn)
        .await
    }
}

/// PLB pairs as provider-level entries; tied to a claim when the reference
/// names one exactly.
pub async fn provider_adjustments(conn: &mut PgConnection, remittance_id: i64, plb: &[ProviderAdjustment]) -> Result<(), sqlx::Error> {
    if plb.is_empty() {
        return Ok(());
    }
    let reasons: Vec<&str> = plb.iter().map(|p| p.reason.as_str()).collect();
    let refs: Vec<Option<&str>> = plb.iter().map(|p| p.reference.as_deref()).collect();
    let amounts: Vec<Decimal> = plb.iter().map(|p| p.amount).collect();
    let memos: Vec<String> = plb.iter().map(|p| format!("PLB {} period {}", p.provider_id, p.fiscal_period_date)).collect();
    sqlx::query!(
        "INSERT INTO ledger_entries (claim_id, remittance_id, kind, reason_code, amount, actor, memo)
         SELECT c.id, $1, 'provider_adjustment', u.reason, u.amount, $6, u.memo || COALESCE(' ref ' || u.ref, '')
         FROM UNNEST($2::text[], $3::text[], $4::numeric[], $5::text[]) WITH ORDINALITY AS u(reason, ref, amount, memo, ord)
         LEFT JOIN claims c ON c.claim_id = u.ref
         ORDER BY u.ord",
        remittance_id,
        &reasons as &[&str],
        &refs as &[Option<&str>],
        &amounts,
        &memos,
        SYSTEM_ACTOR,
    )
    .execute(conn)
    .await?;
    Ok(())
}
