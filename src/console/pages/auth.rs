//! Logging in and out. A failed login says only that the name or password
//! is wrong, takes as long whether or not the name exists, counts against
//! the name and the address, and is audited.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::console::password;
use crate::console::web::{render, Current, Me, PageError, Posted};
use crate::console::{Console, Proof};
use crate::ledger::{audit, Audit, SYSTEM_ACTOR};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    message: Option<&'a str>,
}

pub async fn form(current: Current) -> Response {
    if current.session.person.is_some() {
        return Redirect::to("/").into_response();
    }
    render(&LoginPage { csrf: &current.session.csrf, message: None })
}

#[derive(Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
}

pub async fn log_in(
    State(console): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    current: Current,
    Posted(f): Posted<LoginForm>,
) -> Result<Response, PageError> {
    let daemon = console.daemon_pool()?;
    let name = f.name.trim().to_ascii_lowercase();
    let (by_name, by_address) = (format!("name:{name}"), format!("address:{}", peer.ip()));
    let refuse = |status: StatusCode, message: &str| (status, render(&LoginPage { csrf: &current.session.csrf, message: Some(message) })).into_response();
    if console.throttle.blocked(&by_name) || console.throttle.blocked(&by_address) {
        return Ok(refuse(StatusCode::TOO_MANY_REQUESTS, "Too many failed logins: wait a quarter of an hour, or ask an admin."));
    }
    let valid_name = crate::actors::validate_name(&name).is_ok();
    let hash: Option<String> = match valid_name {
        true => sqlx::query_scalar!("SELECT remitd_password_hash($1)", name).fetch_one(daemon).await?,
        false => None,
    };
    let known = hash.is_some();
    let password = f.password;
    let matches = tokio::task::spawn_blocking(move || password::verify(&password, hash.as_deref().unwrap_or(password::decoy())) && known)
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?;
    if !matches {
        console.throttle.failed(&by_name);
        console.throttle.failed(&by_address);
        // The name only when it is a person's: a mistyped name may be anything.
        let detail = serde_json::json!({ "name": known.then_some(&name), "address": peer.ip().to_string() });
        audit::record(&mut *daemon.acquire().await?, SYSTEM_ACTOR, "console_login_failed", Audit { detail: Some(detail), ..Audit::default() }).await?;
        tracing::info!(address = %peer.ip(), "console login failed");
        return Ok(refuse(StatusCode::UNAUTHORIZED, "Wrong name or password."));
    }
    console.throttle.succeeded(&by_name);
    let (token, _) = match console.sign_in(&current.token, &name, peer.ip(), Proof::Password).await {
        Ok(started) => started,
        Err(why) => return Ok(refuse(StatusCode::FORBIDDEN, &why)),
    };
    Ok(([(header::SET_COOKIE, console.cookie(&token))], Redirect::to("/")).into_response())
}

#[derive(Deserialize)]
pub struct Nothing {}

pub async fn log_out(State(console): State<Arc<Console>>, current: Current, _me: Me, Posted(Nothing {}): Posted<Nothing>) -> Response {
    console.sessions.end(&current.token);
    Redirect::to("/login").into_response()
}
