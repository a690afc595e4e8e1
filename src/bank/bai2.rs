//! BAI2 bank statements: comma-separated records, each ended by `/`, a
//! record continued on `88` records. A file (`01` ... `99`) holds groups
//! (`02` ... `98`, one as-of date each), a group holds accounts (`03` ...
//! `49`), an account holds transaction details (`16`).
//!
//! Each record is read with nom into its fields (`fields`); a field that
//! is not what its place holds fails with its column. Then the trailers are
//! checked as a bank's software checks them: each control total (the sum of
//! the amounts inside, summaries and details alike) and each record count
//! (continuations included).
//!
//! A detail's text is the rest of its record after the fixed fields, commas
//! and all, continuations joined; where a bank puts the 835's `TRN` differs,
//! so [`super::Trn::find`] looks anywhere in it.

use chrono::NaiveDate;
use nom::bytes::take_till;
use nom::character::char;
use nom::combinator::opt;
use nom::multi::separated_list0;
use nom::sequence::terminated;
use nom::Parser;
use rust_decimal::Decimal;
use serde::Serialize;

use super::{BankError, Deposit, Trn};

/// A whole statement file, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub sender: String,
    pub receiver: String,
    pub created: NaiveDate,
    pub groups: Vec<Group>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub as_of: NaiveDate,
    pub accounts: Vec<Account>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// The last four characters of the account number.
    pub account_last4: String,
    pub currency: String,
    pub details: Vec<Detail>,
}

/// A `16` record: one transaction on the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detail {
    /// The BAI type code: 100 to 399 credits, 400 to 699 debits.
    pub type_code: u16,
    pub amount: Decimal,
    pub bank_reference: String,
    pub customer_reference: String,
    pub text: String,
}

impl Detail {
    pub fn is_credit(&self) -> bool {
        self.type_code < 400
    }
}

impl Statement {
    /// Every transaction detail as a deposit (credits) or a takeback (debits).
    pub fn deposits(&self) -> Vec<Deposit> {
        self.groups
            .iter()
            .flat_map(|g| g.accounts.iter().flat_map(move |a| a.details.iter().map(move |d| (g.as_of, d))))
            .map(|(as_of, d)| Deposit {
                credit: d.is_credit(),
                amount: d.amount,
                date: Some(as_of),
                payer_name: payer_in(&d.text),
                trn: Trn::find(&d.text),
                bank_reference: d.bank_reference.clone(),
                customer_reference: Some(d.customer_reference.clone()).filter(|r| !r.is_empty()),
            })
            .collect()
    }
}

/// The statement file for `s`, trailers computed: what a bank would send
/// (tests and benchmarks write their statements with it). Accounts carry
/// no summaries; each detail is one record with immediately available
/// funds, its text unbroken.
pub fn write(s: &Statement) -> String {
    let cents = |d: Decimal| -> i64 { (d * Decimal::ONE_HUNDRED).try_into().unwrap_or(0) };
    let day = |d: NaiveDate| d.format("%y%m%d").to_string();
    let mut out = vec![format!("01,{},{},{},0600,1,,,2/", s.sender, s.receiver, day(s.created))];
    let (mut file_total, mut file_records) = (0i64, 2usize);
    for g in &s.groups {
        out.push(format!("02,{},{},1,{},,USD,2/", s.receiver, s.sender, day(g.as_of)));
        let (mut group_total, mut group_records) = (0i64, 2usize);
        for a in &g.accounts {
            out.push(format!("03,{},{}/", a.account_last4, a.currency));
            let total: i64 = a.details.iter().map(|d| cents(d.amount)).sum();
            for d in &a.details {
                out.push(format!("16,{},{},0,{},{},{}/", d.type_code, cents(d.amount), d.bank_reference, d.customer_reference, d.text));
            }
            let records = a.details.len() + 2;
            out.push(format!("49,{total},{records}/"));
            group_total += total;
            group_records += records;
        }
        out.push(format!("98,{group_total},{},{group_records}/", g.accounts.len()));
        file_total += group_total;
        file_records += group_records;
    }
    out.push(format!("99,{file_total},{},{file_records}/", s.groups.len()));
    out.iter().map(|l| format!("{l}\n")).collect()
}

