//! The typed 835: what a remittance says, in the shape posting needs.
//!
//! This is also the public JSON contract of `remitd parse --format json`
//! (documented in the README): field names here are the names in the JSON,
//! amounts serialize as strings holding the exact decimal from the file, and
//! dates as `YYYY-MM-DD`. Optional fields that are absent are left out.
//!
//! Text fields are [`Text`] (a string that keeps up to 24 bytes inline):
//! nearly every X12 value is short, and a heap allocation per element was
//! the largest cost of parsing.

use chrono::NaiveDate;
pub use compact_str::CompactString as Text;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// One ISA ... IEA envelope, without its transaction sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterchangeHeader {
    /// ISA13.
    pub control_number: Text,
    /// ISA05 and ISA06.
    pub sender_qualifier: Text,
    pub sender_id: Text,
    /// ISA07 and ISA08.
    pub receiver_qualifier: Text,
    pub receiver_id: Text,
    /// ISA09 and ISA10.
    pub date: NaiveDate,
    pub time: Text,
    /// ISA12 (`00501`, `00401`).
    pub version: Text,
    /// ISA15: test data is never posted to a production ledger.
    pub usage: Usage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Usage {
    Production,
    Test,
}

/// One GS ... GE functional group, without its transaction sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupHeader {
    /// GS06.
    pub control_number: Text,
    /// GS01 (`HP` for an 835).
    pub functional_id: Text,
    /// GS02 and GS03.
    pub sender: Text,
    pub receiver: Text,
    /// GS04 and GS05.
    pub date: NaiveDate,
    pub time: Text,
    /// GS08: the implementation guide.
    pub version: Text,
}

/// One 835 transaction set (ST ... SE): one payment or remittance from one payer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// ST02.
    pub control_number: Text,
    /// The guide the set was read against (ST03, else GS08).
    pub implementation_guide: Text,
    /// TRN02: check or EFT trace number; with the payer, the remittance's identity.
    pub trace_number: Text,
    pub trace: Trace,
    pub payment: Payment,
    /// DTM*405.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub production_date: Option<NaiveDate>,
    pub payer: Party,
    pub payee: Party,
    pub claims: Vec<Claim>,
    pub provider_adjustments: Vec<ProviderAdjustment>,
}

impl Transaction {
    /// The set without its claims and provider adjustments: what every
    /// part of a set read in parts shares.
    pub fn head(&self) -> Transaction {
        Transaction {
            control_number: self.control_number.clone(),
            implementation_guide: self.implementation_guide.clone(),
            trace_number: self.trace_number.clone(),
            trace: self.trace.clone(),
            payment: self.payment.clone(),
            production_date: self.production_date,
            payer: self.payer.clone(),
            payee: self.payee.clone(),
            claims: Vec::new(),
            provider_adjustments: Vec::new(),
        }
    }
}

/// TRN: reassociation trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// TRN01 (`1` current transaction trace numbers).
    pub type_code: Text,
    /// TRN02.
    pub number: Text,
    /// TRN03: payer identifier (usually `1` + EIN).
    pub originator_id: Text,
    /// TRN04.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub originator_supplemental_id: Option<Text>,
}

/// BPR: the money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// BPR01: C, D, H, I, P, U or X.
    pub handling_code: Text,
    /// BPR02: total actual provider payment.
    pub amount: Decimal,
    /// BPR03: C credit, D debit.
    pub credit_debit: Text,
    /// BPR04: ACH, BOP, CHK, FWT, NON.
    pub method: Text,
    /// BPR05: CCP, CTX.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<Text>,
    /// BPR16: check issue or EFT effective date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
}

/// Payer (loop 1000A) or payee (loop 1000B).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// N102.
    pub name: Text,
    /// N103 (`XX` NPI, `FI` tax id, `XV` CMS plan id ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_qualifier: Option<Text>,
    /// N104.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Additional identification (REF): qualifier and value.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub references: Vec<Reference>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub lines: Vec<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    pub qualifier: Text,
    pub value: Text,
}

