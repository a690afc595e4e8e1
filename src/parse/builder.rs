//! Builds the typed [`Transaction`] from segments the grammar has placed.
//!
//! The grammar decides structure (which loop a segment is in); this module
//! decides meaning (which field a segment fills). It also remembers the
//! ordinal of each CLP and SVC so that balancing errors can point at them.

use rust_decimal::Decimal;

use super::balance;
use super::limits::{self, Figure};
use super::segment::{field_error, FieldError, Seg};
use crate::grammar::Grammar;
use crate::model::{Address, Adjustment, Claim, Party, Payment, Person, ProviderAdjustment, QualifiedAmount, Reference, Service, Text, Trace, Transaction};
use crate::x12::{tag_code, Found, Problem};

const ST: u32 = tag_code(b"ST");
const BPR: u32 = tag_code(b"BPR");
const TRN: u32 = tag_code(b"TRN");
const DTM: u32 = tag_code(b"DTM");
const PLB: u32 = tag_code(b"PLB");
const N1: u32 = tag_code(b"N1");
const N3: u32 = tag_code(b"N3");
const N4: u32 = tag_code(b"N4");
const REF: u32 = tag_code(b"REF");
const LX: u32 = tag_code(b"LX");
const CLP: u32 = tag_code(b"CLP");
const SVC: u32 = tag_code(b"SVC");
const CAS: u32 = tag_code(b"CAS");
const NM1: u32 = tag_code(b"NM1");
const AMT: u32 = tag_code(b"AMT");
const LQ: u32 = tag_code(b"LQ");
const MOA: u32 = tag_code(b"MOA");
const MIA: u32 = tag_code(b"MIA");

/// The loops the builder cares about, resolved to grammar indices once.
#[derive(Debug, Clone, Copy)]
pub struct LoopRoles {
    root: usize,
    payer: usize,
    payee: usize,
    header: usize,
    claim: usize,
    service: usize,
}

impl LoopRoles {
    /// Resolves the 835 loop ids a grammar must define.
    pub fn of(grammar: &Grammar) -> Option<LoopRoles> {
        Some(LoopRoles {
            root: 0,
            payer: grammar.loop_index("1000A")?,
            payee: grammar.loop_index("1000B")?,
            header: grammar.loop_index("2000")?,
            claim: grammar.loop_index("2100")?,
            service: grammar.loop_index("2110")?,
        })
    }
}

/// Segment ordinals (ST = 1) of what balancing reports on, and what
/// balancing found in each claim as it was finished (see
/// `Builder::close_claim`). Only the open claim's ordinals are kept: a
/// transaction set of any size is checked in the same memory.
#[derive(Debug, Default, Clone)]
pub struct Positions {
    pub bpr: u64,
    /// The open claim's CLP ordinal and its SVC ordinals.
    clp: u64,
    services: Vec<u64>,
    /// The first claim (in order) that breaks a balancing rule, and where.
    pub unbalanced: Option<balance::Finding>,
    /// Sum of CLP04 over the claims, added in order.
    pub paid: Decimal,
    /// Claims in the set so far.
    pub claims: u64,
    /// Patient responsibility warnings, in claim order, at most
    /// [`MAX_WARNINGS`](super::reader::MAX_WARNINGS); past that counted.
    pub warnings: Vec<(u64, String)>,
    pub warnings_dropped: u64,
    /// The first claim (its CLP ordinal) with a figure posting derives
    /// that the ledger cannot store (see [`limits::claim_figures`]).
    pub beyond: Option<(u64, Figure, Problem)>,
}

#[derive(Default)]
pub struct Builder {
    control_number: Text,
    guide: Text,
    trace: Option<Trace>,
    payment: Option<Payment>,
    production_date: Option<chrono::NaiveDate>,
    payer: Option<Party>,
    payee: Option<Party>,
    header_number: Option<Text>,
    claims: Vec<Claim>,
    provider_adjustments: Vec<ProviderAdjustment>,
    pub positions: Positions,
}

/// Most claims [`Builder::new`] makes room for up front (about 1 MB).
const MAX_CLAIMS_HINT: usize = 1024;

impl Builder {
    /// A builder for a transaction set expected to hold about `claims`
    /// claims (the previous one's count is a good guess): room made once
    /// spares copying a growing vector of large claims again and again.
    pub fn new(guide: &str, claims: usize) -> Self {
        let claims = claims.min(MAX_CLAIMS_HINT);
        Builder { guide: guide.into(), claims: Vec::with_capacity(claims), ..Builder::default() }
    }

