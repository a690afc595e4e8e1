//! NACHA ACH files: 94-character records, one per line. A file header
//! (`1`), batches (`5` header, `6` entries each with optional `7` addenda,
//! `8` control), the file control (`9`) and lines of nines that fill the
//! last block of ten.
//!
//! Each record is read field by field with nom (`Line::read` over each record parser): a field that
//! is not what its position holds fails with its column. Then the controls
//! are checked the way a bank checks them: entry and addenda counts, the
//! entry hash (the sum of the receiving banks' routing numbers, last ten
//! digits), debit and credit totals, batch count and block count.
//!
//! A health care payment is a CCD+ (or CTX) entry in a batch described
//! `HCCLAIMPMT`, whose addenda carry the 835's `TRN` segment
//! ([`super::Trn`]).

use chrono::NaiveDate;
use nom::bytes::take;
use nom::Parser;
use rust_decimal::Decimal;
use serde::Serialize;

use super::{BankError, Deposit, Trn};

/// Every record is this long.
pub const RECORD: usize = 94;

/// The entry description of a health care claim payment.
pub const HCCLAIMPMT: &str = "HCCLAIMPMT";

/// A whole ACH file, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AchFile {
    pub created: NaiveDate,
    pub origin_name: String,
    pub destination_name: String,
    pub batches: Vec<Batch>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Batch {
    pub number: u32,
    /// The payer, as the originator names itself.
    pub company_name: String,
    pub company_id: String,
    /// Standard entry class: `CCD` (CCD+ with an addenda), `CTX`, ...
    pub class: String,
    /// `HCCLAIMPMT` for health care payments.
    pub description: String,
    /// The day the money moves; blank or unparsable dates are `None` (the
    /// bank settles on the next business day).
    pub effective: Option<NaiveDate>,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The two-digit transaction code (`22` checking credit, `27` debit, ...).
    pub transaction_code: u8,
    pub amount: Decimal,
    /// The receiving bank's routing number (eight digits and its check digit).
    pub routing: String,
    /// The last four characters of the account, all a reader needs.
    pub account_last4: String,
    pub identification: String,
    pub receiver_name: String,
    /// The ACH trace number (the bank's, not the 835's).
    pub trace_number: String,
    /// The payment related information of each addenda, in order.
    pub addenda: Vec<String>,
}

impl Entry {
    /// Codes ending 0 to 4 move money to the receiver; 5 to 9 take it.
    pub fn is_credit(&self) -> bool {
        self.transaction_code % 10 <= 4
    }

    /// The reassociation trace, from the addenda read as one text: a CCD+
    /// entry has it in its one addenda; a CTX entry carries the 835's
    /// segments over many addenda of 80 characters, cut wherever the
    /// record ends, the TRN too.
    pub fn trn(&self) -> Option<Trn> {
        Trn::find(&self.addenda.concat())
    }
}

impl AchFile {
    /// Every entry as a deposit (a credit) or a takeback (a debit).
    pub fn deposits(&self) -> Vec<Deposit> {
        self.batches
            .iter()
            .flat_map(|b| {
                b.entries.iter().map(move |e| Deposit {
                    credit: e.is_credit(),
                    amount: e.amount,
                    date: b.effective,
                    payer_name: b.company_name.clone(),
                    trn: e.trn(),
                    bank_reference: e.trace_number.clone(),
                    customer_reference: None,
                })
            })
            .collect()
    }
}

/// A field that is not what its position holds: how far from the end of
/// the record it starts (nom's remaining input), and what was expected.
#[derive(Debug)]
struct FieldError {
    remaining: usize,
    expected: &'static str,
}

impl nom::error::ParseError<&[u8]> for FieldError {
    fn from_error_kind(input: &[u8], _: nom::error::ErrorKind) -> Self {
        FieldError { remaining: input.len(), expected: "a field" }
    }

    fn append(_: &[u8], _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

type Field<'a, T> = nom::IResult<&'a [u8], T, FieldError>;

/// `n` bytes that `ok` accepts, else the field's error at its start.
fn field<'a>(n: usize, expected: &'static str, ok: impl Fn(&[u8]) -> bool) -> impl Parser<&'a [u8], Output = &'a [u8], Error = FieldError> {
    move |input: &'a [u8]| -> Field<'a, &'a [u8]> {
        let (rest, raw): (&[u8], &[u8]) =
            take(n).parse(input).map_err(|_: nom::Err<FieldError>| nom::Err::Failure(FieldError { remaining: input.len(), expected }))?;
        if ok(raw) {
            Ok((rest, raw))
        } else {
            Err(nom::Err::Failure(FieldError { remaining: input.len(), expected }))
        }
    }
}

