//! Model-based: random sequences of what a billing office and its payers do
//! (post, deny, pay later, write off in full or in part, write off patient
//! responsibility, bulk, approve and reject, undo, sweep, appeal, payer
//! reversal with or without a corrected claim, change the approval policy)
//! run against the database and against a small in-memory model of what each
//! claim owes. After every step the database's balances, denial states,
//! remaining amounts and write-off states equal the model's to the cent,
//! each action is accepted or refused as the model says, the balance
//! identity holds, and no bucket is below zero unless the payer overpaid.
//!
//! The model restates the rules in the plainest form (integer cents, one
//! service line a claim, a vector per kind of record); it shares no code with
//! remitd, so a rule broken in one place shows as a difference.

mod common;

use std::path::Path;

use common::{clp_lines, reversal_of, svc, TestDb};
use proptest::prelude::*;
use remitd::actors::Scope;
use remitd::ledger::ActionError;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

type Cents = i64;

const CHARGES: [Cents; 3] = [20_000, 50_000, 100_000];
/// The cap `small-balance`, the sweep's reason, is seeded with (migration
/// 0013): a sweep never writes off more than that per balance, whatever
/// its own maximum.
const SMALL_BALANCE_CAP: Cents = 1_000;

fn money(c: Cents) -> Decimal {
    Decimal::new(c, 2)
}

fn cents(d: Decimal) -> Cents {
    let scaled = d * Decimal::ONE_HUNDRED;
    assert!(scaled.fract().is_zero(), "{d} is not whole cents");
    scaled.to_i64().expect("an amount in range")
}

/// How a payer adjudicates a claim: shares of the charge, in steps.
#[derive(Debug, Clone, Copy)]
struct Split {
    /// Quarters of the charge paid.
    paid: u8,
    /// Quarters of the rest denied (CO-50).
    denied: u8,
    /// Tenths of the rest after that moved to the patient (PR-1); the
    /// remainder is contractual (CO-45).
    pr: u8,
}

impl Split {
    /// (paid, denied, patient responsibility, contractual) of `charge`.
    fn amounts(self, charge: Cents) -> (Cents, Cents, Cents, Cents) {
        let paid = charge * Cents::from(self.paid) / 4;
        let denied = (charge - paid) * Cents::from(self.denied) / 4;
        let pr = (charge - paid - denied) * Cents::from(self.pr) / 10;
        (paid, denied, pr, charge - paid - denied - pr)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Policy {
    Off,
    All,
    Above(Cents),
}

#[derive(Debug, Clone)]
enum Op {
    Post {
        claim: usize,
        split: Split,
    },
    /// The payer reverses the claim's latest posting, maybe with a corrected claim.
    Reverse {
        claim: usize,
        corrected: Option<Split>,
    },
    /// Part: 0 all that remains, 1 a quarter, 2 a half, 3 a cent more than remains, 4 a cent.
    WriteOff {
        denial: usize,
        part: u8,
        bob: bool,
    },
    PrWriteOff {
        claim: usize,
        part: u8,
    },
    Bulk {
        max: Cents,
    },
    Decide {
        writeoff: usize,
        approve: bool,
    },
    Undo {
        writeoff: usize,
    },
    Appeal {
        denial: usize,
        withdraw: bool,
    },
    Sweep {
        max: Cents,
    },
    Policy(Policy),
}

fn split() -> impl Strategy<Value = Split> {
    (0u8..=4, 0u8..=4, prop_oneof![Just(0u8), Just(1), Just(5), Just(10)]).prop_map(|(paid, denied, pr)| Split { paid, denied, pr })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..3, split()).prop_map(|(claim, split)| Op::Post { claim, split }),
        2 => (0usize..3, proptest::option::of(split())).prop_map(|(claim, corrected)| Op::Reverse { claim, corrected }),
        5 => (0usize..8, 0u8..=4, any::<bool>()).prop_map(|(denial, part, bob)| Op::WriteOff { denial, part, bob }),
        2 => (0usize..3, 0u8..=4).prop_map(|(claim, part)| Op::PrWriteOff { claim, part }),
        1 => prop_oneof![Just(5_000), Just(100_000)].prop_map(|max| Op::Bulk { max }),
        2 => (0usize..8, any::<bool>()).prop_map(|(writeoff, approve)| Op::Decide { writeoff, approve }),
        2 => (0usize..8).prop_map(|writeoff| Op::Undo { writeoff }),
        1 => (0usize..8, any::<bool>()).prop_map(|(denial, withdraw)| Op::Appeal { denial, withdraw }),
        1 => prop_oneof![Just(2_500), Just(60_000)].prop_map(|max| Op::Sweep { max }),
        1 => policy().prop_map(Op::Policy),
    ]
}

