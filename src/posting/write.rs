//! Set-based writes: rows gathered in column vectors and inserted with one
//! `INSERT ... SELECT FROM UNNEST(...)` per table.

use rust_decimal::Decimal;
use sqlx::PgConnection;

use super::matching::NoMatch;
use super::plan::ClaimPlan;
use super::SYSTEM_ACTOR;
use crate::model::{Claim, ProviderAdjustment};

/// Claim postings, entries and denials of one remittance, not yet written.
pub struct Batch {
    remittance_id: i64,
    // claim_postings
    p_claim: Vec<i64>,
    p_status: Vec<String>,
    p_charge: Vec<Decimal>,
    p_paid: Vec<Decimal>,
    p_pccn: Vec<Option<String>>,
    p_f8: Vec<Option<String>>,
    // ledger_entries (by posting index)
    e_posting: Vec<i32>,
    e_claim: Vec<i64>,
    e_line: Vec<Option<i64>>,
    e_kind: Vec<&'static str>,
    e_group: Vec<Option<String>>,
    e_reason: Vec<Option<String>>,
    e_amount: Vec<Decimal>,
    // denials
    d_posting: Vec<i32>,
    d_claim: Vec<i64>,
    d_line: Vec<Option<i64>>,
    d_amount: Vec<Decimal>,
    d_reasons: Vec<String>,
}

impl Batch {
    pub fn new(remittance_id: i64) -> Self {
        Batch {
            remittance_id,
            p_claim: Vec::new(),
            p_status: Vec::new(),
            p_charge: Vec::new(),
            p_paid: Vec::new(),
            p_pccn: Vec::new(),
            p_f8: Vec::new(),
            e_posting: Vec::new(),
            e_claim: Vec::new(),
            e_line: Vec::new(),
            e_kind: Vec::new(),
            e_group: Vec::new(),
            e_reason: Vec::new(),
            e_amount: Vec::new(),
            d_posting: Vec::new(),
            d_claim: Vec::new(),
            d_line: Vec::new(),
            d_amount: Vec::new(),
            d_reasons: Vec::new(),
        }
    }

    /// Adds one matched claim; `line_ids[i]` is the row of the claim's i-th service.
    pub fn add_claim(&mut self, claim_id: i64, claim: &Claim, line_ids: &[Option<i64>], plan: ClaimPlan) {
        let posting = i32::try_from(self.p_claim.len() + 1).unwrap_or(i32::MAX);
        self.p_claim.push(claim_id);
        self.p_status.push(claim.status_code.to_string());
        self.p_charge.push(claim.charge);
        self.p_paid.push(claim.paid);
        self.p_pccn.push(claim.payer_claim_control_number.as_ref().map(ToString::to_string));
        self.p_f8.push(claim.original_reference.as_ref().map(ToString::to_string));
        let line_of = |i: Option<usize>| i.and_then(|i| line_ids.get(i).copied().flatten());
        for e in plan.entries {
            self.e_posting.push(posting);
            self.e_claim.push(claim_id);
            self.e_line.push(line_of(e.line));
            self.e_kind.push(e.kind.as_str());
            self.e_group.push(e.group_code);
            self.e_reason.push(e.reason_code);
            self.e_amount.push(e.amount);
        }
        for d in plan.denials {
            self.d_posting.push(posting);
            self.d_claim.push(claim_id);
            self.d_line.push(line_of(d.line));
            self.d_amount.push(d.amount);
            // Joined here and split in SQL: UNNEST cannot take ragged arrays.
            self.d_reasons.push(d.reason_codes.join(","));
        }
    }

    /// Writes postings, entries, denials and their audit rows in one
    /// statement. Postings are numbered 1..n in the batch; `src` gives each
    /// its id up front, so entries and denials can refer to it. Foreign keys
    /// are checked at the end of the statement, after every CTE has run.
    pub async fn write(self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        if self.p_claim.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "WITH src AS MATERIALIZED (
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
             ), opened AS (
                 INSERT INTO denials (claim_id, service_line_id, claim_posting_id, amount, reason_codes)
                 SELECT d.claim_id, d.line_id, src.id, d.amount, COALESCE(string_to_array(NULLIF(d.reasons, ''), ','), '{}')
                 FROM UNNEST($16::int[], $17::bigint[], $18::bigint[], $19::numeric[], $20::text[]) AS d(ord, claim_id, line_id, amount, reasons)
                 JOIN src ON src.ord = d.ord
                 RETURNING id, claim_id, amount, reason_codes
             )
             INSERT INTO audit_log (actor, action, claim_id, denial_id, amount, detail)
             SELECT $8, 'denial_opened', claim_id, id, amount, jsonb_build_object('reason_codes', reason_codes) FROM opened",
        )
        .bind(self.remittance_id)
        .bind(&self.p_claim)
        .bind(&self.p_status)
        .bind(&self.p_charge)
        .bind(&self.p_paid)
        .bind(&self.p_pccn)
        .bind(&self.p_f8)
        .bind(SYSTEM_ACTOR)
        .bind(&self.e_posting)
        .bind(&self.e_claim)
        .bind(&self.e_line)
        .bind(&self.e_kind)
        .bind(&self.e_group)
        .bind(&self.e_reason)
        .bind(&self.e_amount)
        .bind(&self.d_posting)
        .bind(&self.d_claim)
        .bind(&self.d_line)
        .bind(&self.d_amount)
        .bind(&self.d_reasons)
        .execute(conn)
        .await?;
        Ok(())
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
    sqlx::query(
        "INSERT INTO ledger_entries (claim_id, remittance_id, kind, reason_code, amount, actor, memo)
         SELECT c.id, $1, 'provider_adjustment', u.reason, u.amount, $6, u.memo || COALESCE(' ref ' || u.ref, '')
         FROM UNNEST($2::text[], $3::text[], $4::numeric[], $5::text[]) WITH ORDINALITY AS u(reason, ref, amount, memo, ord)
         LEFT JOIN claims c ON c.claim_id = u.ref
         ORDER BY u.ord",
    )
    .bind(remittance_id)
    .bind(&reasons)
    .bind(&refs)
    .bind(&amounts)
    .bind(&memos)
    .bind(SYSTEM_ACTOR)
    .execute(conn)
    .await?;
    Ok(())
}

/// Claims that matched nothing, kept whole with the reason and what is needed.
pub async fn unmatched(conn: &mut PgConnection, remittance_id: i64, items: &[(&Claim, NoMatch)]) -> Result<(), sqlx::Error> {
    if items.is_empty() {
        return Ok(());
    }
    let refs: Vec<&str> = items.iter().map(|(c, _)| c.patient_control_number.as_str()).collect();
    let reasons: Vec<&str> = items.iter().map(|(_, n)| n.reason.as_str()).collect();
    let needed: Vec<&str> = items.iter().map(|(_, n)| n.needed.as_str()).collect();
    let claims: Vec<serde_json::Value> = items.iter().map(|(c, _)| serde_json::to_value(c).unwrap_or(serde_json::Value::Null)).collect();
    sqlx::query(
        "INSERT INTO unmatched_claims (remittance_id, claim_ref, reason, needed, claim)
         SELECT $1, u.r, u.reason, u.needed, u.claim FROM UNNEST($2::text[], $3::text[], $4::text[], $5::jsonb[]) AS u(r, reason, needed, claim)",
    )
    .bind(remittance_id)
    .bind(&refs)
    .bind(&reasons)
    .bind(&needed)
    .bind(&claims)
    .execute(conn)
    .await?;
    Ok(())
}
