//! Prometheus metrics, all prefixed `remitd_`.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FolderLabel {
    pub folder: String,
}

/// A reassociation state (`remitd reconcile --status`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: String,
}

/// Every series the daemon exports.
pub struct Metrics {
    registry: Registry,
    pub files_ingested: Family<FolderLabel, Counter>,
    pub files_refused: Family<FolderLabel, Counter>,
    pub files_duplicate: Family<FolderLabel, Counter>,
    pub files_test: Family<FolderLabel, Counter>,
    pub files_partial: Family<FolderLabel, Counter>,
    pub conflicts_held: Counter,
    pub claims_posted: Counter,
    pub claims_unmatched: Counter,
    pub reversals: Counter,
    pub denials_opened: Counter,
    pub denials_reopened: Counter,
    pub sweep_writeoffs: Counter,
    pub deposits_matched: Counter,
    pub reassociation_items: Family<StatusLabel, Gauge>,
    pub reassociation_oldest_days: Family<StatusLabel, Gauge>,
    pub database_errors: Counter,
    pub ingest_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("remitd");
        let m = Metrics {
            files_ingested: Family::default(),
            files_refused: Family::default(),
            files_duplicate: Family::default(),
            files_test: Family::default(),
            files_partial: Family::default(),
            conflicts_held: Counter::default(),
            claims_posted: Counter::default(),
            claims_unmatched: Counter::default(),
            reversals: Counter::default(),
            denials_opened: Counter::default(),
            denials_reopened: Counter::default(),
            sweep_writeoffs: Counter::default(),
            deposits_matched: Counter::default(),
            reassociation_items: Family::default(),
            reassociation_oldest_days: Family::default(),
            database_errors: Counter::default(),
            // 10 ms to ~80 s.
            ingest_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
            registry: Registry::default(),
        };
        registry.register("files_ingested", "Files whose postings (in a bank folder, deposits) committed", m.files_ingested.clone());
        registry.register("files_refused", "Files refused as invalid and moved to error/", m.files_refused.clone());
        registry.register("files_duplicate", "Files already ingested (or read) before, archived again", m.files_duplicate.clone());
        registry.register("files_test", "Test files (ISA15 = T) recorded, never posted", m.files_test.clone());
        registry.register("files_partial", "Files posted in part and moved to error/ with what posted and why the rest did not", m.files_partial.clone());
        registry.register(
            "conflicts_held",
            "Transaction sets held because their payer and trace were posted before with other content",
            m.conflicts_held.clone(),
        );
        registry.register("claims_posted", "Remittance claims posted to the ledger", m.claims_posted.clone());
        registry.register("claims_unmatched", "Remittance claims queued as unmatched", m.claims_unmatched.clone());
        registry.register("reversals", "Payer reversals posted", m.reversals.clone());
        registry.register("denials_opened", "Denials opened", m.denials_opened.clone());
        registry.register("denials_reopened", "Written-off denials reopened by a payer reversal", m.denials_reopened.clone());
        registry.register("sweep_writeoffs", "Small-balance sweep write-offs", m.sweep_writeoffs.clone());
        registry.register("deposits_matched", "Deposits matched with the remittances they pay", m.deposits_matched.clone());
        registry.register(
            "reassociation_items",
            "Deposits and open remittances in each reassociation state (remitd reconcile --status)",
            m.reassociation_items.clone(),
        );
        registry.register(
            "reassociation_oldest_days",
            "Business days the oldest item of each reassociation state has waited",
            m.reassociation_oldest_days.clone(),
        );
        registry.register("database_errors", "Database errors while ingesting (files stay in the inbox)", m.database_errors.clone());
        registry.register("ingest_seconds", "Time from taking a file to its postings committed", m.ingest_seconds.clone());
        Metrics { registry, ..m }
    }
}

impl Metrics {
    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
