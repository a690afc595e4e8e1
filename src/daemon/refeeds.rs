//! Answers people's refeed requests: support staff on their own logins
//! cannot post, so `remitd unmatched refeed` asks the daemon (a row in
//! `refeed_requests`), and this task posts what can now be matched.
//!
//! A notification on `remitd_refeed` (sent by the database when a request
//! is made) wakes it at once; it also looks every few seconds, so a lost
//! listening connection only delays an answer. Requests are the database's
//! record, not this task's memory: a restart finds what is still waiting.

use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::watch as signal;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::stopped;
use crate::posting::load_categories;
use crate::posting::unmatched;

/// Longest wait between looks without a notification.
const LOOK_EVERY: Duration = Duration::from_secs(5);

pub fn spawn(pool: PgPool, stop: signal::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut listener = listen(&pool).await;
        loop {
            match answer(&pool).await {
                Ok(0) => {}
                Ok(n) => info!(requests = n, "refeed requests answered"),
                Err(e) => warn!(error = %e, "cannot answer refeed requests now; trying again"),
            }
            let woken = async {
                match listener.as_mut() {
                    Some(l) => l.recv().await.map(|_| ()).map_err(|e| e.to_string()),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stopped(stop.clone()) => return,
                _ = tokio::time::sleep(LOOK_EVERY) => {}
                woke = woken => if let Err(e) = woke {
                    debug!(error = %e, "refeed notifications lost; looking every few seconds");
                    listener = None;
                },
            }
            if listener.is_none() {
                listener = listen(&pool).await;
            }
        }
    })
}

/// A connection listening on `remitd_refeed`, if one can be had now.
async fn listen(pool: &PgPool) -> Option<PgListener> {
    let mut l = PgListener::connect_with(pool).await.ok()?;
    l.listen("remitd_refeed").await.ok()?;
    Some(l)
}

async fn answer(pool: &PgPool) -> Result<usize, sqlx::Error> {
    let cats = load_categories(pool).await?;
    unmatched::answer_requests(pool, &cats).await
}