    /// Takes one placed segment: `loop_idx` is the loop it was placed in.
    pub fn segment(&mut self, roles: &LoopRoles, loop_idx: usize, seg: &Seg<'_, '_>, ordinal: u64) -> Result<(), FieldError> {
        let l = loop_idx;
        match seg.code {
            ST => self.control_number = seg.text(2),
            BPR if l == roles.root => {
                self.positions.bpr = ordinal;
                self.payment = Some(Payment {
                    handling_code: seg.required(1, "Transaction Handling Code")?,
                    amount: seg.amount(2, "Total Actual Provider Payment Amount")?,
                    credit_debit: seg.required(3, "Credit/Debit Flag Code")?,
                    method: seg.required(4, "Payment Method Code")?,
                    format: seg.opt(5),
                    // The grammar lets a bad BPR16 through with a warning (see
                    // its on_invalid); here it is simply unknown.
                    date: seg.date(16).unwrap_or(None),
                });
            }
            TRN if l == roles.root => {
                self.trace = Some(Trace {
                    type_code: seg.required(1, "Trace Type Code")?,
                    number: seg.required(2, "Check or EFT Trace Number")?,
                    originator_id: seg.required(3, "Payer Identifier")?,
                    originator_supplemental_id: seg.opt(4),
                });
            }
            DTM if l == roles.root && seg.raw(1) == b"405" => self.production_date = seg.date(2)?,
            PLB => self.provider_adjustments(seg)?,
            N1 if l == roles.payer => self.payer = Some(party(seg)?),
            N1 if l == roles.payee => self.payee = Some(party(seg)?),
            N3 | N4 | REF if l == roles.payer || l == roles.payee => {
                let target = if l == roles.payer { self.payer.as_mut() } else { self.payee.as_mut() };
                if let Some(p) = target {
                    party_detail(p, seg);
                }
            }
            LX if l == roles.header => self.header_number = seg.opt(1),
            CLP if l == roles.claim => self.claim(seg, ordinal)?,
            SVC if l == roles.service => self.service(seg, ordinal)?,
            _ if l == roles.claim => {
                if let Some(claim) = self.claims.last_mut() {
                    claim_detail(claim, seg)?;
                }
            }
            _ if l == roles.service => {
                if let Some(svc) = self.claims.last_mut().and_then(|c| c.services.last_mut()) {
                    service_detail(svc, seg)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Balances the last claim while it is still in cache, so that the check
    /// at the end of the transaction set need not walk every claim again
    /// (see [`balance::check`]), and checks what posting would derive from
    /// it fits the ledger. No segment changes a claim once the next one has
    /// begun.
    fn close_claim(&mut self) {
        let Some(claim) = self.claims.last() else { return };
        let pos = &mut self.positions;
        if pos.unbalanced.is_none() && !balance::claim_balances(claim) {
            pos.unbalanced = balance::claim_finding(claim, pos.clp, &pos.services);
        }
        pos.paid += claim.paid;
        if let Some(warning) = balance::patient_responsibility_warning(claim, pos.clp) {
            if pos.warnings.len() < super::reader::MAX_WARNINGS {
                pos.warnings.push(warning);
            } else {
                pos.warnings_dropped += 1;
            }
        }
        if pos.beyond.is_none() {
            pos.beyond = limits::claim_figures(claim).err().map(|(figure, problem)| (pos.clp, figure, problem));
        }
    }

    fn claim(&mut self, seg: &Seg<'_, '_>, ordinal: u64) -> Result<(), FieldError> {
        self.close_claim();
        self.positions.clp = ordinal;
        self.positions.services.clear();
        self.positions.claims += 1;
        self.claims.push(Claim {
            patient_control_number: seg.required(1, "Patient Control Number")?,
            status_code: seg.required(2, "Claim Status Code")?,
            charge: seg.amount(3, "Total Claim Charge Amount")?,
            paid: seg.amount(4, "Claim Payment Amount")?,
            patient_responsibility: seg.opt_amount(5)?,
            filing_indicator: seg.text(6),
            payer_claim_control_number: seg.opt(7),
            facility_type: seg.opt(8),
            frequency: seg.opt(9),
            header_number: self.header_number.clone(),
            ..Claim::default()
        });
        Ok(())
    }

    fn service(&mut self, seg: &Seg<'_, '_>, ordinal: u64) -> Result<(), FieldError> {
        let mut parts = seg.components(1);
        let procedure_qualifier = parts.next().unwrap_or_default();
        let procedure = parts.next().unwrap_or_default();
        if procedure.is_empty() {
            return Err(field_error("SVC01-2", Problem::MissingElement { name: "Procedure Code".into() }));
        }
        let modifiers = parts.take(4).filter(|m| !m.is_empty()).collect();
        let original_procedure = seg.components(6).nth(1).filter(|c| !c.is_empty());
        let service = Service {
            procedure_qualifier,
            procedure,
            modifiers,
            charge: seg.amount(2, "Line Item Charge Amount")?,
            paid: seg.amount(3, "Line Item Provider Payment Amount")?,
            revenue_code: seg.opt(4),
            units: seg.quantity(5)?,
            original_procedure,
            original_units: seg.quantity(7)?,
            line_control_number: None,
            service_date: None,
            service_period_start: None,
            service_period_end: None,
            adjustments: Vec::new(),
            allowed: None,
            remarks: Vec::new(),
        };
        match self.claims.last_mut() {
            Some(claim) => {
                push_short(&mut claim.services, service);
                self.positions.services.push(ordinal);
                Ok(())
            }
            None => Err(field_error("SVC01", Problem::UnexpectedSegment { found: Found::tag(b"SVC"), hint: " before any CLP".into() })),
        }
    }

    fn provider_adjustments(&mut self, seg: &Seg<'_, '_>) -> Result<(), FieldError> {
        let provider_id = seg.required(1, "Provider Identifier")?;
        let fiscal_period_date = seg.date(2)?.ok_or_else(|| field_error("PLB02", Problem::MissingElement { name: "Fiscal Period Date".into() }))?;
        for pair in 0..6 {
            let (reason_el, amount_el) = (3 + 2 * pair, 4 + 2 * pair);
            if seg.raw(reason_el).is_empty() {
                continue;
            }
            let mut parts = seg.components(reason_el);
            let reason = parts.next().unwrap_or_default();
            let reference = parts.next().filter(|r| !r.is_empty());
            self.provider_adjustments.push(ProviderAdjustment {
                provider_id: provider_id.clone(),
                fiscal_period_date,
                reason,
                reference,
                amount: seg.amount(amount_el, "Provider Adjustment Amount")?,
            });
        }
        Ok(())
    }

    /// Claims finished so far (every claim but the open one).
    pub fn closed_claims(&self) -> usize {
        self.claims.len().saturating_sub(1)
    }

    /// Hands out the finished claims with the set's header: one part of a
    /// set read in parts (`Reader::in_parts`). The open claim stays, and no
    /// segment changes a claim once the next one has begun.
    pub fn take_part(&mut self) -> Result<Transaction, FieldError> {
        let open = self.claims.pop();
        let closed = std::mem::replace(&mut self.claims, Vec::with_capacity(MAX_CLAIMS_HINT));
        self.claims.extend(open);
        self.transaction(closed, Vec::new())
    }

    fn transaction(&self, claims: Vec<Claim>, provider_adjustments: Vec<ProviderAdjustment>) -> Result<Transaction, FieldError> {
        let missing = |tag: &str, name: &str| field_error(tag, Problem::MissingElement { name: name.to_string() });
        let trace = self.trace.clone().ok_or_else(|| missing("TRN", "Reassociation Trace Number segment"))?;
        Ok(Transaction {
            control_number: self.control_number.clone(),
            implementation_guide: self.guide.clone(),
            trace_number: trace.number.clone(),
            trace,
            payment: self.payment.clone().ok_or_else(|| missing("BPR", "Financial Information segment"))?,
            production_date: self.production_date,
            payer: self.payer.clone().ok_or_else(|| missing("N1", "Payer Identification (N1*PR)"))?,
            payee: self.payee.clone().ok_or_else(|| missing("N1", "Payee Identification (N1*PE)"))?,
            claims,
            provider_adjustments,
        })
    }

    /// The finished transaction (its last part, when read in parts), or the
    /// required part the grammar let through but the model cannot do
    /// without.
    pub fn finish(mut self) -> Result<(Transaction, Positions), FieldError> {
        self.close_claim();
        let claims = std::mem::take(&mut self.claims);
        let provider_adjustments = std::mem::take(&mut self.provider_adjustments);
        let tx = self.transaction(claims, provider_adjustments)?;
        Ok((tx, self.positions))
    }
}

fn party(seg: &Seg<'_, '_>) -> Result<Party, FieldError> {
    Ok(Party { name: seg.opt(2).unwrap_or_default(), id_qualifier: seg.opt(3), id: seg.opt(4), address: None, references: Vec::new() })
}

fn party_detail(p: &mut Party, seg: &Seg<'_, '_>) {
    match seg.code {
        N3 => p.address.get_or_insert_with(Address::default).lines.extend([seg.opt(1), seg.opt(2)].into_iter().flatten()),
        N4 => {
            let a = p.address.get_or_insert_with(Address::default);
            a.city = seg.opt(1);
            a.state = seg.opt(2);
            a.postal_code = seg.opt(3);
        }
        REF => p.references.push(Reference { qualifier: seg.text(1), value: seg.text(2) }),
        _ => {}
    }
}

fn person(seg: &Seg<'_, '_>) -> Person {
    Person { last_name: seg.opt(3), first_name: seg.opt(4), middle_name: seg.opt(5), suffix: seg.opt(7), id_qualifier: seg.opt(8), id: seg.opt(9) }
}

/// Pushes onto a list that is nearly always short (a claim's service lines,
/// a line's adjustments): room for two at first, not the four `Vec` makes.
/// A transaction set's model is built whole and dropped whole; the smaller
/// it is, the more of it is still in cache when that happens.
#[inline(always)]
fn push_short<T>(list: &mut Vec<T>, item: T) {
    if list.capacity() == 0 {
        list.reserve_exact(2);
    }
    list.push(item);
}

/// CAS: a group code, then up to six (reason, amount, quantity) triplets.
fn adjustments(seg: &Seg<'_, '_>, into: &mut Vec<Adjustment>) -> Result<(), FieldError> {
    let group = seg.required(1, "Claim Adjustment Group Code")?;
    // Reason elements CAS02, 05, ... 17, only as far as the segment goes:
    // most segments hold one triplet.
    for reason_el in (2..=seg.els.len()).step_by(3).take(6) {
        let Some(reason) = seg.opt(reason_el) else { continue };
        push_short(
            into,
            Adjustment { group: group.clone(), reason, amount: seg.amount(reason_el + 1, "Adjustment Amount")?, quantity: seg.quantity(reason_el + 2)? },
        );
    }
    Ok(())
}

fn claim_detail(claim: &mut Claim, seg: &Seg<'_, '_>) -> Result<(), FieldError> {
    match (seg.code, seg.raw(1)) {
        (CAS, _) => adjustments(seg, &mut claim.adjustments)?,
        (NM1, b"QC") => claim.patient = Some(person(seg)),
        (NM1, b"IL") => claim.insured = Some(Box::new(person(seg))),
        (NM1, b"74") => claim.corrected_patient = Some(Box::new(person(seg))),
        (NM1, b"82") => claim.rendering_provider = Some(Box::new(person(seg))),
        (REF, b"F8") => claim.original_reference = seg.opt(2),
        (REF, _) => claim.references.push(Reference { qualifier: seg.text(1), value: seg.text(2) }),
        (DTM, b"232") => claim.statement_from = seg.date(2)?,
        (DTM, b"233") => claim.statement_to = seg.date(2)?,
        (DTM, b"050") => claim.received_date = seg.date(2)?,
        (AMT, b"I") => claim.interest = Some(seg.amount(2, "Interest Amount")?),
        (AMT, _) => claim.amounts.push(QualifiedAmount { qualifier: seg.text(1), amount: seg.amount(2, "Monetary Amount")? }),
        (MOA, _) => claim.remarks.extend((3..=7).filter_map(|n| seg.opt(n))),
        (MIA, _) => claim.remarks.extend([5, 20, 21, 22, 23].into_iter().filter_map(|n| seg.opt(n))),
        _ => {}
    }
    Ok(())
}

fn service_detail(svc: &mut Service, seg: &Seg<'_, '_>) -> Result<(), FieldError> {
    match (seg.code, seg.raw(1)) {
        (CAS, _) => adjustments(seg, &mut svc.adjustments)?,
        (DTM, b"472") => svc.service_date = seg.date(2)?,
        (DTM, b"150") => svc.service_period_start = seg.date(2)?,
        (DTM, b"151") => svc.service_period_end = seg.date(2)?,
        (REF, b"6R") => svc.line_control_number = seg.opt(2),
        (AMT, b"B6") => svc.allowed = Some(seg.amount(2, "Allowed Amount")?),
        (LQ, _) => svc.remarks.extend(seg.opt(2)),
        _ => {}
    }
    Ok(())
}

/// Sum of amounts, exact.
pub fn total<'a>(amounts: impl IntoIterator<Item = &'a Decimal>) -> Decimal {
    amounts.into_iter().sum()
}