fn all_digits(raw: &[u8]) -> bool {
    raw.iter().all(u8::is_ascii_digit)
}

fn printable(raw: &[u8]) -> bool {
    raw.iter().all(|b| (0x20..0x7f).contains(b))
}

/// `n` digits as a number.
fn number<'a>(n: usize, expected: &'static str) -> impl Parser<&'a [u8], Output = u64, Error = FieldError> {
    field(n, expected, all_digits).map(|raw| raw.iter().fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0')))
}

/// `n` printable characters, trimmed.
fn text<'a>(n: usize, expected: &'static str) -> impl Parser<&'a [u8], Output = String, Error = FieldError> {
    field(n, expected, printable).map(|raw| String::from_utf8_lossy(raw).trim().to_string())
}

/// The record type in column 1.
fn kind<'a>(k: u8) -> impl Parser<&'a [u8], Output = &'a [u8], Error = FieldError> {
    field(1, "the record type", move |raw| raw == [k])
}

fn yymmdd(v: u64) -> Option<NaiveDate> {
    let (y, m, d) = (v / 10_000, (v / 100) % 100, v % 100);
    NaiveDate::from_ymd_opt(2000 + y as i32, m as u32, d as u32)
}

fn cents(v: u64) -> Decimal {
    Decimal::new(v as i64, 2)
}

struct FileHeader {
    created: NaiveDate,
    destination_name: String,
    origin_name: String,
}

fn file_header(r: &[u8]) -> Field<'_, FileHeader> {
    let (r, (_, _priority, _dest, _origin, created, _time, _modifier)) = (
        kind(b'1'),
        number(2, "a priority code (2 digits)"),
        text(10, "the immediate destination"),
        text(10, "the immediate origin"),
        number(6, "the file creation date YYMMDD"),
        text(4, "the file creation time"),
        field(1, "a file id modifier (A-Z or 0-9)", |b| b[0].is_ascii_uppercase() || b[0].is_ascii_digit()),
    )
        .parse(r)?;
    let (r, (_, _, _, destination_name, origin_name, _reference)) = (
        field(3, "the record size 094", |b| b == b"094"),
        field(2, "the blocking factor 10", |b| b == b"10"),
        field(1, "the format code 1", |b| b == b"1"),
        text(23, "the destination name"),
        text(23, "the origin name"),
        text(8, "the reference code"),
    )
        .parse(r)?;
    let created = yymmdd(created).ok_or(nom::Err::Failure(FieldError { remaining: RECORD - 23, expected: "a real file creation date YYMMDD" }))?;
    Ok((r, FileHeader { created, destination_name, origin_name }))
}

struct BatchHeader {
    service_class: u64,
    company_name: String,
    company_id: String,
    class: String,
    description: String,
    effective: Option<NaiveDate>,
    number: u64,
}

fn batch_header(r: &[u8]) -> Field<'_, BatchHeader> {
    let (r, (_, service_class, company_name, _discretionary, company_id, class, description, _descriptive_date)) = (
        kind(b'5'),
        number(3, "a service class code (3 digits)"),
        text(16, "the company name"),
        text(20, "the company discretionary data"),
        text(10, "the company identification"),
        field(3, "a standard entry class (3 letters)", |b| b.iter().all(u8::is_ascii_uppercase)),
        text(10, "the company entry description"),
        text(6, "the company descriptive date"),
    )
        .parse(r)?;
    let (r, (effective, _settlement, _status, _odfi, number)) = (
        text(6, "the effective entry date YYMMDD"),
        text(3, "the settlement date"),
        text(1, "the originator status code"),
        number(8, "the originating bank's routing number (8 digits)"),
        number(7, "the batch number (7 digits)"),
    )
        .parse(r)?;
    let effective = effective.parse::<u64>().ok().and_then(yymmdd);
    Ok((r, BatchHeader { service_class, company_name, company_id, class: String::from_utf8_lossy(class).into_owned(), description, effective, number }))
}

fn entry(r: &[u8]) -> Field<'_, (Entry, bool)> {
    let (r, (_, code, routing, check, account, amount, identification, receiver_name, _discretionary, addenda, trace_number)) = (
        kind(b'6'),
        number(2, "a transaction code (2 digits)"),
        number(8, "the receiving bank's routing number (8 digits)"),
        number(1, "the routing number's check digit"),
        text(17, "the account number"),
        number(10, "an amount in cents (10 digits)"),
        text(15, "the identification number"),
        text(22, "the receiver's name"),
        text(2, "the discretionary data"),
        field(1, "an addenda indicator 0 or 1", |b| b == b"0" || b == b"1"),
        field(15, "the trace number (15 digits)", all_digits),
    )
        .parse(r)?;
    let account_last4 = account.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    let e = Entry {
        transaction_code: code as u8,
        amount: cents(amount),
        routing: format!("{routing:08}{check}"),
        account_last4,
        identification,
        receiver_name,
        trace_number: String::from_utf8_lossy(trace_number).into_owned(),
        addenda: Vec::new(),
    };
    Ok((r, (e, addenda == b"1")))
}

