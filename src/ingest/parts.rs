//! Transaction sets too large to hold, posted a part at a time.
//!
//! A set of more than [`PART_CLAIMS`](crate::parse::PART_CLAIMS) claims is
//! read in parts (`Reader::in_parts`), so memory holds one part however
//! many claims a payer puts in one payment. Its parts post into one
//! database transaction, still all or nothing:
//!
//! 1. The first reading of the file (validating everything) takes each such
//!    set's content fingerprint as it goes ([`Fingerprints`]); the
//!    remittance row, written when the second reading reaches the set's
//!    first part, needs it before the rest of the set is read again.
//! 2. Each part's claims post as they arrive; the fingerprint is taken
//!    again on the way.
//! 3. At the last part the two fingerprints are compared: the same, the
//!    set's provider adjustments and audit row are written and it commits;
//!    different, the file changed between the readings and nothing of the
//!    set is kept.

use std::collections::HashMap;

use sqlx::PgPool;

use crate::ledger::Hold;
use crate::model::Usage;
use crate::parse::Parsed;
use crate::posting::conflicts::Fingerprint;
use crate::posting::plan::CarcCategories;
use crate::posting::{open, Opened, PostOutcome, Posting};

/// Content fingerprints of the sets of one file read in parts, by the
/// set's place in the file (0 for its first set).
#[derive(Default)]
pub(super) struct Fingerprints {
    by_set: HashMap<usize, Vec<u8>>,
    sets: usize,
    open: Option<Fingerprint>,
}

impl Fingerprints {
    /// Takes the next part read; whole sets are only counted.
    pub(super) fn take(&mut self, p: &Parsed) {
        if p.part.is_whole() {
            self.sets += 1;
            return;
        }
        if p.part.is_first() {
            self.open = Some(Fingerprint::begin(&p.transaction));
        }
        if let Some(f) = self.open.as_mut() {
            f.claims(&p.transaction.claims);
        }
        if p.part.last {
            if let Some(f) = self.open.take() {
                self.by_set.insert(self.sets, f.finish(&p.transaction.provider_adjustments));
            }
            self.sets += 1;
        }
    }

    fn of(&self, set: usize) -> Option<&[u8]> {
        self.by_set.get(&set).map(Vec::as_slice)
    }
}

/// What a part came to.
pub(super) enum Came {
    /// More parts to come (or nothing of the set posts: it is only read on).
    Pending,
    /// The set is done: posted, posted before, held, or refused by the
    /// database (`Err`), under its label.
    Done(String, Result<PostOutcome, sqlx::Error>),
    /// The set reads differently than in the first reading: the file
    /// changed, and nothing of the set was kept.
    Changed(String),
}

/// One set read in parts, being posted.
pub(super) struct InParts {
    label: String,
    /// `None` once nothing more of it posts.
    posting: Option<(Posting, Fingerprint)>,
    expected: Vec<u8>,
}

impl InParts {
    /// Opens the set whose first part is `first`, the `set`-th of the file.
    /// The caller has let every set before it commit (a set this large
    /// holds the whole ledger, and may reverse what they posted).
    pub(super) async fn open(pool: &PgPool, file_id: i64, first: &Parsed, set: usize, fingerprints: &Fingerprints) -> (InParts, Came) {
        let label = super::label(first);
        let Some(expected) = fingerprints.of(set).map(<[u8]>::to_vec) else {
            // The first reading did not find this set in parts: the file changed.
            return (InParts { label: label.clone(), posting: None, expected: Vec::new() }, Came::Changed(label));
        };
        let mut this = InParts { label, posting: None, expected };
        if first.interchange.usage == Usage::Test {
            return (this, Came::Pending);
        }
        match open(pool, file_id, first, &this.expected, Hold::Ledger).await {
            Ok(Opened::Posting(posting)) => {
                this.posting = Some((posting, Fingerprint::begin(&first.transaction)));
                (this, Came::Pending)
            }
            Ok(Opened::Done(outcome)) => {
                let label = this.label.clone();
                (this, Came::Done(label, Ok(outcome)))
            }
            Err(e) => {
                let label = this.label.clone();
                (this, Came::Done(label, Err(e)))
            }
        }
    }

    /// Posts one part (the first included) of the set.
    pub(super) async fn part(&mut self, parsed: &Parsed, cats: &CarcCategories) -> Came {
        let Some((posting, fingerprint)) = self.posting.as_mut() else { return Came::Pending };
        fingerprint.claims(&parsed.transaction.claims);
        if let Err(e) = posting.claims(&parsed.transaction.claims, cats).await {
            // Dropping the posting rolls back what the set wrote.
            self.posting = None;
            return Came::Done(self.label.clone(), Err(e));
        }
        if !parsed.part.last {
            return Came::Pending;
        }
        let Some((posting, fingerprint)) = self.posting.take() else { return Came::Pending };
        if fingerprint.finish(&parsed.transaction.provider_adjustments) != self.expected {
            return Came::Changed(self.label.clone());
        }
        Came::Done(self.label.clone(), posting.close(&parsed.transaction.provider_adjustments).await)
    }
}