/// The originator's name a bank's text gives (`COMPANY NAME:` or
/// `ORIG CO NAME:`), else nothing.
fn payer_in(text: &str) -> String {
    ["ORIG CO NAME:", "COMPANY NAME:", "ORIGINATOR:"]
        .iter()
        .find_map(|key| text.find(key).map(|i| &text[i + key.len()..]))
        .map(|rest| {
            let name = rest.split("TRN*").next().unwrap_or_default();
            name.split(['/', ',', '*']).next().unwrap_or_default().split("  ").next().unwrap_or_default().trim().to_string()
        })
        .unwrap_or_default()
}

/// One logical record: its type, its fields (with the column each starts
/// at), and the physical lines it spans.
struct Record {
    line: usize,
    code: String,
    fields: Vec<(usize, String)>,
    lines: u64,
}

impl Record {
    fn error(&self, column: usize, problem: impl Into<String>) -> BankError {
        BankError::at(self.line, column, problem)
    }

    /// Field `i` (0 is the record code).
    fn get(&self, i: usize, what: &str) -> Result<(usize, &str), BankError> {
        self.fields.get(i).map(|(c, f)| (*c, f.as_str())).ok_or_else(|| self.error(self.end_column(), format!("the record ends before {what}")))
    }

    fn end_column(&self) -> usize {
        self.fields.last().map_or(1, |(c, f)| c + f.len())
    }

    fn number(&self, i: usize, what: &str) -> Result<u64, BankError> {
        let (column, raw) = self.get(i, what)?;
        raw.parse::<u64>().map_err(|_| self.error(column, format!("expected {what} (digits)")))
    }

    /// A signed amount in cents; blank is zero.
    fn cents(&self, i: usize, what: &str) -> Result<i64, BankError> {
        let (column, raw) = self.get(i, what)?;
        let digits = raw.strip_prefix(['+', '-']).unwrap_or(raw);
        if raw.is_empty() {
            return Ok(0);
        }
        if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.error(column, format!("expected {what} in cents (digits, optionally signed)")));
        }
        let v: i64 = digits.parse().unwrap_or(0);
        Ok(if raw.starts_with('-') { -v } else { v })
    }

    fn date(&self, i: usize, what: &str) -> Result<NaiveDate, BankError> {
        let (column, raw) = self.get(i, what)?;
        NaiveDate::parse_from_str(&format!("20{raw}"), "%Y%m%d").map_err(|_| self.error(column, format!("expected {what} YYMMDD")))
    }

    fn text(&self, i: usize) -> String {
        self.fields.get(i).map(|(_, f)| f.trim().to_string()).unwrap_or_default()
    }
}

/// Fields of one physical record up to its `/` (or its end): nom over the
/// line, each field the bytes up to the next comma or slash.
fn fields(line: &str) -> Vec<(usize, &str)> {
    let field = take_till(|c| c == ',' || c == '/');
    let mut record = terminated(separated_list0(char(','), field), opt(char('/')));
    let parsed: nom::IResult<&str, Vec<&str>> = record.parse(line);
    let parts = parsed.map(|(_, p)| p).unwrap_or_default();
    let mut column = 1;
    parts
        .into_iter()
        .map(|p| {
            let at = column;
            column += p.len() + 1;
            (at, p)
        })
        .collect()
}

