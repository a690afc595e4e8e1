//! `remitd claims import`: the claims a remittance can be matched against.
//!
//! One row per service line:
//! `claim_id,account_number,patient_name,payer_id,service_date,procedure,line_charge,last_billed_date,times_billed`
//! with an optional tenth column `line_control_number` (REF*6R as sent on the
//! 837). Rows of one claim must agree on the claim-level columns. The whole
//! file is checked before anything is written (every value against what its
//! column holds: [`super::fields`], [`super::check`]), then written in one
//! database transaction with set-based upserts: a bad row refuses the file
//! and nothing is half-imported. Re-importing a claim updates it, with one
//! exception that protects the money: a claim that has postings keeps its
//! charge and its lines unless the import is an amendment (see
//! [`super::amend`]), which posts each change as a charge correction.
//! An account number belongs to one patient: two names for one account, in
//! the file or against the database, refuse the file (an amendment may
//! rename the account).

use std::collections::HashMap;
use std::io::Read;

use chrono::NaiveDate;
use csv::ByteRecord;
use rust_decimal::Decimal;
use sqlx::PgPool;

use super::amend::{changes, Change, StoredLine};
use super::check::{Refusals, Row, RowProblem, LINES_PER_CLAIM_MAX};
use super::fields::AMOUNT_MAX;
use crate::denials::settle::{self, Source};
use crate::ledger::charges::{correct, Correction};
use crate::ledger::{self, audit, Audit, Hold, SYSTEM_ACTOR};

pub const HEADER: [&str; 9] =
    ["claim_id", "account_number", "patient_name", "payer_id", "service_date", "procedure", "line_charge", "last_billed_date", "times_billed"];
pub const OPTIONAL: &str = "line_control_number";

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The rows the check refused, each with its line.
    #[error("{0}")]
    Rows(Refusals),
    /// A refusal once the database is read (a posted claim's money, an
    /// account's name), naming the line.
    #[error("line {line}: {message}")]
    Row { line: u64, message: String },
    #[error("header must be {expected}: {problem}")]
    Header { expected: String, problem: String },
    #[error("cannot read the CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("{0}")]
    Refused(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// An explicit amendment: who changes the money of posted claims, and why.
#[derive(Debug, Clone, Copy)]
pub struct Amend<'a> {
    pub actor: &'a str,
    pub reason: &'a str,
}

/// One service line of a claim, as imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportLine {
    pub procedure: String,
    pub modifiers: Vec<String>,
    pub charge: Decimal,
    pub line_control_number: Option<String>,
    /// CSV line of the row, for messages.
    pub csv_line: u64,
}

/// One claim, as imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportClaim {
    pub claim_id: String,
    pub account_number: String,
    pub patient_name: String,
    pub payer_code: String,
    pub service_date: NaiveDate,
    pub last_billed_date: Option<NaiveDate>,
    pub times_billed: i32,
    pub lines: Vec<ImportLine>,
    /// CSV line of the claim's first row, for messages.
    pub first_line: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub claims: usize,
    pub lines: usize,
}

/// Reads and checks the whole CSV; nothing is written.
///
/// Every row is checked, value by value (see [`super::fields`]), and rows
/// are grouped into claims: rows of one claim agree on its claim-level
/// columns, an account has one patient name, a claim has at most
/// [`LINES_PER_CLAIM_MAX`] lines and a charge the ledger can hold. Any
/// refusal refuses the file, with every refusal found (each naming its
/// line); a row with a bad value is not compared with others.
pub fn read(src: impl Read) -> Result<Vec<ImportClaim>, ImportError> {
    // No trimming here: fields::text drops the spaces around text values,
    // and everything else is refused as found. Flexible, so that a row of
    // another length is refused with its line like any other, not by the
    // reader halfway through the file.
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(src);
    let headers = rdr.byte_headers()?.clone();
    let found: Vec<String> = headers.iter().map(|h| String::from_utf8_lossy(h).trim_matches(' ').to_string()).collect();
    // Told by position, never quoted: a file without its header has a row
    // of patient data in its place.
    let columns: Vec<&str> = HEADER.iter().copied().chain([OPTIONAL]).collect();
    let problem = match (0..found.len().min(columns.len())).find(|&i| found[i] != columns[i]) {
        Some(i) => Some(format!("column {} is not {}", i + 1, columns[i])),
        None if !(HEADER.len()..=columns.len()).contains(&found.len()) => Some(format!("it has {} columns", found.len())),
        None => None,
    };
    if let Some(problem) = problem {
        return Err(ImportError::Header { expected: format!("{} (optionally followed by {OPTIONAL})", HEADER.join(",")), problem });
    }
    let mut claims = Claims::default();
    let mut refusals = Refusals::default();
    let mut record = ByteRecord::new();
    while rdr.read_byte_record(&mut record)? {
        let line = record.position().map_or(0, |p| p.line());
        match Row::check(&record, found.len()) {
            Ok(row) => {
                if let Err(problem) = claims.add(&row, line) {
                    refusals.push(line, problem);
                }
            }
            Err(problems) => problems.into_iter().for_each(|p| refusals.push(line, p)),
        }
    }
    if !refusals.is_empty() {
        return Err(ImportError::Rows(refusals));
    }
    Ok(claims.claims)
}

