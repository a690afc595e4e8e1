//! Writes 835 files: the model back to X12 text, and synthetic remittances.
//!
//! The writer is the inverse of the reader for every field the model holds,
//! which is what the round-trip property tests rely on. The synthetic
//! generator makes large, balanced, realistic files for benchmarks; it is
//! seeded, so the same arguments always give the same bytes.

use std::io::{self, Write};

use chrono::NaiveDate;
use compact_str::format_compact;
use rust_decimal::Decimal;

use crate::model::{Address, Adjustment, Claim, Party, Payment, Person, ProviderAdjustment, Reference, Service, Text, Trace, Transaction};

/// Writes segments with one set of delimiters, counting them for SE01.
pub struct X12Writer<W> {
    out: W,
    element: char,
    component: char,
    terminator: &'static str,
    segments: u64,
}

impl<W: Write> X12Writer<W> {
    /// `*` elements, `:` components, `~` terminator followed by a newline.
    pub fn new(out: W) -> Self {
        X12Writer { out, element: '*', component: ':', terminator: "~\n", segments: 0 }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    /// Writes one segment; trailing empty elements are left off.
    pub fn segment(&mut self, tag: &str, elements: &[&str]) -> io::Result<()> {
        let used = elements.iter().rposition(|e| !e.is_empty()).map_or(0, |p| p + 1);
        let mut line = String::with_capacity(64);
        line.push_str(tag);
        for e in &elements[..used] {
            line.push(self.element);
            line.push_str(e);
        }
        line.push_str(self.terminator);
        self.segments += 1;
        self.out.write_all(line.as_bytes())
    }

    fn composite(&self, parts: &[&str]) -> String {
        let used = parts.iter().rposition(|e| !e.is_empty()).map_or(0, |p| p + 1);
        parts[..used].join(&self.component.to_string())
    }

    /// ISA and GS for one interchange holding one group.
    pub fn open_interchange(&mut self, control: u32, test: bool, guide: &str) -> io::Result<()> {
        let usage = if test { "T" } else { "P" };
        let ctrl = format!("{control:09}");
        let version = if guide.starts_with("004010") { "00401" } else { "00501" };
        let repetition = if version == "00401" { "U" } else { "^" };
        let isa = [
            "00",
            "          ",
            "00",
            "          ",
            "ZZ",
            "REMITDGEN      ",
            "ZZ",
            "PROVIDER       ",
            "240115",
            "0930",
            repetition,
            version,
            &ctrl,
            "0",
            usage,
            ":",
        ];
        self.segment("ISA", &isa)?;
        self.segment("GS", &["HP", "REMITDGEN", "PROVIDER", "20240115", "0930", &control.to_string(), "X", guide])
    }

    pub fn close_interchange(&mut self, control: u32, transactions: usize) -> io::Result<()> {
        self.segment("GE", &[&transactions.to_string(), &control.to_string()])?;
        self.segment("IEA", &["1", &format!("{control:09}")])
    }

    /// One transaction set, ST to SE.
    pub fn transaction(&mut self, tx: &Transaction) -> io::Result<()> {
        let start = self.segments;
        let st03 = if tx.implementation_guide.starts_with("005010") { tx.implementation_guide.as_str() } else { "" };
        self.segment("ST", &["835", &tx.control_number, st03])?;
        self.payment(&tx.payment)?;
        self.trace(&tx.trace)?;
        if let Some(d) = tx.production_date {
            self.segment("DTM", &["405", &date(d)])?;
        }
        self.party("PR", &tx.payer)?;
        self.party("PE", &tx.payee)?;
        let mut header: Option<&Option<Text>> = None;
        for claim in &tx.claims {
            if header != Some(&claim.header_number) {
                self.segment("LX", &[claim.header_number.as_deref().unwrap_or("1")])?;
                header = Some(&claim.header_number);
            }
            self.claim(claim)?;
        }
        self.provider_adjustments(&tx.provider_adjustments)?;
        let count = self.segments - start + 1;
        self.segment("SE", &[&count.to_string(), &tx.control_number])
    }

    fn payment(&mut self, p: &Payment) -> io::Result<()> {
        let mut els = vec![
            p.handling_code.to_string(),
            p.amount.to_string(),
            p.credit_debit.to_string(),
            p.method.to_string(),
            p.format.as_deref().unwrap_or_default().to_string(),
        ];
        if let Some(d) = p.date {
            els.resize(15, String::new());
            els.push(date(d));
        }
        self.segment("BPR", &refs(&els))
    }

    fn trace(&mut self, t: &Trace) -> io::Result<()> {
        self.segment("TRN", &[&t.type_code, &t.number, &t.originator_id, t.originator_supplemental_id.as_deref().unwrap_or("")])
    }

    fn party(&mut self, code: &str, p: &Party) -> io::Result<()> {
        self.segment("N1", &[code, &p.name, p.id_qualifier.as_deref().unwrap_or(""), p.id.as_deref().unwrap_or("")])?;
        if let Some(a) = &p.address {
            self.address(a)?;
        }
        for r in &p.references {
            self.segment("REF", &[&r.qualifier, &r.value])?;
        }
        Ok(())
    }

    fn address(&mut self, a: &Address) -> io::Result<()> {
        if !a.lines.is_empty() {
            self.segment("N3", &refs(&a.lines))?;
        }
        let city = [a.city.as_deref(), a.state.as_deref(), a.postal_code.as_deref()].map(Option::unwrap_or_default);
        if city.iter().any(|c| !c.is_empty()) {
            self.segment("N4", &city)?;
        }
        Ok(())
    }

    fn claim(&mut self, c: &Claim) -> io::Result<()> {
        let pr = c.patient_responsibility.map(|d| d.to_string()).unwrap_or_default();
        let opt = |o: &Option<Text>| o.as_deref().unwrap_or_default().to_string();
        let els = [
            c.patient_control_number.to_string(),
            c.status_code.to_string(),
            c.charge.to_string(),
            c.paid.to_string(),
            pr,
            c.filing_indicator.to_string(),
            opt(&c.payer_claim_control_number),
            opt(&c.facility_type),
            opt(&c.frequency),
        ];
        self.segment("CLP", &refs(&els))?;
        self.adjustments(&c.adjustments)?;
        let others = [("IL", &c.insured), ("74", &c.corrected_patient), ("82", &c.rendering_provider)];
        for (code, person) in [("QC", c.patient.as_ref())].into_iter().chain(others.map(|(code, p)| (code, p.as_deref()))) {
            if let Some(p) = person {
                self.person(code, p)?;
            }
        }
        // Remarks as MOA (MIA needs figures the model does not keep): five
        // fit, as many as one MOA carries.
        if !c.remarks.is_empty() {
            let mut els = vec!["", ""];
            els.extend(c.remarks.iter().take(5).map(|r| r.as_str()));
            self.segment("MOA", &els)?;
        }
        if let Some(f8) = &c.original_reference {
            self.segment("REF", &["F8", f8])?;
        }
        for r in &c.references {
            self.reference(r)?;
        }
        for (code, d) in [("232", c.statement_from), ("233", c.statement_to), ("050", c.received_date)] {
            if let Some(d) = d {
                self.segment("DTM", &[code, &date(d)])?;
            }
        }
        if let Some(i) = c.interest {
            self.segment("AMT", &["I", &i.to_string()])?;
        }
        for a in &c.amounts {
            self.segment("AMT", &[&a.qualifier, &a.amount.to_string()])?;
        }
        for s in &c.services {
            self.service(s)?;
        }
        Ok(())
    }

    fn reference(&mut self, r: &Reference) -> io::Result<()> {
        self.segment("REF", &[&r.qualifier, &r.value])
    }

    fn person(&mut self, code: &str, p: &Person) -> io::Result<()> {
        let kind = if code == "82" && p.first_name.is_none() { "2" } else { "1" };
        let o = |v: &Option<Text>| v.as_deref().unwrap_or_default().to_string();
        let els = [
            code.to_string(),
            kind.to_string(),
            o(&p.last_name),
            o(&p.first_name),
            o(&p.middle_name),
            String::new(),
            o(&p.suffix),
            o(&p.id_qualifier),
            o(&p.id),
        ];
        self.segment("NM1", &refs(&els))
    }

    fn service(&mut self, s: &Service) -> io::Result<()> {
        let mut proc = vec![s.procedure_qualifier.as_str(), s.procedure.as_str()];
        proc.extend(s.modifiers.iter().map(Text::as_str));
        let proc = self.composite(&proc);
        let original = s.original_procedure.as_ref().map(|p| self.composite(&[&s.procedure_qualifier, p])).unwrap_or_default();
        let o = |v: &Option<Decimal>| v.map(|d| d.to_string()).unwrap_or_default();
        let els = [
            proc,
            s.charge.to_string(),
            s.paid.to_string(),
            s.revenue_code.as_deref().unwrap_or_default().to_string(),
            o(&s.units),
            original,
            o(&s.original_units),
        ];
        self.segment("SVC", &refs(&els))?;
        for (code, d) in [("472", s.service_date), ("150", s.service_period_start), ("151", s.service_period_end)] {
            if let Some(d) = d {
                self.segment("DTM", &[code, &date(d)])?;
            }
        }
        self.adjustments(&s.adjustments)?;
        if let Some(l) = &s.line_control_number {
            self.segment("REF", &["6R", l])?;
        }
        if let Some(a) = s.allowed {
            self.segment("AMT", &["B6", &a.to_string()])?;
        }
        for r in &s.remarks {
            self.segment("LQ", &["HE", r])?;
        }
        Ok(())
    }

    /// CAS segments: consecutive adjustments of one group share a segment, six at most.
    fn adjustments(&mut self, adjustments: &[Adjustment]) -> io::Result<()> {
        let mut i = 0;
        while i < adjustments.len() {
            let group = &adjustments[i].group;
            let run = adjustments[i..].iter().take(6).take_while(|a| a.group == *group).count();
            let mut els = vec![group.to_string()];
            for a in &adjustments[i..i + run] {
                els.extend([a.reason.to_string(), a.amount.to_string(), a.quantity.map(|q| q.to_string()).unwrap_or_default()]);
            }
            self.segment("CAS", &refs(&els))?;
            i += run;
        }
        Ok(())
    }

    /// PLB segments: consecutive adjustments of one provider and date share one, six at most.
    fn provider_adjustments(&mut self, adjustments: &[ProviderAdjustment]) -> io::Result<()> {
        let mut i = 0;
        while i < adjustments.len() {
            let first = &adjustments[i];
            let run =
                adjustments[i..].iter().take(6).take_while(|a| a.provider_id == first.provider_id && a.fiscal_period_date == first.fiscal_period_date).count();
            let mut els = vec![first.provider_id.to_string(), date(first.fiscal_period_date)];
            for a in &adjustments[i..i + run] {
                let reason = match &a.reference {
                    Some(r) => self.composite(&[&a.reason, r]),
                    None => a.reason.to_string(),
                };
                els.extend([reason, a.amount.to_string()]);
            }
            self.segment("PLB", &refs(&els))?;
            i += run;
        }
        Ok(())
    }
}

fn refs<S: AsRef<str>>(v: &[S]) -> Vec<&str> {
    v.iter().map(AsRef::as_ref).collect()
}

fn date(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

/// Shape of a synthetic file.
#[derive(Debug, Clone, Copy)]
pub struct Synthetic {
    pub transactions: usize,
    pub claims_per_transaction: usize,
    pub seed: u64,
}

fn cents(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

/// A synthetic claim: one to four lines, CO-45 contractual on most, patient
/// responsibility on some, an occasional denial. Balanced by construction.
fn synthetic_claim(rng: &mut fastrand::Rng, n: usize) -> Claim {
    let lines = rng.usize(1..=4);
    let denied = rng.u8(0..20) == 0;
    let mut services = Vec::with_capacity(lines);
    let day = NaiveDate::from_ymd_opt(2024, 1, 1).and_then(|d| d.checked_add_days(chrono::Days::new(rng.u64(0..300))));
    for l in 0..lines {
        let charge = rng.i64(5_000..60_000);
        let mut adjustments = Vec::new();
        let paid = if denied {
            adjustments.push(Adjustment { group: "CO".into(), reason: "50".into(), amount: cents(charge), quantity: None });
            0
        } else {
            let contractual = charge * rng.i64(10..40) / 100;
            adjustments.push(Adjustment { group: "CO".into(), reason: "45".into(), amount: cents(contractual), quantity: None });
            let coinsurance = if rng.bool() { (charge - contractual) / 5 } else { 0 };
            if coinsurance > 0 {
                adjustments.push(Adjustment { group: "PR".into(), reason: "2".into(), amount: cents(coinsurance), quantity: None });
            }
            charge - contractual - coinsurance
        };
        services.push(Service {
            procedure_qualifier: "HC".into(),
            procedure: format_compact!("99{:03}", 200 + rng.u32(0..20)),
            modifiers: if rng.u8(0..4) == 0 { vec!["25".into()] } else { Vec::new() },
            charge: cents(charge),
            paid: cents(paid),
            revenue_code: None,
            units: Some(Decimal::ONE),
            original_procedure: None,
            original_units: None,
            line_control_number: Some(format_compact!("{n}L{l}")),
            service_date: day,
            service_period_start: None,
            service_period_end: None,
            adjustments,
            allowed: Some(cents(charge)),
            remarks: Vec::new(),
        });
    }
    let pr: Decimal = services.iter().flat_map(|s| &s.adjustments).filter(|a| a.group == "PR").map(|a| a.amount).sum();
    Claim {
        patient_control_number: format_compact!("CLM{n:09}"),
        status_code: if denied { "4".into() } else { "1".into() },
        charge: services.iter().map(|s| s.charge).sum(),
        paid: services.iter().map(|s| s.paid).sum(),
        patient_responsibility: Some(pr),
        filing_indicator: "12".into(),
        payer_claim_control_number: Some(format_compact!("PCN{n:012}")),
        facility_type: Some("11".into()),
        frequency: Some("1".into()),
        header_number: Some("1".into()),
        patient: Some(Person {
            last_name: Some("SYNTHETIC".into()),
            first_name: Some(format_compact!("PATIENT{}", n % 1000)),
            middle_name: None,
            suffix: None,
            id_qualifier: Some("MI".into()),
            id: Some(format_compact!("M{n:010}")),
        }),
        statement_from: day,
        statement_to: day,
        services,
        ..Claim::default()
    }
}

/// A synthetic transaction set with `claims` claims numbered from `first`.
pub fn synthetic_transaction(rng: &mut fastrand::Rng, control: usize, first: usize, claims: usize) -> Transaction {
    let claims: Vec<Claim> = (first..first + claims).map(|n| synthetic_claim(rng, n)).collect();
    let paid: Decimal = claims.iter().map(|c| c.paid).sum();
    Transaction {
        control_number: format_compact!("{control:04}"),
        implementation_guide: "005010X221A1".into(),
        trace_number: format_compact!("EFT{control:010}"),
        trace: Trace {
            type_code: "1".into(),
            number: format_compact!("EFT{control:010}"),
            originator_id: "1999999999".into(),
            originator_supplemental_id: None,
        },
        payment: Payment {
            handling_code: "I".into(),
            amount: paid,
            credit_debit: "C".into(),
            method: "ACH".into(),
            format: Some("CCP".into()),
            date: NaiveDate::from_ymd_opt(2024, 1, 15),
        },
        production_date: NaiveDate::from_ymd_opt(2024, 1, 12),
        payer: Party {
            name: "SYNTHETIC HEALTH PLAN".into(),
            id_qualifier: Some("XV".into()),
            id: Some("SYN01".into()),
            address: Some(Address {
                lines: vec!["1 PLAN WAY".into()],
                city: Some("SPRINGFIELD".into()),
                state: Some("IL".into()),
                postal_code: Some("62701".into()),
            }),
            references: vec![Reference { qualifier: "2U".into(), value: "SYN01".into() }],
        },
        payee: Party {
            name: "SYNTHETIC CLINIC".into(),
            id_qualifier: Some("XX".into()),
            id: Some("1999999984".into()),
            address: None,
            references: vec![Reference { qualifier: "TJ".into(), value: "999999999".into() }],
        },
        claims,
        provider_adjustments: Vec::new(),
    }
}

/// Writes a synthetic file: one interchange, one group, `transactions` sets.
pub fn write_synthetic(out: impl Write, spec: Synthetic) -> io::Result<()> {
    let mut rng = fastrand::Rng::with_seed(spec.seed);
    let mut w = X12Writer::new(io::BufWriter::with_capacity(1 << 20, out));
    w.open_interchange(1, false, "005010X221A1")?;
    for t in 0..spec.transactions {
        let tx = synthetic_transaction(&mut rng, t + 1, t * spec.claims_per_transaction, spec.claims_per_transaction);
        w.transaction(&tx)?;
    }
    w.close_interchange(1, spec.transactions)?;
    w.into_inner().flush()
}