fn policy() -> impl Strategy<Value = Policy> {
    prop_oneof![Just(Policy::Off), Just(Policy::All), Just(Policy::Above(5_000)), Just(Policy::Above(10_000)), Just(Policy::Above(30_000))]
}

/// A day's work: the policy in force, then what happens.
fn day() -> impl Strategy<Value = Vec<Op>> {
    (policy(), proptest::collection::vec(op(), 1..30)).prop_map(|(p, ops)| std::iter::once(Op::Policy(p)).chain(ops).collect())
}

// ---------------------------------------------------------------- the model

#[derive(Debug, Clone)]
struct Posting {
    claim: usize,
    paid: Cents,
    contractual: Cents,
    pr: Cents,
    reversed: bool,
    remittance: usize,
    /// Order among ledger events: what "posted after" compares.
    seq: u64,
    /// The claim as the payer sent it, for its reversal.
    sent: remitd::model::Claim,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DStatus {
    Open,
    AppealPending,
    PendingWriteoff,
    WriteOff,
    Resolved,
}

impl DStatus {
    fn db(self) -> &'static str {
        match self {
            DStatus::Open => "OPEN",
            DStatus::AppealPending => "APPEAL_PENDING",
            DStatus::PendingWriteoff => "PENDING_WRITEOFF",
            DStatus::WriteOff => "WRITE_OFF",
            DStatus::Resolved => "RESOLVED",
        }
    }
}