/// Rows grouped into claims, in file order, with what the checks across
/// rows need.
#[derive(Default)]
struct Claims {
    claims: Vec<ImportClaim>,
    /// Claim id → its place in `claims`.
    index: HashMap<String, usize>,
    /// The claims' charges so far, by place.
    totals: Vec<Decimal>,
    /// Account number → (patient name, first CSV line naming it).
    accounts: HashMap<String, (String, u64)>,
}

impl Claims {
    /// Adds a checked row (CSV line `line`) to its claim, or says why not.
    fn add(&mut self, row: &Row<'_>, line: u64) -> Result<(), RowProblem> {
        match self.accounts.get(row.account_number) {
            // No names in the message: it may be read where patient data must not be.
            Some((name, first)) if name != row.patient_name => {
                return Err(RowProblem::AccountName { account: row.account_number.to_string(), first_line: *first });
            }
            Some(_) => {}
            None => {
                self.accounts.insert(row.account_number.to_string(), (row.patient_name.to_string(), line));
            }
        }
        let import_line = ImportLine {
            procedure: row.procedure.clone(),
            modifiers: row.modifiers.clone(),
            charge: row.charge,
            line_control_number: row.line_control_number.map(str::to_string),
            csv_line: line,
        };
        let Some(&i) = self.index.get(row.claim_id) else {
            self.index.insert(row.claim_id.to_string(), self.claims.len());
            self.totals.push(row.charge);
            self.claims.push(ImportClaim {
                claim_id: row.claim_id.to_string(),
                account_number: row.account_number.to_string(),
                patient_name: row.patient_name.to_string(),
                payer_code: row.payer_code.to_string(),
                service_date: row.service_date,
                last_billed_date: row.last_billed_date,
                times_billed: row.times_billed,
                lines: vec![import_line],
                first_line: line,
            });
            return Ok(());
        };
        let c = &mut self.claims[i];
        let differences = c.differences(row);
        if !differences.is_empty() {
            return Err(RowProblem::ClaimDiffers { claim_id: c.claim_id.clone(), columns: differences, first_line: c.first_line });
        }
        // Each limit is refused once, on the row that passes it.
        let full = c.lines.len() == LINES_PER_CLAIM_MAX;
        c.lines.push(import_line);
        let before = self.totals[i];
        self.totals[i] += row.charge;
        if full {
            return Err(RowProblem::TooManyLines { claim_id: c.claim_id.clone() });
        }
        if before <= AMOUNT_MAX && self.totals[i] > AMOUNT_MAX {
            return Err(RowProblem::ClaimTooLarge { claim_id: c.claim_id.clone() });
        }
        Ok(())
    }
}