/// The file's logical records, continuations joined. A `16` record's text
/// is everything after its fixed fields, slashes and commas included, and
/// its continuations' text is added to it.
fn records(text: &str) -> Result<Vec<Record>, BankError> {
    let mut out: Vec<Record> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if line.is_empty() {
            continue;
        }
        let fs = fields(line);
        let code = fs.first().map(|(_, c)| *c).unwrap_or_default();
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BankError::at(i + 1, 1, "expected a record code (two digits)"));
        }
        if code == "88" {
            let last = out.last_mut().ok_or_else(|| BankError::at(i + 1, 1, "a continuation (88) before any record"))?;
            last.lines += 1;
            let rest = line[2..].trim_start_matches(',');
            let rest = rest.strip_suffix('/').unwrap_or(rest).trim();
            let text_at = detail_layout(&last.fields) + 2;
            match last.code.as_str() {
                "16" if last.fields.len() > text_at => {
                    let text = &mut last.fields[text_at].1;
                    text.push(' ');
                    text.push_str(rest);
                }
                "16" if last.fields.len() == text_at => last.fields.push((3, rest.to_string())),
                _ => last.fields.extend(fs.into_iter().skip(1).map(|(c, f)| (c, f.to_string()))),
            }
            continue;
        }
        let fs = if code == "16" { detail_fields(line) } else { fs };
        out.push(Record { line: i + 1, code: code.to_string(), fields: fs.into_iter().map(|(c, f)| (c, f.to_string())).collect(), lines: 1 });
    }
    Ok(out)
}

/// Where a `16` record's bank reference is: after the code, type, amount,
/// funds type and what that funds type adds (`S` three amounts, `V` a
/// value date and time, `D` a count and that many day and amount pairs).
fn detail_layout<S: AsRef<str>>(fields: &[(usize, S)]) -> usize {
    let at = |i: usize| fields.get(i).map(|(_, f)| f.as_ref()).unwrap_or_default();
    let extra = match at(3) {
        "S" => 3,
        "V" => 2,
        "D" => at(4).parse::<usize>().map_or(1, |n| 1 + 2 * n.min(1000)),
        _ => 0,
    };
    4 + extra
}

/// A `16` record's fields: the fixed ones, the two references, then the
/// text as one field.
fn detail_fields(line: &str) -> Vec<(usize, &str)> {
    let all = fields(line);
    let text_at = detail_layout(&all) + 2;
    if all.len() <= text_at {
        return all;
    }
    let (text_column, _) = all[text_at];
    let text = line[text_column - 1..].trim_end();
    let text = text.strip_suffix('/').unwrap_or(text);
    let mut out = all[..text_at].to_vec();
    out.push((text_column, text));
    out
}

/// Reads and checks a whole BAI2 file.
pub fn read(bytes: &[u8]) -> Result<Statement, BankError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
        BankError::at(line, 1, "a BAI2 file is text; this line is not")
    })?;
    let records = records(text)?;
    let mut it = records.iter();
    let header = it.next().ok_or_else(|| BankError::at(1, 1, "the file is empty"))?;
    if header.code != "01" {
        return Err(header.error(1, "a BAI2 file starts with its file header (01)"));
    }
    let (sender, receiver) = (header.text(1), header.text(2));
    let created = header.date(3, "the file creation date")?;
    let mut groups = Vec::new();
    let (mut total, mut count) = (0i64, header.lines);
    loop {
        let r = it.next().ok_or_else(|| BankError::at(text.lines().count().max(1), 1, "the file ends before its file trailer (99)"))?;
        match r.code.as_str() {
            "02" => {
                let (group, group_total, group_lines) = read_group(r, &mut it)?;
                groups.push(group);
                total += group_total;
                count += group_lines;
            }
            "99" => {
                count += r.lines;
                trailer(r, ("the file control total", total), ("the number of groups", groups.len()), count)?;
                if let Some(extra) = it.next() {
                    return Err(extra.error(1, "nothing may follow the file trailer (99)"));
                }
                return Ok(Statement { sender, receiver, created, groups });
            }
            _ => return Err(r.error(1, "expected a group header (02) or the file trailer (99)")),
        }
    }
}

