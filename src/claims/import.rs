//! `remitd claims import`: the claims a remittance can be matched against.
//!
//! One row per service line:
//! `claim_id,account_number,patient_name,payer_id,service_date,procedure,line_charge,last_billed_date,times_billed`
//! with an optional tenth column `line_control_number` (REF*6R as sent on the
//! 837). Rows of one claim must agree on the claim-level columns. The whole
//! file is checked before anything is written, then written in one database
//! transaction with set-based upserts: a bad row refuses the file and
//! nothing is half-imported. Re-importing a claim updates it.

use std::collections::HashMap;
use std::io::Read;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgPool;

pub const HEADER: [&str; 9] =
    ["claim_id", "account_number", "patient_name", "payer_id", "service_date", "procedure", "line_charge", "last_billed_date", "times_billed"];
const OPTIONAL: &str = "line_control_number";

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("line {line}: {message}")]
    Row { line: u64, message: String },
    #[error("header must be {expected}, found {found}")]
    Header { expected: String, found: String },
    #[error("cannot read the CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// One service line of a claim, as imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportLine {
    pub procedure: String,
    pub modifiers: Vec<String>,
    pub charge: Decimal,
    pub line_control_number: Option<String>,
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
    first_line: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub claims: usize,
    pub lines: usize,
}

fn date(field: &str, name: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(field, "%Y-%m-%d").map_err(|_| format!("{name} must be a date YYYY-MM-DD, found {field:?}"))
}

/// Reads and checks the whole CSV; nothing is written.
pub fn read(src: impl Read) -> Result<Vec<ImportClaim>, ImportError> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(src);
    let headers = rdr.headers()?.clone();
    let found: Vec<&str> = headers.iter().collect();
    let with_lcn = found.len() == 10 && found[9] == OPTIONAL;
    if found[..found.len().min(9)] != HEADER[..] || !(found.len() == 9 || with_lcn) {
        return Err(ImportError::Header { expected: format!("{} (optionally followed by {OPTIONAL})", HEADER.join(",")), found: found.join(",") });
    }
    let mut claims: Vec<ImportClaim> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for record in rdr.records() {
        let record = record?;
        let line = record.position().map_or(0, |p| p.line());
        let row_err = |message: String| ImportError::Row { line, message };
        let get = |i: usize| record.get(i).unwrap_or_default();
        let claim_id = get(0);
        if claim_id.is_empty() {
            return Err(row_err("claim_id is empty".into()));
        }
        for (i, name) in [(1, "account_number"), (2, "patient_name"), (3, "payer_id"), (5, "procedure")] {
            if get(i).is_empty() {
                return Err(row_err(format!("{name} is empty")));
            }
        }
        let service_date = date(get(4), "service_date").map_err(row_err)?;
        let charge = Decimal::from_str(get(6))
            .ok()
            .filter(|d| d.scale() <= 2)
            .ok_or_else(|| row_err(format!("line_charge must be an amount with at most two decimals, found {:?}", get(6))))?;
        let last_billed_date = if get(7).is_empty() { None } else { Some(date(get(7), "last_billed_date").map_err(row_err)?) };
        let times_billed = if get(8).is_empty() {
            0
        } else {
            get(8).parse::<i32>().ok().filter(|n| *n >= 0).ok_or_else(|| row_err(format!("times_billed must be a whole number, found {:?}", get(8))))?
        };
        let mut parts = get(5).split(':');
        let procedure = parts.next().unwrap_or_default().to_string();
        let modifiers: Vec<String> = parts.filter(|m| !m.is_empty()).map(str::to_string).collect();
        if modifiers.len() > 4 {
            return Err(row_err("procedure carries more than four modifiers".into()));
        }
        let lcn = if with_lcn { Some(get(9)).filter(|s| !s.is_empty()).map(str::to_string) } else { None };
        let import_line = ImportLine { procedure, modifiers, charge, line_control_number: lcn };
        match index.get(claim_id) {
            Some(&i) => {
                let c = &mut claims[i];
                let same = c.account_number == get(1)
                    && c.patient_name == get(2)
                    && c.payer_code == get(3)
                    && c.service_date == service_date
                    && c.last_billed_date == last_billed_date
                    && c.times_billed == times_billed;
                if !same {
                    return Err(row_err(format!("claim {claim_id} has different claim-level values than on line {}", c.first_line)));
                }
                c.lines.push(import_line);
            }
            None => {
                index.insert(claim_id.to_string(), claims.len());
                claims.push(ImportClaim {
                    claim_id: claim_id.to_string(),
                    account_number: get(1).to_string(),
                    patient_name: get(2).to_string(),
                    payer_code: get(3).to_string(),
                    service_date,
                    last_billed_date,
                    times_billed,
                    lines: vec![import_line],
                    first_line: line,
                });
            }
        }
    }
    Ok(claims)
}