fn addenda(r: &[u8]) -> Field<'_, String> {
    let (r, (_, _type, info, _sequence, _entry_sequence)) = (
        kind(b'7'),
        field(2, "the addenda type 05", |b| b == b"05"),
        text(80, "the payment related information"),
        number(4, "the addenda sequence number"),
        number(7, "the entry detail sequence number"),
    )
        .parse(r)?;
    Ok((r, info))
}

struct Control {
    service_class: u64,
    count: u64,
    hash: u64,
    debits: u64,
    credits: u64,
    company_id: String,
    number: u64,
}

fn batch_control(r: &[u8]) -> Field<'_, Control> {
    let (r, (_, service_class, count, hash, debits, credits, company_id, _mac, _reserved, _odfi, number)) = (
        kind(b'8'),
        number(3, "a service class code (3 digits)"),
        number(6, "the entry and addenda count (6 digits)"),
        number(10, "the entry hash (10 digits)"),
        number(12, "the total debit amount (12 digits)"),
        number(12, "the total credit amount (12 digits)"),
        text(10, "the company identification"),
        text(19, "the message authentication code"),
        text(6, "the reserved field"),
        number(8, "the originating bank's routing number (8 digits)"),
        number(7, "the batch number (7 digits)"),
    )
        .parse(r)?;
    Ok((r, Control { service_class, count, hash, debits, credits, company_id, number }))
}

struct FileControl {
    batches: u64,
    blocks: u64,
    count: u64,
    hash: u64,
    debits: u64,
    credits: u64,
}

fn file_control(r: &[u8]) -> Field<'_, FileControl> {
    let (r, (_, batches, blocks, count, hash, debits, credits, _reserved)) = (
        kind(b'9'),
        number(6, "the batch count (6 digits)"),
        number(6, "the block count (6 digits)"),
        number(8, "the entry and addenda count (8 digits)"),
        number(10, "the entry hash (10 digits)"),
        number(12, "the total debit amount (12 digits)"),
        number(12, "the total credit amount (12 digits)"),
        text(39, "the reserved field"),
    )
        .parse(r)?;
    Ok((r, FileControl { batches, blocks, count, hash, debits, credits }))
}

/// One line of the file, numbered from 1, without its line ending.
struct Line<'a> {
    number: usize,
    bytes: &'a [u8],
}

impl<'a> Line<'a> {
    /// Runs a record parser over the whole line.
    fn read<T>(&self, parser: fn(&'a [u8]) -> Field<'a, T>) -> Result<T, BankError> {
        match parser(self.bytes) {
            Ok((_, value)) => Ok(value),
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(self.error(RECORD - e.remaining + 1, format!("expected {}", e.expected))),
            Err(nom::Err::Incomplete(_)) => Err(self.error(1, "the record is cut short")),
        }
    }

    fn error(&self, column: usize, problem: impl Into<String>) -> BankError {
        BankError::at(self.number, column, problem)
    }

    fn kind(&self) -> u8 {
        self.bytes.first().copied().unwrap_or(b' ')
    }

    /// A line of nines, which fills the last block of ten.
    fn is_fill(&self) -> bool {
        self.bytes.iter().all(|b| *b == b'9')
    }
}

/// The file's records: each exactly 94 characters, ending in LF or CRLF
/// (or, in a file without line endings, every 94 characters).
fn lines(bytes: &[u8]) -> Result<Vec<Line<'_>>, BankError> {
    let unbroken = !bytes.contains(&b'\n');
    let records: Vec<&[u8]> = if unbroken {
        if bytes.len() % RECORD != 0 {
            return Err(BankError::at(1, 1, format!("a file without line endings must be whole 94-character records; it has {} bytes", bytes.len())));
        }
        bytes.chunks(RECORD).collect()
    } else {
        let text = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        text.split(|b| *b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l)).collect()
    };
    records
        .into_iter()
        .enumerate()
        .map(|(i, bytes)| match bytes.len() {
            RECORD => Ok(Line { number: i + 1, bytes }),
            n => Err(BankError::at(i + 1, 1, format!("a record is 94 characters; this one has {n}"))),
        })
        .collect()
}

