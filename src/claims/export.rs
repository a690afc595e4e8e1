//! The claims CSV a remittance expects: for test set-ups, benchmarks and the
//! demo, which need a practice's claims to match a (synthetic) 835.
//!
//! Reversals (CLP02 = 22) add no claim of their own; a claim id seen twice is
//! written once.

use std::collections::HashSet;
use std::io::{self, Write};

use chrono::Days;

use super::import::HEADER;
use crate::model::Transaction;

/// Writes the header and one row per service line (a claim without lines
/// gets one line for its whole charge).
pub fn write_csv<'t>(out: impl Write, transactions: impl IntoIterator<Item = &'t Transaction>) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    let mut header: Vec<&str> = HEADER.to_vec();
    header.push("line_control_number");
    w.write_record(&header)?;
    let mut seen = HashSet::new();
    for tx in transactions {
        for c in &tx.claims {
            if c.status_code == "22" || !seen.insert(c.patient_control_number.clone()) {
                continue;
            }
            let name = c
                .patient
                .as_ref()
                .map(|p| format!("{}, {}", p.last_name.as_deref().unwrap_or("UNKNOWN"), p.first_name.as_deref().unwrap_or("")))
                .unwrap_or_else(|| "UNKNOWN, PATIENT".into());
            let service_date =
                c.services.iter().find_map(|s| s.service_date.or(s.service_period_start)).or(c.statement_from).or(tx.payment.date).unwrap_or_default();
            let billed = service_date.checked_add_days(Days::new(10)).unwrap_or(service_date).to_string();
            let account = format!("A-{}", c.patient_control_number);
            let row = |procedure: String, charge: String, lcn: &str| {
                vec![
                    c.patient_control_number.to_string(),
                    account.clone(),
                    name.clone(),
                    tx.trace.originator_id.to_string(),
                    service_date.to_string(),
                    procedure,
                    charge,
                    billed.clone(),
                    "1".into(),
                    lcn.to_string(),
                ]
            };
            if c.services.is_empty() {
                w.write_record(row("99213".into(), c.charge.abs().to_string(), ""))?;
            }
            for s in &c.services {
                let mut procedure = s.procedure.to_string();
                for m in &s.modifiers {
                    procedure.push(':');
                    procedure.push_str(m);
                }
                w.write_record(row(procedure, s.charge.abs().to_string(), s.line_control_number.as_deref().unwrap_or("")))?;
            }
        }
    }
    w.flush()
}
