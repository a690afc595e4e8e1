//! A remittance as people read it (Medicare's remittance viewer and
//! OpenDental's printed ERA are the models): payer, payee and payment; per
//! claim its ids, patient, status and money; per service line billed,
//! allowed, deductible, coinsurance, copay, the other group/CARC
//! adjustments and paid; provider-level adjustments; totals that balance;
//! and a glossary of every code used.
//!
//! It is built from the parsed transaction, so it shows what the payer
//! sent, whatever posted. The patient's name appears here because this is
//! the document staff work from; it never goes into a URL or a log.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgPool;

use super::codes::{self, List};
use super::pdf::{Column, Layout};
use crate::model::{Adjustment, Claim, Person, Service, Transaction};

/// One remittance (one 835 transaction set), ready to print.
#[derive(Debug, Clone, Serialize)]
pub struct Readable {
    pub payer: String,
    pub payer_id: Option<String>,
    pub payee: String,
    pub payee_id: Option<String>,
    pub trace: String,
    /// BPR04: CHK, ACH, NON, ...
    pub method: String,
    pub amount: Decimal,
    pub credit_debit: String,
    pub date: Option<NaiveDate>,
    pub claims: Vec<ClaimPart>,
    pub provider_adjustments: Vec<ProviderLine>,
    pub totals: Totals,
    pub glossary: Vec<Gloss>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClaimPart {
    /// CLP01: the provider's claim id.
    pub claim_id: String,
    /// CLP07: the payer's control number.
    pub payer_control: Option<String>,
    pub patient: String,
    /// CLP02 with its meaning.
    pub status: String,
    pub charge: Decimal,
    pub paid: Decimal,
    pub patient_responsibility: Decimal,
    /// Claim-level adjustments, e.g. `CO-45 90.00`.
    pub adjustments: Vec<String>,
    /// Claim-level remark codes (MOA, MIA).
    pub remarks: Vec<String>,
    pub lines: Vec<LinePart>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LinePart {
    pub date: Option<NaiveDate>,
    /// `HC:99213-25`.
    pub procedure: String,
    pub billed: Decimal,
    pub allowed: Option<Decimal>,
    pub deductible: Decimal,
    pub coinsurance: Decimal,
    pub copay: Decimal,
    /// Every other adjustment, e.g. `CO-45 90.00`.
    pub other: Vec<String>,
    pub paid: Decimal,
    pub remarks: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProviderLine {
    pub reason: String,
    pub reference: Option<String>,
    /// Positive reduces the payment.
    pub amount: Decimal,
}

/// What the remittance adds up to; `balances` says the claims' payments
/// less the provider adjustments equal the payment (BPR02).
#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    pub charge: Decimal,
    pub claims_paid: Decimal,
    pub patient_responsibility: Decimal,
    pub provider_adjustments: Decimal,
    pub payment: Decimal,
    pub balances: bool,
}

/// A code used in the remittance and what it means.
#[derive(Debug, Clone, Serialize)]
pub struct Gloss {
    pub list: List,
    pub code: String,
    pub description: String,
}

/// CLP02 in words (the 5010 guide's list).
fn claim_status(code: &str) -> String {
    let meaning = match code {
        "1" => "processed as primary",
        "2" => "processed as secondary",
        "3" => "processed as tertiary",
        "4" => "denied",
        "19" => "processed as primary, forwarded to additional payer(s)",
        "20" => "processed as secondary, forwarded to additional payer(s)",
        "21" => "processed as tertiary, forwarded to additional payer(s)",
        "22" => "reversal of previous payment",
        "23" => "not our claim, forwarded to additional payer(s)",
        "25" => "predetermination pricing only, no payment",
        _ => return code.to_string(),
    };
    format!("{code} {meaning}")
}

fn name_of(p: Option<&Person>) -> String {
    let Some(p) = p else { return String::new() };
    match (&p.last_name, &p.first_name) {
        (Some(last), Some(first)) => format!("{last}, {first}"),
        (Some(last), None) => last.to_string(),
        (None, Some(first)) => first.to_string(),
        (None, None) => String::new(),
    }
}

fn adjustment(a: &Adjustment) -> String {
    format!("{}-{} {:.2}", a.group, a.reason, a.amount)
}

fn line(s: &Service) -> LinePart {
    let pr = |reason: &str| s.adjustments.iter().filter(|a| a.group.as_str() == "PR" && a.reason.as_str() == reason).map(|a| a.amount).sum();
    let shown_apart = |a: &&Adjustment| a.group.as_str() == "PR" && matches!(a.reason.as_str(), "1" | "2" | "3");
    let mut procedure = format!("{}:{}", s.procedure_qualifier, s.procedure);
    for m in &s.modifiers {
        procedure.push('-');
        procedure.push_str(m);
    }
    LinePart {
        date: s.service_date.or(s.service_period_start),
        procedure,
        billed: s.charge,
        allowed: s.allowed,
        deductible: pr("1"),
        coinsurance: pr("2"),
        copay: pr("3"),
        other: s.adjustments.iter().filter(|a| !shown_apart(a)).map(adjustment).collect(),
        paid: s.paid,
        remarks: s.remarks.iter().map(|r| r.to_string()).collect(),
    }
}

fn claim(c: &Claim) -> ClaimPart {
    ClaimPart {
        claim_id: c.patient_control_number.to_string(),
        payer_control: c.payer_claim_control_number.as_ref().map(|t| t.to_string()),
        patient: name_of(c.patient.as_ref()),
        status: claim_status(&c.status_code),
        charge: c.charge,
        paid: c.paid,
        patient_responsibility: c.patient_responsibility.unwrap_or_default(),
        adjustments: c.adjustments.iter().map(adjustment).collect(),
        remarks: c.remarks.iter().map(|r| r.to_string()).collect(),
        lines: c.services.iter().map(line).collect(),
    }
}

/// The readable form of `t`, its glossary listing the codes used without
/// their descriptions (see [`describe`]).
pub fn build(t: &Transaction) -> Readable {
    let claims: Vec<ClaimPart> = t.claims.iter().map(claim).collect();
    let provider_adjustments: Vec<ProviderLine> = t
        .provider_adjustments
        .iter()
        .map(|p| ProviderLine { reason: p.reason.to_string(), reference: p.reference.as_ref().map(|r| r.to_string()), amount: p.amount })
        .collect();
    let claims_paid: Decimal = claims.iter().map(|c| c.paid).sum();
    let adjusted: Decimal = provider_adjustments.iter().map(|p| p.amount).sum();
    let signed_payment = if t.payment.credit_debit.as_str() == "D" { -t.payment.amount } else { t.payment.amount };
    let totals = Totals {
        charge: claims.iter().map(|c| c.charge).sum(),
        claims_paid,
        patient_responsibility: claims.iter().map(|c| c.patient_responsibility).sum(),
        provider_adjustments: adjusted,
        payment: t.payment.amount,
        balances: claims_paid - adjusted == signed_payment,
    };
    let mut used = BTreeSet::new();
    for c in &t.claims {
        for a in c.adjustments.iter().chain(c.services.iter().flat_map(|s| s.adjustments.iter())) {
            used.insert((List::Group, a.group.to_string()));
            used.insert((List::Carc, a.reason.to_string()));
        }
        for r in c.remarks.iter().chain(c.services.iter().flat_map(|s| s.remarks.iter())) {
            used.insert((List::Rarc, r.to_string()));
        }
    }
    for p in &t.provider_adjustments {
        used.insert((List::Plb, p.reason.to_string()));
    }
    Readable {
        payer: t.payer.name.to_string(),
        payer_id: t.payer.id.as_ref().map(|i| i.to_string()),
        payee: t.payee.name.to_string(),
        payee_id: t.payee.id.as_ref().map(|i| i.to_string()),
        trace: t.trace.number.to_string(),
        method: t.payment.method.to_string(),
        amount: t.payment.amount,
        credit_debit: t.payment.credit_debit.to_string(),
        date: t.payment.date,
        claims,
        provider_adjustments,
        totals,
        glossary: used.into_iter().map(|(list, code)| Gloss { list, code, description: String::new() }).collect(),
    }
}

/// What a code the table lacks says in the glossary.
pub const UNKNOWN_CODE: &str = "(not in the code table: load the published list with remitd codes import)";

/// Fills in the glossary's descriptions from the code table.
pub async fn describe(pool: &PgPool, r: &mut Readable) -> Result<(), sqlx::Error> {
    let wanted: Vec<(List, String)> = r.glossary.iter().map(|g| (g.list, g.code.clone())).collect();
    let known = codes::describe(pool, &wanted).await?;
    for g in &mut r.glossary {
        g.description = known.get(&(g.list, g.code.clone())).cloned().unwrap_or_else(|| UNKNOWN_CODE.to_string());
    }
    Ok(())
}

/// Where a posted remittance came from: its kept file and which
/// transaction in it.
#[derive(Debug, Clone)]
pub struct Source {
    pub kept_at: Option<String>,
    pub interchange_control: String,
    pub transaction_control: String,
    pub trace: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("remittance #{0} does not exist")]
    NoRemittance(i64),
    #[error("remittance #{0}'s file was fed by hand, so remitd does not keep it; read that file with remitd parse")]
    NotKept(i64),
    #[error("remittance #{id}'s file is no longer at {path}: {source}")]
    Gone { id: i64, path: String, source: std::io::Error },
    #[error("remittance #{id}'s file at {path} no longer reads: {detail}")]
    Unreadable { id: i64, path: String, detail: String },
    #[error("remittance #{id}'s file at {path} no longer holds its transaction (ISA13 {interchange}, ST02 {transaction})")]
    Missing { id: i64, path: String, interchange: String, transaction: String },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// Where remittance `id` came from.
pub async fn source(pool: &PgPool, id: i64) -> Result<Source, ReadError> {
    sqlx::query_as!(
        Source,
        "SELECT f.kept_at, r.interchange_control, r.transaction_control, r.trace_number AS trace
         FROM remittances r JOIN ingested_files f ON f.id = r.file_id WHERE r.id = $1",
        id
    )
    .fetch_optional(pool)
    .await?
    .ok_or(ReadError::NoRemittance(id))
}

/// Reads remittance `id` from the file the daemon kept, with its glossary.
pub async fn load(pool: &PgPool, id: i64) -> Result<Readable, ReadError> {
    let src = source(pool, id).await?;
    let path = src.kept_at.clone().ok_or(ReadError::NotKept(id))?;
    let t = tokio::task::spawn_blocking(move || transaction_in(id, Path::new(&path), &src)).await.map_err(|e| ReadError::Unreadable {
        id,
        path: String::new(),
        detail: e.to_string(),
    })??;
    let mut r = build(&t);
    describe(pool, &mut r).await?;
    Ok(r)
}

fn transaction_in(id: i64, path: &Path, src: &Source) -> Result<Transaction, ReadError> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| ReadError::Gone { id, path: shown.clone(), source })?;
    let doc = crate::parse::FileDocument::read(&shown, file).map_err(|e| ReadError::Unreadable { id, path: shown.clone(), detail: e.to_string() })?;
    doc.interchanges
        .into_iter()
        .filter(|i| i.header.control_number.as_str() == src.interchange_control)
        .flat_map(|i| i.groups.into_iter().flat_map(|g| g.transactions))
        .find(|t| t.control_number.as_str() == src.transaction_control && t.trace.number.as_str() == src.trace)
        .ok_or_else(|| ReadError::Missing { id, path: shown, interchange: src.interchange_control.clone(), transaction: src.transaction_control.clone() })
}