impl ImportClaim {
    /// The claim-level columns in which `row` differs from this claim
    /// (names only: the patient's name is one of them).
    fn differences(&self, row: &Row<'_>) -> Vec<&'static str> {
        let same = [
            ("account_number", self.account_number == row.account_number),
            ("patient_name", self.patient_name == row.patient_name),
            ("payer_id", self.payer_code == row.payer_code),
            ("service_date", self.service_date == row.service_date),
            ("last_billed_date", self.last_billed_date == row.last_billed_date),
            ("times_billed", self.times_billed == row.times_billed),
        ];
        same.into_iter().filter(|(_, same)| !same).map(|(column, _)| column).collect()
    }
}

/// Writes checked claims in one transaction. A claim with postings whose
/// money the file would change, or an account the database knows under
/// another patient name, refuses the whole file.
pub async fn write(pool: &PgPool, claims: &[ImportClaim]) -> Result<ImportSummary, ImportError> {
    import(pool, claims, None).await
}

/// [`write()`], allowing `amend` to change the money of posted claims (each
/// change a charge correction in the ledger, audited) and to rename
/// accounts.
pub async fn write_amending(pool: &PgPool, claims: &[ImportClaim], amend: Amend<'_>) -> Result<ImportSummary, ImportError> {
    if amend.reason.trim().is_empty() {
        return Err(ImportError::Refused("an amendment needs a reason (--reason TEXT)".into()));
    }
    import(pool, claims, Some(amend)).await
}

/// A claim already in the database, with its lines.
struct Stored {
    id: i64,
    posted: bool,
    lines: Vec<StoredLine>,
}

/// The claims of `ids` (claim ids as imported) the database has.
async fn stored(conn: &mut sqlx::PgConnection, ids: &[&str]) -> Result<HashMap<String, Stored>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT c.id, c.claim_id,
                  claim_has_postings(c.id) AS "posted!",
                  l.id AS "line_id?", l.line_number AS "line_number?", l.removed_at IS NOT NULL AS "removed?",
                  l.charge + COALESCE((SELECT sum(e.amount) FROM ledger_entries e
                                       WHERE e.service_line_id = l.id AND COALESCE(e.reversed_kind, e.kind) = 'charge_correction'), 0) AS "charge?"
           FROM claims c LEFT JOIN service_lines l ON l.claim_id = c.id
           WHERE c.claim_id = ANY($1)
           ORDER BY c.id, l.line_number"#,
        ids as &[&str],
    )
    .fetch_all(conn)
    .await?;
    let mut out: HashMap<String, Stored> = HashMap::new();
    for r in rows {
        let s = out.entry(r.claim_id).or_insert(Stored { id: r.id, posted: r.posted, lines: Vec::new() });
        if let (Some(id), Some(line_number), Some(charge), Some(removed)) = (r.line_id, r.line_number, r.charge, r.removed) {
            s.lines.push(StoredLine { id, line_number, charge, removed });
        }
    }
    Ok(out)
}

