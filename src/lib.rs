//! remitd ingests X12 835 electronic remittance advice and reconciles it
//! against a provider's claims.
//!
//! # Layout
//! - [`x12`]: syntax. Delimiters from each ISA, the streaming nom lexer, X12
//!   simple data types, and the error vocabulary (where and what).
//! - [`grammar`]: the implementation guides in `grammars/` compiled into loop
//!   tables, the loop placement machine, and element checks.
//! - [`parse`]: the streaming reader that turns a file into validated,
//!   balanced transaction sets of the [`model`].
//! - [`model`]: the typed 835, also the JSON contract of `remitd parse`.
//! - [`ledger`]: the only writer of ledger entries, audit rows and receipts;
//!   the lock order and the money invariants.
//! - [`denials`]: the denial lifecycle (open, shrink, resolve, reopen, flag).
//! - [`posting`]: a remittance's transaction set into the ledger.
//! - [`writeoff`]: the write-off workflows; [`actors`]: who may do what.
//! - [`sweep`]: the small-balance sweep.
//! - [`generate`]: synthetic, balanced 835 files for benchmarks and tests.
//! - [`demo`]: `remitd demo`, the whole product on a throwaway database.
//! - [`output`]: text and CSV safe to open (no forged lines, no formulas).
//! - [`cli`]: the `remitd` command line.

pub mod actors;
pub mod bank;
pub mod claims;
pub mod cli;
pub mod console;
pub mod daemon;
pub mod db;
pub mod demo;
pub mod denials;
pub mod documents;
pub mod generate;
pub mod grammar;
pub mod ingest;
pub mod ledger;
pub mod model;
pub mod output;
pub mod parse;
pub mod posting;
pub mod sweep;
pub mod writeoff;
pub mod x12;
