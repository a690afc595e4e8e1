//! The sweep report, as billing teams know it from their practice-management
//! system, and as CSV:
//!
//! ```text
//! RANGE: 06162021-06162021 DAYS SINCE BILLED: 30 - MIN TIMES: 0 TX: w W
//! BROWN, CHARLES        000040 04/20/2018     17.36 w
//! O'DEAN, MARY A.       000020 03/18/2021     50.00 w
//! TOTALS $67.36
//! ```
//!
//! Balances over the maximum amount follow on their own report.

use std::fmt::Write as _;

use rust_decimal::Decimal;

use super::{Line, Params, Report, Section};
use crate::output::{escape_text, shown, CsvReport};

/// Width of the patient name column; longer names are cut.
const NAME_WIDTH: usize = 21;

/// `$67.36`, `-$3.00`.
pub fn dollars(amount: Decimal) -> String {
    let sign = if amount.is_sign_negative() && !amount.is_zero() { "-" } else { "" };
    format!("{sign}${:.2}", amount.abs())
}

/// The report's first line, with the payer, account or claim it was
/// narrowed to.
pub fn header(p: &Params) -> String {
    let mut head = format!(
        "RANGE: {}-{} DAYS SINCE BILLED: {} - MIN TIMES: {} TX: {} {}",
        p.from.format("%m%d%Y"),
        p.to.format("%m%d%Y"),
        p.days_since_billed,
        p.min_times_billed,
        p.insurance_code.as_deref().unwrap_or("-"),
        p.patient_code.as_deref().unwrap_or("-"),
    );
    for (label, value) in [("PAYER", &p.payer), ("ACCOUNT", &p.account), ("CLAIM", &p.claim)] {
        if let Some(v) = value {
            let _ = write!(head, " {label}: {}", escape_text(v));
        }
    }
    if p.service_from.is_some() || p.service_to.is_some() {
        let day = |d: Option<chrono::NaiveDate>| d.map(|d| d.format("%m%d%Y").to_string()).unwrap_or_default();
        let _ = write!(head, " SERVICE: {}-{}", day(p.service_from), day(p.service_to));
    }
    head
}

/// One report line; `account_width` aligns the columns after it.
pub fn line(l: &Line, account_width: usize) -> String {
    let name: String = escape_text(&l.patient_name).chars().take(NAME_WIDTH).collect();
    format!(
        "{name:<NAME_WIDTH$} {:<account_width$} {} {:>9.2} {}",
        shown(&l.account_number),
        l.last_billed_date.format("%m/%d/%Y"),
        l.amount,
        shown(&l.tx_code)
    )
}

fn section(out: &mut String, report: &Report, s: Section) {
    let width = report.section(s).map(|l| escape_text(&l.account_number).chars().count()).max().unwrap_or(0);
    let _ = writeln!(out, "{}", header(&report.params));
    for l in report.section(s) {
        let _ = writeln!(out, "{}", line(l, width));
    }
    let _ = writeln!(out, "TOTALS {}", dollars(report.total(s)));
}

/// The whole report as text: what was written off, then (when there is
/// any) the out-of-range report, then what was skipped and why.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    section(&mut out, report, Section::WrittenOff);
    if report.count(Section::OutOfRange) > 0 {
        let over = report.params.max_amount.map(dollars).unwrap_or_default();
        let _ = writeln!(out, "\nOUT OF RANGE: OVER {over}, NOT WRITTEN OFF");
        section(&mut out, report, Section::OutOfRange);
    }
    let _ = writeln!(out);
    let written = report.count(Section::WrittenOff);
    match (report.preview, report.run) {
        (true, _) => {
            let _ = writeln!(out, "PREVIEW: {written} balances would be written off; nothing was written.");
        }
        (false, Some(run)) => {
            let receipt = report.receipt.map(|r| format!(", receipt #{r}")).unwrap_or_default();
            let _ = writeln!(out, "RUN #{run}{receipt}: {written} balances written off, reason small-balance.");
        }
        (false, None) => {
            let _ = writeln!(out, "Nothing was written off; no run was recorded.");
        }
    }
    if report.skipped_protected > 0 {
        let _ = writeln!(out, "SKIPPED: {} balances on claims with a denial under appeal or waiting for approval.", report.skipped_protected);
        let width = report.section(Section::Protected).map(|l| escape_text(&l.account_number).chars().count()).max().unwrap_or(0);
        for l in report.section(Section::Protected) {
            let _ = writeln!(out, "  {} {}", line(l, width), shown(&l.claim_id));
        }
    }
    if report.declined > 0 {
        let _ = writeln!(out, "DECLINED: {} balances left as they were.", report.declined);
    }
    out
}