async fn import(pool: &PgPool, claims: &[ImportClaim], amend: Option<Amend<'_>>) -> Result<ImportSummary, ImportError> {
    let mut tx = ledger::begin(pool, Hold::for_claims(claims.len())).await?;
    let hold = Hold::for_claims(claims.len());
    let ids: Vec<&str> = claims.iter().map(|c| c.claim_id.as_str()).collect();
    let before = stored(&mut tx, &ids).await?;
    ledger::lock_claims(&mut tx, hold, &before.values().map(|s| s.id).collect::<Vec<_>>()).await?;
    // Read again under the claims' locks: what is posted now is what counts.
    let before = stored(&mut tx, &ids).await?;

    // Money changes of posted claims, and accounts renamed.
    let mut amended: Vec<(&ImportClaim, i64, Vec<Change>)> = Vec::new();
    for c in claims {
        let Some(s) = before.get(&c.claim_id).filter(|s| s.posted) else { continue };
        let changed = changes(&s.lines, c);
        if let (Some(first), None) = (changed.first(), amend) {
            return Err(ImportError::Row {
                line: first.csv_line(c),
                message: format!(
                    "{}, but the claim has postings: its money changes only by an amendment (--amend --actor NAME --reason TEXT), posted as a charge correction",
                    first.describe(&c.claim_id)
                ),
            });
        }
        if !changed.is_empty() {
            amended.push((c, s.id, changed));
        }
    }
    let mut numbers: Vec<&str> = claims.iter().map(|c| c.account_number.as_str()).collect();
    numbers.sort_unstable();
    numbers.dedup();
    let names: HashMap<&str, &str> = claims.iter().map(|c| (c.account_number.as_str(), c.patient_name.as_str())).collect();
    let known =
        sqlx::query!("SELECT account_number, patient_name FROM accounts WHERE account_number = ANY($1)", &numbers as &[&str]).fetch_all(&mut *tx).await?;
    let renamed: Vec<String> =
        known.into_iter().filter(|a| names.get(a.account_number.as_str()).is_some_and(|n| *n != a.patient_name)).map(|a| a.account_number).collect();
    if let (Some(account), None) = (renamed.first(), amend) {
        let line = claims.iter().find(|c| &c.account_number == account).map_or(0, |c| c.first_line);
        return Err(ImportError::Row {
            line,
            message: format!("account {account} belongs to a patient with another name in the database; renaming an account takes an amendment (--amend --actor NAME --reason TEXT)"),
        });
    }
    // A person imports on their own name, with the scope claims' money
    // takes; the daemon's login and the owner import as `system`.
    let acting = crate::actors::acting(&mut tx).await?;
    let actor = amend.map_or(acting.as_str(), |a| a.actor);
    if amend.is_some() || actor != SYSTEM_ACTOR {
        crate::actors::require(&mut tx, actor, crate::actors::Scope::PaymentWrite).await.map_err(|e| ImportError::Refused(e.to_string()))?;
    }

    let (numbers, names): (Vec<&str>, Vec<&str>) = names.into_iter().unzip();
    sqlx::query!(
        "INSERT INTO accounts (account_number, patient_name) SELECT * FROM UNNEST($1::text[], $2::text[])
         ON CONFLICT (account_number) DO UPDATE SET patient_name = EXCLUDED.patient_name",
        &numbers as &[&str],
        &names as &[&str],
    )
    .execute(&mut *tx)
    .await?;
    let mut payers: Vec<&str> = claims.iter().map(|c| c.payer_code.as_str()).collect();
    payers.sort_unstable();
    payers.dedup();
    sqlx::query!("INSERT INTO payers (payer_code) SELECT * FROM UNNEST($1::text[]) ON CONFLICT (payer_code) DO NOTHING", &payers as &[&str])
        .execute(&mut *tx)
        .await?;

    let col = |f: fn(&ImportClaim) -> &str| claims.iter().map(f).collect::<Vec<&str>>();
    sqlx::query!(
        "INSERT INTO claims (claim_id, account_id, payer_id, service_date, last_billed_date, times_billed)
         SELECT u.claim_id, a.id, p.id, u.service_date, u.last_billed, u.times
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::date[], $5::date[], $6::int[]) AS u(claim_id, account, payer, service_date, last_billed, times)
         JOIN accounts a ON a.account_number = u.account
         JOIN payers p ON p.payer_code = u.payer
         ON CONFLICT (claim_id) DO UPDATE SET account_id = EXCLUDED.account_id, payer_id = EXCLUDED.payer_id,
             service_date = EXCLUDED.service_date, last_billed_date = EXCLUDED.last_billed_date, times_billed = EXCLUDED.times_billed",
        &col(|c| &c.claim_id) as &[&str],
        &col(|c| &c.account_number) as &[&str],
        &col(|c| &c.payer_code) as &[&str],
        &claims.iter().map(|c| c.service_date).collect::<Vec<_>>(),
        &claims.iter().map(|c| c.last_billed_date).collect::<Vec<_>>() as &[Option<NaiveDate>],
        &claims.iter().map(|c| c.times_billed).collect::<Vec<_>>(),
    )
    .execute(&mut *tx)
    .await?;

    // Lines: a posted claim keeps each line's charge (its changes are
    // corrections below, a new line starts at 0); any other claim takes the
    // file's charges. Lines the file no longer has are marked removed.
    let mut ids = Vec::new();
    let mut numbers = Vec::new();
    let mut procedures = Vec::new();
    let mut modifiers = Vec::new();
    let mut charges = Vec::new();
    let mut lcns = Vec::new();
    for c in claims {
        let posted = before.get(&c.claim_id).is_some_and(|s| s.posted);
        for (n, l) in c.lines.iter().enumerate() {
            ids.push(c.claim_id.as_str());
            numbers.push(i32::try_from(n + 1).unwrap_or(i32::MAX));
            procedures.push(l.procedure.as_str());
            modifiers.push(l.modifiers.join(":"));
            charges.push(if posted { Decimal::ZERO } else { l.charge });
            lcns.push(l.line_control_number.as_deref());
        }
    }
    sqlx::query!(
        "INSERT INTO service_lines (claim_id, line_number, procedure, modifiers, charge, line_control_number)
         SELECT c.id, u.n, u.procedure, COALESCE(string_to_array(NULLIF(u.mods, ''), ':'), '{}'), u.charge, u.lcn
         FROM UNNEST($1::text[], $2::int[], $3::text[], $4::text[], $5::numeric[], $6::text[]) AS u(claim_id, n, procedure, mods, charge, lcn)
         JOIN claims c ON c.claim_id = u.claim_id
         ON CONFLICT (claim_id, line_number) DO UPDATE SET procedure = EXCLUDED.procedure, modifiers = EXCLUDED.modifiers,
             charge = CASE WHEN claim_has_postings(service_lines.claim_id) THEN service_lines.charge ELSE EXCLUDED.charge END,
             line_control_number = EXCLUDED.line_control_number, removed_at = NULL",
        &ids as &[&str],
        &numbers,
        &procedures as &[&str],
        &modifiers,
        &charges,
        &lcns as &[Option<&str>],
    )
    .execute(&mut *tx)
    .await?;
    let claim_ids: Vec<&str> = claims.iter().map(|c| c.claim_id.as_str()).collect();
    let line_counts: Vec<i32> = claims.iter().map(|c| i32::try_from(c.lines.len()).unwrap_or(i32::MAX)).collect();
    sqlx::query!(
        "UPDATE service_lines l SET removed_at = now(),
             charge = CASE WHEN claim_has_postings(l.claim_id) THEN l.charge ELSE 0 END
         FROM UNNEST($1::text[], $2::int[]) AS u(claim_id, lines) JOIN claims c ON c.claim_id = u.claim_id
         WHERE l.claim_id = c.id AND l.line_number > u.lines AND l.removed_at IS NULL",
        &claim_ids as &[&str],
        &line_counts,
    )
    .execute(&mut *tx)
    .await?;

    if let Some(a) = amend {
        amend_claims(&mut tx, &amended, a).await?;
        for account in &renamed {
            let detail = serde_json::json!({ "account_number": account });
            audit(&mut tx, a.actor, "account_renamed", Audit { reason: Some(a.reason), detail: Some(detail), ..Audit::default() }).await?;
        }
    }
    let summary = ImportSummary { claims: claims.len(), lines: ids.len() };
    let detail = serde_json::json!({ "claims": summary.claims, "lines": summary.lines, "amended": amended.len() });
    audit(&mut tx, actor, "claims_imported", Audit { reason: amend.map(|a| a.reason), detail: Some(detail), ..Audit::default() }).await?;
    tx.commit().await?;
    Ok(summary)
}