/// Sums as the controls keep them: the entry hash modulo 10^10, amounts in cents.
#[derive(Default)]
struct Totals {
    count: u64,
    hash: u64,
    debits: u64,
    credits: u64,
}

impl Totals {
    fn add_entry(&mut self, e: &Entry) {
        self.count += 1;
        self.hash = (self.hash + e.routing[..8].parse::<u64>().unwrap_or(0)) % 10_000_000_000;
        let cents = (e.amount * Decimal::ONE_HUNDRED).try_into().unwrap_or(0u64);
        if e.is_credit() {
            self.credits += cents;
        } else {
            self.debits += cents;
        }
    }

    fn add(&mut self, other: &Totals) {
        self.count += other.count;
        self.hash = (self.hash + other.hash) % 10_000_000_000;
        self.debits += other.debits;
        self.credits += other.credits;
    }

    /// Compares with a control record's figures; the columns are the
    /// control's (batch `8` or file `9`).
    fn check(&self, line: &Line<'_>, count: (u64, usize), hash: (u64, usize), debits: (u64, usize), credits: (u64, usize)) -> Result<(), BankError> {
        let pairs = [
            (count, self.count, "the entry and addenda count"),
            (hash, self.hash, "the entry hash"),
            (debits, self.debits, "the total debit amount"),
            (credits, self.credits, "the total credit amount"),
        ];
        for ((said, column), counted, what) in pairs {
            if said != counted {
                return Err(line.error(column, format!("{what} is {said}, but the entries add up to {counted}")));
            }
        }
        Ok(())
    }
}

/// Reads and checks a whole ACH file.
pub fn read(bytes: &[u8]) -> Result<AchFile, BankError> {
    let lines = lines(bytes)?;
    let mut it = lines.iter().peekable();
    let first = it.next().ok_or_else(|| BankError::at(1, 1, "the file is empty"))?;
    if first.kind() != b'1' {
        return Err(first.error(1, "an ACH file starts with its file header (record type 1)"));
    }
    let header = first.read(file_header)?;
    let mut batches = Vec::new();
    let mut all = Totals::default();
    let control = loop {
        let line = it.next().ok_or_else(|| BankError::at(lines.len(), 1, "the file ends before its file control (record type 9)"))?;
        match line.kind() {
            b'5' => {
                let (batch, totals) = read_batch(line, &mut it)?;
                all.add(&totals);
                batches.push(batch);
            }
            b'9' => break (line, line.read(file_control)?),
            _ => return Err(line.error(1, "expected a batch header (5) or the file control (9)")),
        }
    };
    let (line, c) = control;
    if c.batches != batches.len() as u64 {
        return Err(line.error(2, format!("the batch count is {}, but the file has {} batches", c.batches, batches.len())));
    }
    all.check(line, (c.count, 14), (c.hash, 22), (c.debits, 32), (c.credits, 44))?;
    for rest in it {
        if !rest.is_fill() {
            return Err(rest.error(1, "after the file control only lines of nines may follow"));
        }
    }
    let blocks = lines.len().div_ceil(10) as u64;
    if c.blocks != blocks {
        return Err(line.error(8, format!("the block count is {}, but the file's {} records make {blocks} blocks of ten", c.blocks, lines.len())));
    }
    Ok(AchFile { created: header.created, origin_name: header.origin_name, destination_name: header.destination_name, batches })
}

/// One batch from its header `line` to its control, checked.
fn read_batch<'a, 'b>(line: &'b Line<'a>, it: &mut std::iter::Peekable<std::slice::Iter<'b, Line<'a>>>) -> Result<(Batch, Totals), BankError> {
    let h = line.read(batch_header)?;
    let mut entries: Vec<Entry> = Vec::new();
    let mut totals = Totals::default();
    loop {
        let next = it.next().ok_or_else(|| line.error(1, "the batch has no batch control (record type 8)"))?;
        match next.kind() {
            b'6' => {
                let (e, has_addenda) = next.read(entry)?;
                totals.add_entry(&e);
                entries.push(e);
                if has_addenda && it.peek().is_none_or(|l| l.kind() != b'7') {
                    return Err(next.error(79, "the addenda indicator is 1, but no addenda record follows"));
                }
            }
            b'7' => {
                let e = entries.last_mut().ok_or_else(|| next.error(1, "an addenda record before any entry"))?;
                e.addenda.push(next.read(addenda)?);
                totals.count += 1;
            }
            b'8' => {
                let c = next.read(batch_control)?;
                if c.service_class != h.service_class {
                    return Err(next.error(2, format!("the service class code is {}, but the batch header's is {}", c.service_class, h.service_class)));
                }
                if c.company_id != h.company_id {
                    return Err(next.error(45, "the company identification differs from the batch header's"));
                }
                if c.number != h.number {
                    return Err(next.error(88, format!("the batch number is {}, but the batch header's is {}", c.number, h.number)));
                }
                totals.check(next, (c.count, 5), (c.hash, 11), (c.debits, 21), (c.credits, 33))?;
                let batch = Batch {
                    number: h.number as u32,
                    company_name: h.company_name,
                    company_id: h.company_id,
                    class: h.class,
                    description: h.description,
                    effective: h.effective,
                    entries,
                };
                return Ok((batch, totals));
            }
            _ => return Err(next.error(1, "expected an entry (6), an addenda (7) or the batch control (8)")),
        }
    }
}

