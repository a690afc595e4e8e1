//! The daemon's HTTP endpoints, for probes and scrapers on loopback:
//! `/healthz` (the process answers), `/readyz` (database reachable and every
//! watcher running), `/metrics` (Prometheus text).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::Shared;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics)).with_state(shared)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    match shared.health.problems() {
        problems if problems.is_empty() => (StatusCode::OK, "ready\n".to_string()),
        problems => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {}\n", problems.join("; "))),
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], shared.metrics.render())
}