/// Posts the charge corrections of amended claims (a line added first gets
/// its row, at charge 0), audits each claim, and settles what the new
/// charges change (a write-off that now leaves a credit is given back).
async fn amend_claims(tx: &mut sqlx::PgConnection, amended: &[(&ImportClaim, i64, Vec<Change>)], a: Amend<'_>) -> Result<(), sqlx::Error> {
    let mut corrections = Vec::new();
    for (claim, row, changed) in amended {
        for c in changed {
            let (line_number, line_id) = match c {
                Change::Charge { line_number, line_id, .. } | Change::Dropped { line_number, line_id, .. } => (*line_number, *line_id),
                Change::Added { line_number, .. } => {
                    let id = sqlx::query_scalar!("SELECT id FROM service_lines WHERE claim_id = $1 AND line_number = $2", row, line_number)
                        .fetch_one(&mut *tx)
                        .await?;
                    (*line_number, id)
                }
            };
            let memo = format!("line {line_number}: {}; amended by {}: {}", c.describe(&claim.claim_id).replace(" would ", " "), a.actor, a.reason);
            corrections.push(Correction { claim_id: *row, line_id, amount: c.amount(), memo });
        }
        let total: Decimal = changed.iter().map(Change::amount).sum();
        let lines: Vec<serde_json::Value> =
            changed.iter().map(|c| serde_json::json!({ "change": c.describe(&claim.claim_id), "amount": c.amount() })).collect();
        let fields = Audit {
            claim_id: Some(*row),
            reason: Some(a.reason),
            amount: Some(total),
            detail: Some(serde_json::json!({ "lines": lines })),
            ..Audit::default()
        };
        audit(tx, a.actor, "claim_amended", fields).await?;
    }
    correct(tx, &corrections, a.actor).await?;
    let rows: Vec<i64> = amended.iter().map(|(_, row, _)| *row).collect();
    settle::after_posting(tx, Source::Correction { actor: a.actor, reason: a.reason }, &rows).await?;
    Ok(())
}