/// Loop 2100: one claim as the payer adjudicated it. `Default` is the
/// empty claim, for filling in only what a segment says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// CLP01: the provider's claim id as sent on the 837.
    pub patient_control_number: Text,
    /// CLP02: 1/2/3 processed, 4 denied, 19/20/21 forwarded, 22 reversal, 23, 25.
    pub status_code: Text,
    /// CLP03.
    pub charge: Decimal,
    /// CLP04.
    pub paid: Decimal,
    /// CLP05.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient_responsibility: Option<Decimal>,
    /// CLP06.
    pub filing_indicator: Text,
    /// CLP07: the payer's own claim number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer_claim_control_number: Option<Text>,
    /// CLP08.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facility_type: Option<Text>,
    /// CLP09.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency: Option<Text>,
    /// LX01 of the header the claim is grouped under.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_number: Option<Text>,
    /// NM1*QC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient: Option<Person>,
    /// NM1*IL. This and the two below are boxed: most claims have none of
    /// them, and a claim that keeps room for three people inline is about
    /// 400 bytes larger to build, move and drop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insured: Option<Box<Person>>,
    /// NM1*74: the name the payer corrected the patient's to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrected_patient: Option<Box<Person>>,
    /// NM1*82.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendering_provider: Option<Box<Person>>,
    /// Claim-level CAS.
    pub adjustments: Vec<Adjustment>,
    /// REF*F8: the original claim's reference, carried by reversals and corrections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_reference: Option<Text>,
    /// Other REF segments of the claim.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub references: Vec<Reference>,
    /// DTM*232 and DTM*233.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement_from: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement_to: Option<NaiveDate>,
    /// DTM*050.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_date: Option<NaiveDate>,
    /// AMT*I: interest paid with the claim (informational; the money is in PLB L6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interest: Option<Decimal>,
    /// Other AMT segments of the claim.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub amounts: Vec<QualifiedAmount>,
    /// The claim's remark codes (RARC): MOA03 to MOA07, then MIA05 and
    /// MIA20 to MIA23, in that order.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub remarks: Vec<Text>,
    pub services: Vec<Service>,
}

/// NM1: a person or organisation named on the claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suffix: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_qualifier: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Text>,
}

/// One CAS triplet: group, reason, amount, quantity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    /// CO, PR, OA, PI (and CR in 4010).
    pub group: Text,
    /// The claim adjustment reason code (CARC).
    pub reason: Text,
    /// Positive reduces the payment.
    pub amount: Decimal,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualifiedAmount {
    pub qualifier: Text,
    pub amount: Decimal,
}

/// Loop 2110: one service line. `Default` is the empty line, for builders
/// that fill in only what they need.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// SVC01-1 (`HC` HCPCS/CPT, `NU` revenue code, ...).
    pub procedure_qualifier: Text,
    /// SVC01-2.
    pub procedure: Text,
    /// SVC01-3 to SVC01-6.
    pub modifiers: Vec<Text>,
    /// SVC02.
    pub charge: Decimal,
    /// SVC03.
    pub paid: Decimal,
    /// SVC04: NUBC revenue code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revenue_code: Option<Text>,
    /// SVC05: units paid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub units: Option<Decimal>,
    /// SVC06: the procedure as billed, when the payer paid a different one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_procedure: Option<Text>,
    /// SVC07: units billed, when different.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_units: Option<Decimal>,
    /// REF*6R: the provider's line item control number from the 837.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_control_number: Option<Text>,
    /// DTM*472.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_date: Option<NaiveDate>,
    /// DTM*150 and DTM*151.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_period_start: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_period_end: Option<NaiveDate>,
    pub adjustments: Vec<Adjustment>,
    /// AMT*B6.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Decimal>,
    /// LQ: remittance advice remark codes.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub remarks: Vec<Text>,
}

/// One PLB adjustment pair: money moved at provider level, outside any claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderAdjustment {
    /// PLB01.
    pub provider_id: Text,
    /// PLB02.
    pub fiscal_period_date: NaiveDate,
    /// Reason (WO, L6, FB, 72, ...).
    pub reason: Text,
    /// The reference after the reason (often a claim id or an earlier check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<Text>,
    /// Positive reduces the check, negative increases it.
    pub amount: Decimal,
}