/// Writes checked claims in one transaction.
pub async fn write(pool: &PgPool, claims: &[ImportClaim]) -> Result<ImportSummary, ImportError> {
    let mut tx = pool.begin().await?;
    let accounts: HashMap<&str, &str> = claims.iter().map(|c| (c.account_number.as_str(), c.patient_name.as_str())).collect();
    let (numbers, names): (Vec<&str>, Vec<&str>) = accounts.into_iter().unzip();
    sqlx::query(
        "INSERT INTO accounts (account_number, patient_name) SELECT * FROM UNNEST($1::text[], $2::text[])
         ON CONFLICT (account_number) DO UPDATE SET patient_name = EXCLUDED.patient_name",
    )
    .bind(&numbers)
    .bind(&names)
    .execute(&mut *tx)
    .await?;
    let mut payers: Vec<&str> = claims.iter().map(|c| c.payer_code.as_str()).collect();
    payers.sort_unstable();
    payers.dedup();
    sqlx::query("INSERT INTO payers (payer_code) SELECT * FROM UNNEST($1::text[]) ON CONFLICT (payer_code) DO NOTHING").bind(&payers).execute(&mut *tx).await?;

    let col = |f: fn(&ImportClaim) -> String| claims.iter().map(f).collect::<Vec<String>>();
    sqlx::query(
        "INSERT INTO claims (claim_id, account_id, payer_id, service_date, last_billed_date, times_billed)
         SELECT u.claim_id, a.id, p.id, u.service_date, u.last_billed, u.times
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::date[], $5::date[], $6::int[]) AS u(claim_id, account, payer, service_date, last_billed, times)
         JOIN accounts a ON a.account_number = u.account
         JOIN payers p ON p.payer_code = u.payer
         ON CONFLICT (claim_id) DO UPDATE SET account_id = EXCLUDED.account_id, payer_id = EXCLUDED.payer_id,
             service_date = EXCLUDED.service_date, last_billed_date = EXCLUDED.last_billed_date, times_billed = EXCLUDED.times_billed",
    )
    .bind(col(|c| c.claim_id.clone()))
    .bind(col(|c| c.account_number.clone()))
    .bind(col(|c| c.payer_code.clone()))
    .bind(claims.iter().map(|c| c.service_date).collect::<Vec<_>>())
    .bind(claims.iter().map(|c| c.last_billed_date).collect::<Vec<_>>())
    .bind(claims.iter().map(|c| c.times_billed).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;

    let mut ids = Vec::new();
    let mut numbers = Vec::new();
    let mut procedures = Vec::new();
    let mut modifiers = Vec::new();
    let mut charges = Vec::new();
    let mut lcns = Vec::new();
    for c in claims {
        for (n, l) in c.lines.iter().enumerate() {
            ids.push(c.claim_id.as_str());
            numbers.push(i32::try_from(n + 1).unwrap_or(i32::MAX));
            procedures.push(l.procedure.as_str());
            modifiers.push(l.modifiers.join(":"));
            charges.push(l.charge);
            lcns.push(l.line_control_number.as_deref());
        }
    }
    sqlx::query(
        "INSERT INTO service_lines (claim_id, line_number, procedure, modifiers, charge, line_control_number)
         SELECT c.id, u.n, u.procedure, COALESCE(string_to_array(NULLIF(u.mods, ''), ':'), '{}'), u.charge, u.lcn
         FROM UNNEST($1::text[], $2::int[], $3::text[], $4::text[], $5::numeric[], $6::text[]) AS u(claim_id, n, procedure, mods, charge, lcn)
         JOIN claims c ON c.claim_id = u.claim_id
         ON CONFLICT (claim_id, line_number) DO UPDATE SET procedure = EXCLUDED.procedure, modifiers = EXCLUDED.modifiers,
             charge = EXCLUDED.charge, line_control_number = EXCLUDED.line_control_number",
    )
    .bind(&ids)
    .bind(&numbers)
    .bind(&procedures)
    .bind(&modifiers)
    .bind(&charges)
    .bind(&lcns)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ImportSummary { claims: claims.len(), lines: ids.len() })
}