/// The ACH file for `file`, controls computed: what a bank would send for
/// these batches (samples, tests and benchmarks write their files with it).
/// The account field holds the four characters kept of it.
pub fn write(file: &AchFile) -> String {
    let pad = |s: &str, n: usize| format!("{:<n$}", s.chars().take(n).collect::<String>());
    let mut lines = vec![format!(
        "101 999999992 199999990{}0000A094101{}{}{}",
        file.created.format("%y%m%d"),
        pad(&file.destination_name, 23),
        pad(&file.origin_name, 23),
        pad("", 8)
    )];
    let mut all = Totals::default();
    for b in &file.batches {
        let effective = b.effective.map(|d| d.format("%y%m%d").to_string()).unwrap_or_default();
        let (company, number) = (pad(&b.company_id, 10), format!("{:07}", b.number));
        lines.push(format!(
            "5200{}{}{}{}{}{}{}   199999999{number}",
            pad(&b.company_name, 16),
            pad("", 20),
            company,
            pad(&b.class, 3),
            pad(&b.description, 10),
            pad("", 6),
            pad(&effective, 6)
        ));
        let mut totals = Totals::default();
        for e in &b.entries {
            let sequence = e.trace_number.get(8..).unwrap_or("0000000");
            let cents: u64 = (e.amount * Decimal::ONE_HUNDRED).try_into().unwrap_or(0);
            let addenda = if e.addenda.is_empty() { '0' } else { '1' };
            lines.push(format!(
                "6{:02}{}{}{:010}{}{}  {addenda}{:0>15}",
                e.transaction_code,
                pad(&e.routing, 9),
                pad(&e.account_last4, 17),
                cents,
                pad(&e.identification, 15),
                pad(&e.receiver_name, 22),
                e.trace_number
            ));
            totals.add_entry(e);
            for (n, a) in e.addenda.iter().enumerate() {
                lines.push(format!("705{}{:04}{sequence}", pad(a, 80), n + 1));
                totals.count += 1;
            }
        }
        lines.push(format!(
            "8200{:06}{:010}{:012}{:012}{company}{}{}{:0>8}{number}",
            totals.count,
            totals.hash,
            totals.debits,
            totals.credits,
            pad("", 19),
            pad("", 6),
            "99999999"
        ));
        all.add(&totals);
    }
    let records = lines.len() + 1;
    lines.push(format!(
        "9{:06}{:06}{:08}{:010}{:012}{:012}{}",
        file.batches.len(),
        records.div_ceil(10),
        all.count,
        all.hash,
        all.debits,
        all.credits,
        pad("", 39)
    ));
    while lines.len() % 10 != 0 {
        lines.push("9".repeat(RECORD));
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ctx_entry_s_trn_is_found_across_its_addenda() {
        let entry = Entry {
            transaction_code: 22,
            amount: Decimal::new(25340, 2),
            routing: "999999992".into(),
            account_last4: "3444".into(),
            identification: "A00011".into(),
            receiver_name: "0004EXAMPLE PROVIDER".into(),
            trace_number: "099999990000001".into(),
            addenda: vec![
                "ISA*00*          *00*          *ZZ*PAYER          *ZZ*PROVIDER       *240115*0900*^*00501*".into(),
                "000000001*0*P*:~ST*835*0001~BPR*C*253.40*C*ACH*CTX*01*999999992*DA*000111222*19999999".into(),
                "01**01*999999993*DA*000333444*20240115~TRN*1*EFT-2024".into(),
                "0115-0001*1999999901~SE*4*0001~".into(),
            ],
        };
        let trn = entry.trn().expect("the TRN cut between two addenda");
        assert_eq!((trn.trace.as_str(), trn.payer_id.as_str()), ("EFT-20240115-0001", "1999999901"));
    }
}
