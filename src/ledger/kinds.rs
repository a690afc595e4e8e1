//! The ledger's vocabulary as types: what an entry is, which balance it
//! moves, what state a write-off or a denial is in, what a receipt covers.
//!
//! Each is stored as text (the columns' CHECK constraints list the same
//! values), read and written through `sqlx::Type`, and accepted on the
//! command line through clap's value enums, so an unknown value is refused
//! with the valid ones listed instead of matching nothing.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Implements `Display` as the stored spelling.
macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}

/// Lets a value be compared with its stored spelling (`kind == "payment"`).
#[macro_export]
macro_rules! compares_as_str {
    ($($t:ty),*) => {$(
        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    )*};
}

/// What a ledger entry records. A `reversal` carries the kind it negates
/// in `reversed_kind`; a `write_off_reversal` gives back a write-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Payment,
    Contractual,
    OtherAdjustment,
    PatientResponsibility,
    /// Records a denial; moves no balance (the denied amount stays owed).
    Denial,
    Interest,
    ProviderAdjustment,
    Reversal,
    WriteOff,
    WriteOffReversal,
    /// A change of a posted claim's charge by an amended import.
    ChargeCorrection,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Payment => "payment",
            EntryKind::Contractual => "contractual",
            EntryKind::OtherAdjustment => "other_adjustment",
            EntryKind::PatientResponsibility => "patient_responsibility",
            EntryKind::Denial => "denial",
            EntryKind::Interest => "interest",
            EntryKind::ProviderAdjustment => "provider_adjustment",
            EntryKind::Reversal => "reversal",
            EntryKind::WriteOff => "write_off",
            EntryKind::WriteOffReversal => "write_off_reversal",
            EntryKind::ChargeCorrection => "charge_correction",
        }
    }
}

/// Whose balance: what the payer side still owes, or the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, clap::ValueEnum)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Insurance,
    Patient,
}

impl Bucket {
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Insurance => "insurance",
            Bucket::Patient => "patient",
        }
    }
}

/// Where a write-off request stands. Only `Posted` has moved money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, clap::ValueEnum)]
#[sqlx(type_name = "text", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WriteoffStatus {
    /// Waits for a supervisor; nothing posted.
    PendingApproval,
    Posted,
    /// A supervisor said no.
    Rejected,
    /// Posted, then reversed (by a person, or because what it wrote off
    /// changed: a payer reversal, a later payment).
    Undone,
    /// Waited for approval until a remittance changed what it would write off.
    Cancelled,
}

impl WriteoffStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteoffStatus::PendingApproval => "PENDING_APPROVAL",
            WriteoffStatus::Posted => "POSTED",
            WriteoffStatus::Rejected => "REJECTED",
            WriteoffStatus::Undone => "UNDONE",
            WriteoffStatus::Cancelled => "CANCELLED",
        }
    }
}

/// What one receipt covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    Single,
    Bulk,
    Sweep,
    PatientResponsibility,
    /// A mass write-off of patient balances (`writeoff::patient_balances`).
    PatientBalance,
}

impl ReceiptKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptKind::Single => "single",
            ReceiptKind::Bulk => "bulk",
            ReceiptKind::Sweep => "sweep",
            ReceiptKind::PatientResponsibility => "patient_responsibility",
            ReceiptKind::PatientBalance => "patient_balance",
        }
    }
}

display_as_str!(EntryKind, Bucket, WriteoffStatus, ReceiptKind);
compares_as_str!(EntryKind, WriteoffStatus);