/// A posted remittance in a listing.
#[derive(Debug, Serialize)]
pub struct Posted {
    pub id: i64,
    pub trace_number: String,
    pub payer_name: String,
    pub payment_amount: Decimal,
    pub payment_date: Option<NaiveDate>,
    pub posted_at: DateTime<Utc>,
    /// Whether the daemon kept its file (so `show` can read it).
    pub kept: bool,
}

pub async fn list(pool: &PgPool) -> Result<Vec<Posted>, sqlx::Error> {
    sqlx::query_as!(
        Posted,
        r#"SELECT r.id, r.trace_number, r.payer_name, r.payment_amount, r.payment_date, r.posted_at, f.kept_at IS NOT NULL AS "kept!"
           FROM remittances r JOIN ingested_files f ON f.id = r.file_id ORDER BY r.posted_at DESC, r.id DESC"#
    )
    .fetch_all(pool)
    .await
}

fn money(d: Decimal) -> String {
    format!("{d:.2}")
}

fn opt_money(d: Option<Decimal>) -> String {
    d.map(money).unwrap_or_default()
}

/// The remittance as a PDF (A4 landscape).
pub fn pdf(r: &Readable) -> Vec<u8> {
    let mut l = Layout::new(&format!("Remittance {} from {}", r.trace, r.payer), true);
    let id = |name: &str, id: &Option<String>| id.as_ref().map(|i| format!("{name} ({i})")).unwrap_or_else(|| name.to_string());
    l.pairs(&[
        ("Payer", id(&r.payer, &r.payer_id)),
        ("Payee", id(&r.payee, &r.payee_id)),
        ("Trace", r.trace.clone()),
        (
            "Payment",
            format!(
                "{} {} ({}){}",
                money(r.amount),
                if r.credit_debit == "D" { "debit" } else { "credit" },
                r.method,
                r.date.map(|d| format!(" on {d}")).unwrap_or_default()
            ),
        ),
    ]);
    let columns = [
        Column::left("Date", 1.1),
        Column::left("Procedure", 1.4),
        Column::right("Billed", 1.0),
        Column::right("Allowed", 1.0),
        Column::right("Deductible", 1.0),
        Column::right("Coinsurance", 1.0),
        Column::right("Copay", 0.9),
        Column::left("Other adjustments", 2.4),
        Column::right("Paid", 1.0),
        Column::left("Remarks", 1.0),
    ];
    for c in &r.claims {
        l.heading(&format!("Claim {} · {} · {}", c.claim_id, c.patient, c.status));
        let mut facts = vec![("Charge", money(c.charge)), ("Paid", money(c.paid)), ("Patient responsibility", money(c.patient_responsibility))];
        if let Some(p) = &c.payer_control {
            facts.push(("Payer's claim number", p.clone()));
        }
        if !c.remarks.is_empty() {
            facts.push(("Claim remarks", c.remarks.join(" ")));
        }
        if !c.adjustments.is_empty() {
            facts.push(("Claim adjustments", c.adjustments.join("; ")));
        }
        l.pairs(&facts);
        if !c.lines.is_empty() {
            let rows: Vec<Vec<String>> = c
                .lines
                .iter()
                .map(|s| {
                    vec![
                        s.date.map(|d| d.to_string()).unwrap_or_default(),
                        s.procedure.clone(),
                        money(s.billed),
                        opt_money(s.allowed),
                        money(s.deductible),
                        money(s.coinsurance),
                        money(s.copay),
                        s.other.join("; "),
                        money(s.paid),
                        s.remarks.join(" "),
                    ]
                })
                .collect();
            l.table(&columns, &rows);
        }
    }
    if !r.provider_adjustments.is_empty() {
        l.heading("Provider adjustments");
        let rows: Vec<Vec<String>> =
            r.provider_adjustments.iter().map(|p| vec![p.reason.clone(), p.reference.clone().unwrap_or_default(), money(p.amount)]).collect();
        l.table(&[Column::left("Reason", 1.0), Column::left("Reference", 3.0), Column::right("Amount", 1.0)], &rows);
    }
    l.heading("Totals");
    let t = &r.totals;
    l.pairs(&[
        ("Charged", money(t.charge)),
        ("Paid on claims", money(t.claims_paid)),
        ("Provider adjustments", money(t.provider_adjustments)),
        ("Payment", money(t.payment)),
        ("Patient responsibility", money(t.patient_responsibility)),
        (
            "Balances",
            if t.balances {
                "yes: claims paid less provider adjustments equal the payment".into()
            } else {
                "NO: claims paid less provider adjustments differ from the payment".into()
            },
        ),
    ]);
    l.heading("Glossary of the codes used");
    let rows: Vec<Vec<String>> = r.glossary.iter().map(|g| vec![g.list.as_str().to_string(), g.code.clone(), g.description.clone()]).collect();
    l.table(&[Column::left("List", 0.6), Column::left("Code", 0.6), Column::left("Description", 8.0)], &rows);
    l.finish()
}
