//! The console's pages, one module per area, each calling the same
//! workflow functions as the command line with the person's own pool.

mod auth;
mod claims;
mod conflicts;
mod dashboard;
mod denials;
mod files;
mod history;
mod jobs;
mod reconcile;
mod remittances;
mod sweep;
mod unmatched;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::web::{self, PageError};
use super::Console;

/// The largest upload the console reads: far above any single payer's 835
/// a person would fix by hand (a folder's own `max_file_bytes` still applies).
const UPLOAD_LIMIT: usize = 256 << 20;

/// The stylesheet, the only thing the pages load besides themselves.
const CSS: &str = include_str!("../templates/console.css");

pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/", get(dashboard::show))
        .route("/login", get(auth::form).post(auth::log_in))
        .route("/logout", post(auth::log_out))
        .route("/denials", get(denials::list))
        .route("/denials/{id}/writeoff", post(denials::write_off))
        .route("/denials/{id}/appeal", post(denials::appeal))
        .route("/denials/bulk", post(denials::bulk))
        .route("/approvals", get(denials::approvals))
        .route("/writeoffs/{id}/decide", post(denials::decide))
        .route("/unmatched", get(unmatched::list))
        .route("/unmatched/{id}/refeed", post(unmatched::refeed))
        .route("/claims/import", post(unmatched::import_claims))
        .route("/claims/{row}", get(claims::show))
        .route("/remittances", get(remittances::list))
        .route("/remittances/{id}", get(remittances::show))
        .route("/remittances/{id}/pdf", get(remittances::pdf))
        .route("/reconcile", get(reconcile::show))
        .route("/reconcile.pdf", get(reconcile::pdf))
        .route("/reconcile.csv", get(reconcile::csv))
        .route("/reconcile/deposits/{id}/match", post(reconcile::match_deposit))
        .route("/reconcile/deposits/{id}/unmatch", post(reconcile::unmatch_deposit))
        .route("/conflicts", get(conflicts::list))
        .route("/conflicts/{id}/resolve", post(conflicts::resolve))
        .route("/files", get(files::list))
        .route("/files/upload", post(files::upload).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)))
        .route("/files/{id}/original", get(files::original))
        .route("/files/{id}/refeed", post(files::refeed))
        .route("/sweep", get(sweep::show).post(sweep::start))
        .route("/sweep/runs/{id}", get(sweep::run_page))
        .route("/sweep/runs/{id}/pdf", get(sweep::run_pdf))
        .route("/jobs/{id}", get(jobs::show))
        .route("/writeoffs", get(history::writeoffs))
        .route("/writeoffs.pdf", get(history::writeoffs_pdf))
        .route("/writeoffs/causes.pdf", get(history::causes_pdf))
        .route("/audit", get(history::audit))
        .route("/audit.pdf", get(history::audit_pdf))
        .route("/console.css", get(|| async { ([(header::CONTENT_TYPE, "text/css"), (header::CACHE_CONTROL, "max-age=3600")], CSS).into_response() }))
        .fallback(|| async { PageError::NotFound })
        .layer(axum::middleware::from_fn_with_state(console.clone(), web::with_session))
        .with_state(console)
}

impl Console {
    /// The daemon's own pool, once it has reached the database.
    fn daemon_pool(&self) -> Result<&sqlx::PgPool, PageError> {
        self.daemon.get().ok_or(PageError::NotReady)
    }
}

/// A PDF as a download named `name`, laid out off the async threads (a
/// long report takes a while).
async fn pdf_download(name: String, pdf: impl FnOnce() -> Vec<u8> + Send + 'static) -> Result<Response, PageError> {
    let bytes = tokio::task::spawn_blocking(pdf).await.map_err(|e| PageError::Internal(e.to_string()))?;
    let disposition = format!("attachment; filename=\"{name}\"");
    Ok(([(header::CONTENT_TYPE, "application/pdf".to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes).into_response())
}