/// Checks a group or file trailer: its control total, how many groups or
/// accounts it closes, and its record count, in that order.
fn trailer(r: &Record, (total_is, total): (&str, i64), (items_are, items): (&str, usize), count: u64) -> Result<(), BankError> {
    check(r, 1, total_is, r.cents(1, total_is)?, total)?;
    check(r, 2, items_are, r.number(2, items_are)? as i64, items as i64)?;
    check(r, 3, "the number of records", r.number(3, "the number of records")? as i64, count as i64)
}

/// Compares a trailer's figure (field `i`) with what was counted.
fn check(r: &Record, i: usize, what: &str, said: i64, counted: i64) -> Result<(), BankError> {
    match said == counted {
        true => Ok(()),
        false => Err(r.error(r.fields.get(i).map_or(1, |(c, _)| *c), format!("{what} is {said}, but the records add up to {counted}"))),
    }
}

type Records<'a> = std::slice::Iter<'a, Record>;

/// A group from its header to its trailer: the group, its control total
/// and how many physical records it spans.
fn read_group(header: &Record, it: &mut Records<'_>) -> Result<(Group, i64, u64), BankError> {
    let as_of = header.date(4, "the as-of date")?;
    let mut accounts = Vec::new();
    let (mut total, mut count) = (0i64, header.lines);
    loop {
        let r = it.next().ok_or_else(|| header.error(1, "the group has no group trailer (98)"))?;
        match r.code.as_str() {
            "03" => {
                let (account, account_total, account_lines) = read_account(r, it)?;
                accounts.push(account);
                total += account_total;
                count += account_lines;
            }
            "98" => {
                count += r.lines;
                trailer(r, ("the group control total", total), ("the number of accounts", accounts.len()), count)?;
                return Ok((Group { as_of, accounts }, total, count));
            }
            _ => return Err(r.error(1, "expected an account identifier (03) or the group trailer (98)")),
        }
    }
}

/// An account from its identifier to its trailer: the account, its
/// control total (summary and detail amounts) and its physical records.
fn read_account(header: &Record, it: &mut Records<'_>) -> Result<(Account, i64, u64), BankError> {
    let (_, number) = header.get(1, "the account number")?;
    let account_last4: String = number.trim().chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    let currency = header.text(2);
    // Summaries: type code, amount, item count, funds type, repeated.
    let mut total = 0i64;
    let mut i = 3;
    while i + 1 < header.fields.len() {
        if !header.fields[i].1.trim().is_empty() {
            total += header.cents(i + 1, "a summary amount")?;
        }
        i += 4;
    }
    let mut details = Vec::new();
    let mut count = header.lines;
    loop {
        let r = it.next().ok_or_else(|| header.error(1, "the account has no account trailer (49)"))?;
        match r.code.as_str() {
            "16" => {
                let (column, _) = r.get(1, "the type code")?;
                let type_code = u16::try_from(r.number(1, "the type code")?)
                    .ok()
                    .filter(|c| (100..1000).contains(c))
                    .ok_or_else(|| r.error(column, "expected a type code from 100 to 999"))?;
                let cents = r.cents(2, "the amount")?;
                if cents < 0 {
                    return Err(r.error(r.get(2, "the amount")?.0, "a detail's amount is unsigned (its type code says credit or debit)"));
                }
                total += cents;
                count += r.lines;
                let refs = detail_layout(&r.fields);
                let (bank_reference, customer_reference, text) = (r.text(refs), r.text(refs + 1), r.text(refs + 2));
                details.push(Detail { type_code, amount: Decimal::new(cents, 2), bank_reference, customer_reference, text });
            }
            "49" => {
                count += r.lines;
                check(r, 1, "the account control total", r.cents(1, "the account control total")?, total)?;
                check(r, 2, "the number of records", r.number(2, "the number of records")? as i64, count as i64)?;
                return Ok((Account { account_last4, currency, details }, total, count));
            }
            _ => return Err(r.error(1, "expected a transaction detail (16) or the account trailer (49)")),
        }
    }
}