/// The report as a PDF: the same sections as the text, as tables with
/// their totals, under the same header.
pub fn pdf(report: &Report) -> Vec<u8> {
    use crate::documents::pdf::{Column, Layout};
    let title = match (report.preview, report.run, report.receipt) {
        (true, _, _) => "Small-balance sweep (preview: nothing written)".to_string(),
        (false, Some(run), Some(receipt)) => format!("Small-balance sweep, run {run}, receipt {receipt}"),
        (false, Some(run), None) => format!("Small-balance sweep, run {run}"),
        (false, None, _) => "Small-balance sweep (nothing written)".to_string(),
    };
    let mut l = Layout::new(&title, true);
    l.text(&header(&report.params));
    let columns = [
        Column::left("Patient", 2.2),
        Column::left("Account", 1.2),
        Column::left("Last billed", 1.0),
        Column::right("Amount", 1.0),
        Column::left("Code", 0.6),
        Column::left("Claim", 1.4),
        Column::left("Side", 1.0),
    ];
    let table = |l: &mut Layout, s: Section| {
        let mut rows: Vec<Vec<String>> = report
            .section(s)
            .map(|x| {
                vec![
                    x.patient_name.clone(),
                    x.account_number.clone(),
                    x.last_billed_date.format("%m/%d/%Y").to_string(),
                    format!("{:.2}", x.amount),
                    x.tx_code.clone(),
                    x.claim_id.clone(),
                    x.bucket.as_str().to_string(),
                ]
            })
            .collect();
        rows.push(vec!["=TOTALS".into(), String::new(), String::new(), dollars(report.total(s))]);
        l.table(&columns, &rows);
    };
    l.heading("Written off");
    table(&mut l, Section::WrittenOff);
    if report.count(Section::OutOfRange) > 0 {
        l.heading(&format!("Out of range: over {}, not written off", report.params.max_amount.map(dollars).unwrap_or_default()));
        table(&mut l, Section::OutOfRange);
    }
    if report.skipped_protected > 0 {
        l.heading("Skipped: a denial on the claim is under appeal or waits for approval");
        table(&mut l, Section::Protected);
    }
    if report.declined > 0 {
        l.text(&format!("Declined: {} balances left as they were.", report.declined));
    }
    l.finish()
}

/// The report as CSV, one row per line, both sections.
pub fn csv(report: &Report) -> Result<String, csv::Error> {
    let mut w = CsvReport::new(Vec::new());
    w.row(["section", "bucket", "claim_id", "patient_name", "account_number", "last_billed_date", "amount", "tx_code", "payer_code", "policy_order"])?;
    for l in &report.lines {
        w.row([
            l.section.as_str(),
            l.bucket.as_str(),
            &l.claim_id,
            &l.patient_name,
            &l.account_number,
            &l.last_billed_date.to_string(),
            &format!("{:.2}", l.amount),
            &l.tx_code,
            &l.payer_code,
            &l.policy_order.to_string(),
        ])?;
    }
    let bytes = w.finish()?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::Bucket;
    use chrono::NaiveDate;

    fn l(name: &str, account: &str, billed: (i32, u32, u32), cents: i64) -> Line {
        Line {
            section: Section::WrittenOff,
            bucket: Bucket::Insurance,
            claim_row: 1,
            claim_id: format!("C-{account}"),
            patient_name: name.into(),
            account_number: account.into(),
            last_billed_date: NaiveDate::from_ymd_opt(billed.0, billed.1, billed.2).unwrap(),
            amount: Decimal::new(cents, 2),
            tx_code: "w".into(),
            payer_code: "ACME".into(),
            policy_order: 1,
        }
    }

    #[test]
    fn the_text_report_reads_like_the_practice_management_report() {
        let report = Report {
            run: Some(4),
            receipt: Some(9),
            preview: false,
            params: Params::example(),
            lines: vec![l("BROWN, CHARLES", "000040", (2018, 4, 20), 1736), l("O'DEAN, MARY A.", "000020", (2021, 3, 18), 5000)],
            skipped_protected: 1,
            declined: 0,
        };
        let text = text(&report);
        let expected = "RANGE: 06162021-06162021 DAYS SINCE BILLED: 30 - MIN TIMES: 0 TX: w W
BROWN, CHARLES        000040 04/20/2018     17.36 w
O'DEAN, MARY A.       000020 03/18/2021     50.00 w
TOTALS $67.36

RUN #4, receipt #9: 2 balances written off, reason small-balance.
SKIPPED: 1 balances on claims with a denial under appeal or waiting for approval.
";
        assert_eq!(text, expected);
        let csv = csv(&report).unwrap();
        assert_eq!(csv.lines().nth(2), Some("written_off,insurance,C-000020,\"O'DEAN, MARY A.\",000020,2021-03-18,50.00,w,ACME,1"));
    }

    #[test]
    fn money_prints_as_dollars_and_cents() {
        assert_eq!(dollars(Decimal::new(6736, 2)), "$67.36");
        assert_eq!(dollars(Decimal::new(-300, 2)), "-$3.00");
        assert_eq!(dollars(Decimal::ZERO), "$0.00");
    }
}