#[derive(Debug, Clone)]
struct Denial {
    claim: usize,
    posting: usize,
    amount: Cents,
    status: DStatus,
    reopened: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WStatus {
    Pending,
    Posted,
    Rejected,
    Undone,
    Cancelled,
}

impl WStatus {
    fn db(self) -> &'static str {
        match self {
            WStatus::Pending => "PENDING_APPROVAL",
            WStatus::Posted => "POSTED",
            WStatus::Rejected => "REJECTED",
            WStatus::Undone => "UNDONE",
            WStatus::Cancelled => "CANCELLED",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WKind {
    Denial(usize),
    PatientResponsibility,
    Sweep,
}

#[derive(Debug, Clone)]
struct Writeoff {
    claim: usize,
    kind: WKind,
    patient: bool,
    amount: Cents,
    status: WStatus,
    posted_seq: u64,
}

#[derive(Debug, Clone)]
struct Model {
    postings: Vec<Posting>,
    denials: Vec<Denial>,
    writeoffs: Vec<Writeoff>,
    policy: Policy,
    seq: u64,
    remittances: usize,
}

impl Model {
    fn new() -> Model {
        Model { postings: Vec::new(), denials: Vec::new(), writeoffs: Vec::new(), policy: Policy::Off, seq: 0, remittances: 0 }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn active(&self, claim: usize) -> impl Iterator<Item = &Posting> {
        self.postings.iter().filter(move |p| p.claim == claim && !p.reversed)
    }

    fn wos(&self, claim: usize, status: WStatus) -> impl Iterator<Item = &Writeoff> {
        self.writeoffs.iter().filter(move |w| w.claim == claim && w.status == status)
    }

    /// What the payer side still owes, and what it would owe with no write-off.
    fn insurance(&self, claim: usize) -> Cents {
        CHARGES[claim]
            - self.active(claim).map(|p| p.paid + p.contractual + p.pr).sum::<Cents>()
            - self.wos(claim, WStatus::Posted).filter(|w| !w.patient).map(|w| w.amount).sum::<Cents>()
    }

    fn patient(&self, claim: usize) -> Cents {
        self.active(claim).map(|p| p.pr).sum::<Cents>() - self.wos(claim, WStatus::Posted).filter(|w| w.patient).map(|w| w.amount).sum::<Cents>()
    }

    fn payer_overpaid(&self, claim: usize) -> bool {
        CHARGES[claim] - self.active(claim).map(|p| p.paid + p.contractual + p.pr).sum::<Cents>() < 0
    }

    fn on_denial(&self, d: usize, status: WStatus) -> Cents {
        self.writeoffs.iter().filter(|w| w.kind == WKind::Denial(d) && w.status == status).map(|w| w.amount).sum()
    }

    fn pending(&self, claim: usize, patient: bool, except: Option<usize>) -> Cents {
        self.writeoffs
            .iter()
            .enumerate()
            .filter(|(i, w)| w.claim == claim && w.patient == patient && w.status == WStatus::Pending && Some(*i) != except)
            .map(|(_, w)| w.amount)
            .sum()
    }

    fn raw(&self, d: usize) -> Cents {
        let den = &self.denials[d];
        let left = den.amount - self.on_denial(d, WStatus::Posted) - self.on_denial(d, WStatus::Pending);
        left.min(self.insurance(den.claim) - self.pending(den.claim, false, None))
    }

    fn remaining(&self, d: usize) -> Cents {
        if self.denials[d].status == DStatus::Resolved {
            0
        } else {
            self.raw(d).max(0)
        }
    }

    fn settle_status(&mut self, d: usize) {
        let next = match self.denials[d].status {
            s @ (DStatus::AppealPending | DStatus::Resolved) => s,
            _ if self.on_denial(d, WStatus::Pending) > 0 => DStatus::PendingWriteoff,
            _ if self.remaining(d) == 0 && self.on_denial(d, WStatus::Posted) > 0 => DStatus::WriteOff,
            _ => DStatus::Open,
        };
        self.denials[d].status = next;
    }

    fn gates(&self, prior: Cents, amount: Cents) -> bool {
        match self.policy {
            Policy::Off => false,
            Policy::All => true,
            Policy::Above(limit) => prior + amount > limit,
        }
    }

    /// A person writes `amount` off denial `d`: it waits when the gate says
    /// so (counting what was written off or requested on it), else posts.
    fn write_off(&mut self, d: usize, amount: Cents) {
        let gated = self.gates(self.on_denial(d, WStatus::Posted) + self.on_denial(d, WStatus::Pending), amount);
        self.writeoffs.push(Writeoff { claim: self.denials[d].claim, kind: WKind::Denial(d), patient: false, amount, status: WStatus::Pending, posted_seq: 0 });
        if !gated {
            self.post_writeoff(self.writeoffs.len() - 1);
        }
        self.settle_status(d);
    }

    fn post_writeoff(&mut self, w: usize) {
        self.writeoffs[w].status = WStatus::Posted;
        self.writeoffs[w].posted_seq = self.next_seq();
    }

    /// Ends `ws` as `status`; returns the denials they were on.
    fn end(&mut self, ws: &[usize], status: WStatus) -> Vec<usize> {
        ws.iter()
            .filter_map(|&w| {
                self.writeoffs[w].status = status;
                match self.writeoffs[w].kind {
                    WKind::Denial(d) => Some(d),
                    _ => None,
                }
            })
            .collect()
    }

    /// Patient responsibility on the claim's line still movable.
    fn pr_movable(&self, claim: usize, except: Option<usize>) -> Cents {
        let moved: Cents = self
            .writeoffs
            .iter()
            .enumerate()
            .filter(|(i, w)| {
                w.claim == claim
                    && w.kind == WKind::PatientResponsibility
                    && (w.status == WStatus::Posted || (w.status == WStatus::Pending && Some(*i) != except))
            })
            .map(|(_, w)| w.amount)
            .sum();
        self.active(claim).map(|p| p.pr).sum::<Cents>() - moved
    }

    fn open_posting(&mut self, claim: usize, split: Split, remittance: usize, sent: remitd::model::Claim) {
        let (paid, denied, pr, contractual) = split.amounts(CHARGES[claim]);
        let seq = self.next_seq();
        self.postings.push(Posting { claim, paid, contractual, pr, reversed: false, remittance, seq, sent });
        if denied > 0 {
            self.denials.push(Denial { claim, posting: self.postings.len() - 1, amount: denied, status: DStatus::Open, reopened: false });
        }
    }

    /// What a remittance settles on `claim` (remitd's `denials::settle::after_posting`).
    fn settle(&mut self, remittance: usize, claim: usize) {
        let live = |m: &Model, d: &Denial| {
            matches!(d.status, DStatus::Open | DStatus::AppealPending | DStatus::PendingWriteoff) && m.postings[d.posting].remittance != remittance
        };
        let candidate = self.writeoffs.iter().any(|w| w.claim == claim && matches!(w.status, WStatus::Posted | WStatus::Pending))
            || self.denials.iter().any(|d| d.claim == claim && live(self, d));
        if !candidate {
            return;
        }
        // Credits only write-offs made: newest write-offs back first.
        let mut touched = Vec::new();
        for patient in [false, true] {
            let balance = if patient { self.patient(claim) } else { self.insurance(claim) };
            if balance >= 0 {
                continue;
            }
            let mut back = 0;
            let mut picked = Vec::new();
            for (i, w) in self.writeoffs.iter().enumerate().rev().filter(|(_, w)| w.claim == claim && w.patient == patient && w.status == WStatus::Posted) {
                if balance + back >= 0 {
                    break;
                }
                picked.push(i);
                back += w.amount;
            }
            touched.extend(self.end(&picked, WStatus::Undone));
        }
        touched.sort_unstable();
        touched.dedup();
        for d in touched {
            self.settle_status(d);
        }
        // Patient requests the patient balance no longer covers.
        if self.patient(claim) < self.pending(claim, true, None) {
            let waiting: Vec<usize> = (0..self.writeoffs.len())
                .filter(|&i| self.writeoffs[i].claim == claim && self.writeoffs[i].patient && self.writeoffs[i].status == WStatus::Pending)
                .collect();
            self.end(&waiting, WStatus::Cancelled);
        }
        // Live denials of earlier remittances, figures read once.
        let rows: Vec<(usize, bool, Cents, Cents, Cents)> = (0..self.denials.len())
            .filter(|&d| self.denials[d].claim == claim && live(self, &self.denials[d]))
            .map(|d| {
                let den = &self.denials[d];
                let superseded = den.reopened
                    && self.postings[den.posting].reversed
                    && self.postings.iter().enumerate().any(|(i, p)| p.claim == claim && p.remittance == remittance && i > den.posting);
                (d, superseded, self.insurance(claim), self.raw(d), self.on_denial(d, WStatus::Pending))
            })
            .collect();
        for (d, superseded, scope_owed, raw, pending) in rows {
            let resolve = superseded || scope_owed <= 0;
            if !resolve && (pending == 0 || raw >= 0) {
                continue;
            }
            let waiting: Vec<usize> =
                (0..self.writeoffs.len()).filter(|&i| self.writeoffs[i].kind == WKind::Denial(d) && self.writeoffs[i].status == WStatus::Pending).collect();
            self.end(&waiting, WStatus::Cancelled);
            if resolve {
                self.denials[d].status = DStatus::Resolved;
            } else {
                self.settle_status(d);
            }
        }
    }

    /// The payer reverses posting `p` (remitd's `denials::settle::on_reversal`).
    fn reverse(&mut self, p: usize) {
        let (claim, seq) = (self.postings[p].claim, self.postings[p].seq);
        self.postings[p].reversed = true;
        let basis: Vec<usize> = (0..self.writeoffs.len())
            .filter(|&i| self.writeoffs[i].claim == claim && self.writeoffs[i].status == WStatus::Posted && self.writeoffs[i].posted_seq > seq)
            .collect();
        let mut touched = self.end(&basis, WStatus::Undone);
        let waiting: Vec<usize> =
            (0..self.writeoffs.len()).filter(|&i| self.writeoffs[i].claim == claim && self.writeoffs[i].status == WStatus::Pending).collect();
        touched.extend(self.end(&waiting, WStatus::Cancelled));
        for d in 0..self.denials.len() {
            if self.denials[d].posting == p && self.denials[d].status != DStatus::Resolved {
                self.denials[d].reopened = true;
                touched.push(d);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for d in touched {
            self.settle_status(d);
        }
    }
}

// ------------------------------------------------------------ the database

struct Sut {
    db: TestDb,
    dir: tempfile::TempDir,
    traces: usize,
    denial_ids: Vec<i64>,
    writeoff_ids: Vec<i64>,
}

const ROWS: &str = "M0,A0,\"DOE, JANE\",1999999901,2024-01-01,99213,200.00,2024-01-02,1
M1,A1,\"ROE, RICHARD\",1999999901,2024-01-01,99213,500.00,2024-01-02,1
M2,A2,\"POE, EDGAR\",1999999901,2024-01-01,99213,1000.00,2024-01-02,1
";

impl Sut {
    async fn new() -> Sut {
        let db = TestDb::new().await;
        common::import_csv(&db.pool, &format!("{}\n{ROWS}", common::CSV_HEADER)).await;
        db.people(&[
            ("ann", &[Scope::DenialWrite, Scope::PaymentWrite]),
            ("bob", &[Scope::DenialWrite, Scope::PaymentWrite]),
            ("sam", &[Scope::WriteoffApprove]),
            ("sue", &[Scope::DenialWrite, Scope::WriteoffApprove]),
        ])
        .await;
        Sut { db, dir: tempfile::tempdir().unwrap(), traces: 0, denial_ids: Vec::new(), writeoff_ids: Vec::new() }
    }

    async fn ingest(&mut self, claims: Vec<remitd::model::Claim>) {
        self.traces += 1;
        let path = common::remittance_file(self.dir.path(), &format!("T{}", self.traces), claims);
        let out = common::ingest(&self.db.pool, Path::new(&path)).await;
        assert!(matches!(out, remitd::ingest::FileOutcome::Posted { .. }), "{out:?}");
        self.refresh().await;
    }

    /// Learns the ids of denials and write-offs made since, in creation order.
    async fn refresh(&mut self) {
        self.denial_ids = sqlx::query_scalar("SELECT id FROM denials ORDER BY id").fetch_all(&self.db.pool).await.unwrap();
        self.writeoff_ids = sqlx::query_scalar("SELECT id FROM writeoffs ORDER BY id").fetch_all(&self.db.pool).await.unwrap();
    }
}

/// The claim a payer sends for `split` of claim `claim`.
fn sent(claim: usize, split: Split, pcn: &str) -> remitd::model::Claim {
    let (paid, denied, pr, contractual) = split.amounts(CHARGES[claim]);
    let mut adjustments = Vec::new();
    let (d, p, c) = (money(denied).to_string(), money(pr).to_string(), money(contractual).to_string());
    for (group, reason, amount, a) in [("CO", "50", denied, &d), ("PR", "1", pr, &p), ("CO", "45", contractual, &c)] {
        if amount > 0 {
            adjustments.push((group, reason, a.as_str()));
        }
    }
    let status = if paid == 0 && denied > 0 { "4" } else { "1" };
    clp_lines(&format!("M{claim}"), status, pcn, vec![svc("99213", &money(CHARGES[claim]).to_string(), &adjustments)])
}

/// Whether an action was accepted; a refusal must be a refusal, not a failure.
fn accepted<T: std::fmt::Debug>(r: Result<T, ActionError>) -> bool {
    match r {
        Ok(_) => true,
        Err(ActionError::Db(e)) => panic!("database error instead of a decision: {e}"),
        Err(_) => false,
    }
}

/// Applies `op` to both; panics where they disagree.
async fn step(m: &mut Model, s: &mut Sut, op: &Op) {
    let pool = &s.db.pool;
    match op.clone() {
        Op::Post { claim, split } => {
            m.remittances += 1;
            let r = m.remittances;
            let claim_sent = sent(claim, split, &format!("P{}", m.postings.len()));
            m.open_posting(claim, split, r, claim_sent.clone());
            m.settle(r, claim);
            s.ingest(vec![claim_sent]).await;
        }
        Op::Reverse { claim, corrected } => {
            let Some(p) = (0..m.postings.len()).rev().find(|&p| m.postings[p].claim == claim && !m.postings[p].reversed) else { return };
            m.remittances += 1;
            let r = m.remittances;
            let mut claims = vec![reversal_of(&m.postings[p].sent)];
            m.reverse(p);
            if let Some(split) = corrected {
                let claim_sent = sent(claim, split, &format!("P{}", m.postings.len()));
                m.open_posting(claim, split, r, claim_sent.clone());
                claims.push(claim_sent);
            }
            m.settle(r, claim);
            s.ingest(claims).await;
        }
        Op::WriteOff { denial, part, bob } => {
            if m.denials.is_empty() {
                return;
            }
            let d = denial % m.denials.len();
            let remaining = m.remaining(d);
            let amount = match part {
                0 => remaining,
                1 => remaining / 4,
                2 => remaining / 2,
                3 => remaining + 1,
                _ => 1,
            };
            let ok = m.denials[d].status == DStatus::Open && amount > 0 && amount <= remaining;
            let actor = if bob { "bob" } else { "ann" };
            let req =
                remitd::writeoff::Request { denial_id: s.denial_ids[d], reason: "bad-debt", note: None, amount: (part != 0).then_some(money(amount)), actor };
            assert_eq!(accepted(remitd::writeoff::write_off(pool, req).await), ok, "write-off of {amount} on denial {d}");
            if ok {
                m.write_off(d, amount);
            }
        }
        Op::PrWriteOff { claim, part } => {
            let movable = m.pr_movable(claim, None);
            let available = m.patient(claim) - m.pending(claim, true, None);
            let amount = match part {
                0 => movable,
                1 => movable / 4,
                2 => movable / 2,
                3 => movable + 1,
                _ => 1,
            };
            let ok = movable != 0 && amount > 0 && amount <= movable && amount <= available;
            let req = remitd::writeoff::patient::PrRequest {
                claim_id: &format!("M{claim}"),
                line: Some(1),
                amounts: [("1".to_string(), money(amount))].into_iter().collect(),
                reason: "patient-uncollectable",
                actor: "ann",
                preview: false,
            };
            if amount > 0 {
                assert_eq!(accepted(remitd::writeoff::patient::pr_writeoff(pool, req).await), ok, "PR write-off of {amount} on claim {claim}");
            }
            if ok {
                let prior: Cents = m
                    .writeoffs
                    .iter()
                    .filter(|w| w.claim == claim && w.kind == WKind::PatientResponsibility && matches!(w.status, WStatus::Posted | WStatus::Pending))
                    .map(|w| w.amount)
                    .sum();
                let gated = m.gates(prior, amount);
                m.writeoffs.push(Writeoff { claim, kind: WKind::PatientResponsibility, patient: true, amount, status: WStatus::Pending, posted_seq: 0 });
                if !gated {
                    m.post_writeoff(m.writeoffs.len() - 1);
                }
            }
        }
        Op::Bulk { max } => {
            let filter = remitd::writeoff::BulkFilter { max_balance: Some(money(max)), ..Default::default() };
            remitd::writeoff::bulk(pool, &filter, "bad-debt", None, "ann", false).await.expect("a bulk run is never refused");
            let matched: Vec<usize> = (0..m.denials.len()).filter(|&d| m.remaining(d) <= max).collect();
            let first: Vec<(usize, bool)> = matched.iter().map(|&d| (d, m.denials[d].status == DStatus::Open && m.remaining(d) > 0)).collect();
            for (d, writable) in first {
                if !writable || m.denials[d].status != DStatus::Open || m.remaining(d) == 0 {
                    continue;
                }
                m.write_off(d, m.remaining(d));
            }
        }
        Op::Decide { writeoff, approve } => {
            if m.writeoffs.is_empty() {
                return;
            }
            let w = writeoff % m.writeoffs.len();
            let wo = m.writeoffs[w].clone();
            let fits = match wo.kind {
                WKind::Denial(d) => m.raw(d) >= 0,
                WKind::PatientResponsibility => {
                    m.pr_movable(wo.claim, Some(w)) >= wo.amount && m.patient(wo.claim) - m.pending(wo.claim, true, Some(w)) >= wo.amount
                }
                WKind::Sweep => true,
            };
            let ok = wo.status == WStatus::Pending && (!approve || fits);
            assert_eq!(accepted(remitd::writeoff::decide_writeoff(pool, s.writeoff_ids[w], "sam", approve).await), ok, "decide write-off {w} {wo:?}");
            if ok {
                if approve {
                    m.post_writeoff(w);
                } else {
                    m.writeoffs[w].status = WStatus::Rejected;
                }
                if let WKind::Denial(d) = wo.kind {
                    m.settle_status(d);
                }
            }
        }
        Op::Undo { writeoff } => {
            if m.writeoffs.is_empty() {
                return;
            }
            let w = writeoff % m.writeoffs.len();
            let ok = m.writeoffs[w].status == WStatus::Posted;
            assert_eq!(accepted(remitd::writeoff::undo(pool, s.writeoff_ids[w], "ann", "posted in error").await), ok, "undo write-off {w}");
            if ok {
                for d in m.end(&[w], WStatus::Undone) {
                    m.settle_status(d);
                }
            }
        }
        Op::Appeal { denial, withdraw } => {
            if m.denials.is_empty() {
                return;
            }
            let d = denial % m.denials.len();
            let (from, to) = if withdraw { (DStatus::AppealPending, DStatus::Open) } else { (DStatus::Open, DStatus::AppealPending) };
            let ok = m.denials[d].status == from;
            assert_eq!(accepted(remitd::writeoff::appeal(pool, s.denial_ids[d], "ann", !withdraw).await), ok, "appeal {d}");
            if ok {
                m.denials[d].status = to;
            }
        }
        Op::Sweep { max } => {
            let params = remitd::sweep::Params::for_day(chrono::Utc::now().date_naive(), 30, Some(money(max)));
            remitd::sweep::post(pool, &params, "sue").await.expect("a sweep is never refused");
            sweep_model(m, max.min(SMALL_BALANCE_CAP));
        }
        Op::Policy(p) => {
            let policy = match p {
                Policy::Off => remitd::writeoff::Approval::Off,
                Policy::All => remitd::writeoff::Approval::All,
                Policy::Above(c) => remitd::writeoff::Approval::Above(money(c)),
            };
            remitd::writeoff::set_approval_policy(pool, "sam", policy).await.unwrap();
            m.policy = p;
        }
    }
    s.refresh().await;
}

/// The small-balance sweep, as the model sees it: claims in id order, each
/// bucket owed and not over `max` nor protected; an insurance balance first
/// closes its OPEN denials (in order, each up to what remains).
fn sweep_model(m: &mut Model, max: Cents) {
    let mut made = Vec::new();
    for claim in 0..CHARGES.len() {
        if !m.postings.iter().any(|p| p.claim == claim) {
            continue;
        }
        if m.denials.iter().any(|d| d.claim == claim && matches!(d.status, DStatus::AppealPending | DStatus::PendingWriteoff)) {
            continue;
        }
        let (insurance, patient) = (m.insurance(claim), m.patient(claim));
        let mut rows = Vec::new();
        if insurance > 0 && insurance <= max {
            let mut before = 0;
            let mut taken = 0;
            for d in (0..m.denials.len()).filter(|&d| m.denials[d].claim == claim && m.denials[d].status == DStatus::Open && m.remaining(d) > 0) {
                let remaining = m.remaining(d);
                let share = remaining.min(insurance - before);
                before += remaining;
                if share > 0 {
                    rows.push(Writeoff { claim, kind: WKind::Denial(d), patient: false, amount: share, status: WStatus::Pending, posted_seq: 0 });
                    taken += share;
                }
            }
            if insurance - taken != 0 {
                rows.push(Writeoff { claim, kind: WKind::Sweep, patient: false, amount: insurance - taken, status: WStatus::Pending, posted_seq: 0 });
            }
        }
        if patient > 0 && patient <= max {
            rows.push(Writeoff { claim, kind: WKind::Sweep, patient: true, amount: patient, status: WStatus::Pending, posted_seq: 0 });
        }
        made.extend(rows);
    }
    let first = m.writeoffs.len();
    m.writeoffs.extend(made);
    for w in first..m.writeoffs.len() {
        m.post_writeoff(w);
    }
    for w in first..m.writeoffs.len() {
        if let WKind::Denial(d) = m.writeoffs[w].kind {
            if m.remaining(d) == 0 && m.denials[d].status == DStatus::Open {
                m.denials[d].status = DStatus::WriteOff;
            }
        }
    }
}

/// The database says what the model says.
async fn agree(m: &Model, s: &Sut, history: &[Op]) {
    let pool = &s.db.pool;
    for claim in 0..CHARGES.len() {
        let (ins, pat): (Decimal, Decimal) =
            sqlx::query_as("SELECT insurance_balance, patient_balance FROM claim_balances b JOIN claims c ON c.id = b.claim_id WHERE c.claim_id = $1")
                .bind(format!("M{claim}"))
                .fetch_one(pool)
                .await
                .unwrap();
        assert_eq!((cents(ins), cents(pat)), (m.insurance(claim), m.patient(claim)), "balances of M{claim} after {history:#?}");
        if !m.payer_overpaid(claim) {
            assert!(m.insurance(claim) >= 0 && m.patient(claim) >= 0, "a write-off made a credit on M{claim}");
        }
    }
    let denials: Vec<(String, Decimal)> =
        sqlx::query_as("SELECT d.status, b.remaining FROM denials d JOIN denial_balances b ON b.denial_id = d.id ORDER BY d.id").fetch_all(pool).await.unwrap();
    let expected: Vec<(String, Cents)> = (0..m.denials.len()).map(|d| (m.denials[d].status.db().to_string(), m.remaining(d))).collect();
    let found: Vec<(String, Cents)> = denials.into_iter().map(|(s, r)| (s, cents(r))).collect();
    assert_eq!(found, expected, "denials (status, remaining) after {history:#?}");
    let writeoffs: Vec<(String, Decimal)> = sqlx::query_as("SELECT status, amount FROM writeoffs ORDER BY id").fetch_all(pool).await.unwrap();
    let found: Vec<(String, Cents)> = writeoffs.into_iter().map(|(s, a)| (s, cents(a))).collect();
    let expected: Vec<(String, Cents)> = m.writeoffs.iter().map(|w| (w.status.db().to_string(), w.amount)).collect();
    assert_eq!(found, expected, "write-offs (status, amount) after {history:#?}");
}

async fn run(ops: Vec<Op>) {
    let mut m = Model::new();
    let mut s = Sut::new().await;
    for (i, op) in ops.iter().enumerate() {
        step(&mut m, &mut s, op).await;
        agree(&m, &s, &ops[..=i]).await;
    }
    common::assert_balances_add_up(&s.db.pool).await;
}

proptest! {
    // Each case is a fresh database and up to 30 steps of real postings and
    // write-offs; 40 cases cover every operation many times over (more with
    // PROPTEST_CASES=N).
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(40),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_ledger_owes_what_the_model_owes(ops in day()) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(run(ops));
    }
}
