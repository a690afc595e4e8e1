//! What every console request goes through: the session middleware and its
//! security headers, the extractors that demand a login and a form's CSRF
//! token, and the error page.

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::session::{self, Person, Session};
use super::Console;
use crate::ledger::ActionError;

/// No scripts at all; styles and images only from the console itself (the
/// charts are inline SVG, which needs neither); forms post only to it; no
/// page of it inside another site's frame.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The session a request arrived with (or the anonymous one made for it).
#[derive(Clone)]
pub struct Current {
    pub token: String,
    pub session: Session,
}

impl Console {
    pub fn cookie_name(&self) -> &'static str {
        if self.config.secure_cookies {
            "__Host-remitd"
        } else {
            "remitd"
        }
    }

    /// The `Set-Cookie` value carrying `token`.
    pub fn cookie(&self, token: &str) -> HeaderValue {
        let secure = if self.config.secure_cookies { "; Secure" } else { "" };
        HeaderValue::from_str(&format!("{}={token}; Path=/; HttpOnly; SameSite=Strict{secure}", self.cookie_name())).expect("tokens are hexadecimal")
    }

    fn token_in(&self, headers: &axum::http::HeaderMap) -> Option<String> {
        let name = self.cookie_name();
        headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
    }
}

/// Finds or starts the session, then sets the security headers on
/// whatever the page answers.
pub async fn with_session(State(console): State<Arc<Console>>, mut req: Request, next: Next) -> Response {
    let found = console.token_in(req.headers()).and_then(|t| console.sessions.touch(&t).map(|s| (t, s)));
    let mut fresh = found.is_none();
    let (mut token, mut session) = found.unwrap_or_else(|| console.sessions.start());
    // Single sign-on: the trusted proxy names the person on every request;
    // a session that is not hers is replaced by one that is.
    let peer = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    let mut refused = None;
    if let Some(name) = console.proxy_names(req.headers(), peer) {
        if session.person.as_ref().is_none_or(|p| p.name != name) {
            match console.sign_in(&token, &name, peer.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into()), super::Proof::SingleSignOn).await {
                Ok((t, s)) => (token, session, fresh) = (t, s, true),
                Err(why) => refused = Some(why),
            }
        }
    }
    req.extensions_mut().insert(Current { token: token.clone(), session });
    let mut response = match refused {
        Some(why) => (StatusCode::FORBIDDEN, render(&ErrorPage { status: StatusCode::FORBIDDEN, message: &why })).into_response(),
        None => next.run(req).await,
    };
    let headers = response.headers_mut();
    if fresh && !headers.contains_key(header::SET_COOKIE) {
        headers.insert(header::SET_COOKIE, console.cookie(&token));
    }
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

impl<S: Send + Sync> FromRequestParts<S> for Current {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Current>().cloned().ok_or(PageError::Internal("no session middleware".into()))
    }
}

/// The logged-in person, with her session's CSRF token; a visitor who is
/// not logged in is sent to the login page.
pub struct Me {
    pub person: Person,
    pub csrf: String,
}

impl Me {
    pub fn name(&self) -> &str {
        &self.person.name
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Me {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let current = Current::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        match current.session.person {
            Some(person) => Ok(Me { person, csrf: current.session.csrf }),
            None => Err(Redirect::to("/login").into_response()),
        }
    }
}

/// A posted form whose `csrf` field is the session's token; anything else
/// is refused before the handler runs, so no form can forget the check.
pub struct Posted<T>(pub T);

#[derive(Deserialize)]
struct CsrfField {
    csrf: Option<String>,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Posted<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let current = req.extensions().get::<Current>().cloned().ok_or(PageError::Internal("no session middleware".into()))?;
        let body = Bytes::from_request(req, state).await.map_err(|e| PageError::BadForm(e.to_string()))?;
        check_csrf(&current, &body)?;
        serde_urlencoded::from_bytes(&body).map(Posted).map_err(|e| PageError::BadForm(e.to_string()))
    }
}

/// Refuses a form body whose `csrf` is not the session's token.
pub fn check_csrf(current: &Current, body: &[u8]) -> Result<(), PageError> {
    let sent: CsrfField = serde_urlencoded::from_bytes(body).map_err(|e| PageError::BadForm(e.to_string()))?;
    match sent.csrf {
        Some(t) if session::same(&t, &current.session.csrf) => Ok(()),
        _ => Err(PageError::Csrf),
    }
}

/// A posted `multipart/form-data` form: its file (name and bytes) and its
/// other fields, read only after its `csrf` field proved the session's.
pub struct Upload {
    pub file: Option<(String, Bytes)>,
    pub fields: std::collections::HashMap<String, String>,
}

impl Upload {
    pub async fn read(current: &Current, mut form: axum::extract::Multipart) -> Result<Upload, PageError> {
        let bad = |e: axum::extract::multipart::MultipartError| PageError::BadForm(e.to_string());
        let mut up = Upload { file: None, fields: Default::default() };
        while let Some(field) = form.next_field().await.map_err(bad)? {
            let name = field.name().unwrap_or_default().to_string();
            if name == "file" {
                let file_name = field.file_name().unwrap_or_default().to_string();
                up.file = Some((file_name, field.bytes().await.map_err(bad)?));
            } else {
                up.fields.insert(name, field.text().await.map_err(bad)?);
            }
        }
        let token =
            serde_urlencoded::to_string([("csrf", up.fields.get("csrf").cloned().unwrap_or_default())]).map_err(|e| PageError::BadForm(e.to_string()))?;
        check_csrf(current, token.as_bytes())?;
        Ok(up)
    }

    /// The file's bytes, or a refusal naming what to choose.
    pub fn bytes(&self, what: &str) -> Result<&Bytes, PageError> {
        self.file.as_ref().map(|(_, b)| b).filter(|b| !b.is_empty()).ok_or_else(|| PageError::BadForm(format!("choose {what}")))
    }
}

/// Why a page could not be shown or an action was not done.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("This form was not sent from this console's current page (its security token is missing or old). Go back, reload the page and try again.")]
    Csrf,
    #[error("The form could not be read: {0}")]
    BadForm(String),
    #[error("Not found.")]
    NotFound,
    #[error("{0}")]
    Unavailable(String),
    #[error("The console is starting: the database is not reachable yet.")]
    NotReady,
    #[error("Refused: {0}")]
    Refused(ActionError),
    #[error("Something went wrong on the server: {0}")]
    Internal(String),
}

impl From<ActionError> for PageError {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::Db(e) => PageError::from(e),
            e => PageError::Refused(e),
        }
    }
}

impl From<sqlx::Error> for PageError {
    fn from(e: sqlx::Error) -> Self {
        // A refusal by the database's own checks reads as one.
        match e.as_database_error().and_then(|d| d.code()).as_deref() {
            Some("42501") => PageError::Refused(ActionError::Invalid(e.as_database_error().map(|d| d.message().to_string()).unwrap_or_default())),
            _ => PageError::Internal(e.to_string()),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: StatusCode,
    message: &'a str,
}

impl PageError {
    /// The HTTP status the error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            PageError::Csrf => StatusCode::FORBIDDEN,
            PageError::BadForm(_) => StatusCode::BAD_REQUEST,
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::NotReady => StatusCode::SERVICE_UNAVAILABLE,
            PageError::Unavailable(_) => StatusCode::GONE,
            PageError::Refused(ActionError::Forbidden { .. } | ActionError::NotYou { .. }) => StatusCode::FORBIDDEN,
            PageError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let PageError::Internal(e) = &self {
            tracing::error!(error = %e, "console page failed");
        }
        (status, render(&ErrorPage { status, message: &self.message() })).into_response()
    }
}

impl PageError {
    /// What the person is told: the refusal as it is, but of a failure
    /// inside the server only that it happened (the log has the rest).
    pub fn message(&self) -> String {
        match self {
            PageError::Internal(_) => "Something went wrong on the server; the daemon's log says what.".to_string(),
            other => other.to_string(),
        }
    }

    /// The message of a failure in a job, logged when the server failed.
    pub fn told(self) -> String {
        if let PageError::Internal(e) = &self {
            tracing::error!(error = %e, "console job failed");
        }
        self.message()
    }
}

impl From<crate::sweep::SweepError> for PageError {
    fn from(e: crate::sweep::SweepError) -> Self {
        use crate::sweep::SweepError;
        match e {
            SweepError::Db(e) => e.into(),
            SweepError::Action(e) => e.into(),
            SweepError::NoRun(_) => PageError::NotFound,
            other => PageError::Refused(ActionError::Invalid(other.to_string())),
        }
    }
}

/// A rendered template as an HTML response.
pub fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

/// A form's two-way choice: `yes` is true, `no` false, anything else a
/// bad form naming `what` was asked.
pub fn either(value: &str, yes: &str, no: &str, what: &str) -> Result<bool, PageError> {
    match value {
        v if v == yes => Ok(true),
        v if v == no => Ok(false),
        other => Err(PageError::BadForm(format!("no {what} {other:?}"))),
    }
}

/// A form or query field as typed: `None` when blank.
pub fn nonempty(s: &str) -> Option<&str> {
    Some(s.trim()).filter(|s| !s.is_empty())
}

/// A field that may be left blank, parsed when it is not; a value that
/// does not parse is a bad form naming `what` and the value.
pub fn optional<T: std::str::FromStr>(s: &str, what: &str) -> Result<Option<T>, PageError>
where
    T::Err: std::fmt::Display,
{
    nonempty(s).map(|v| v.parse::<T>().map_err(|e| PageError::BadForm(format!("{what} {v:?}: {e}")))).transpose()
}

/// Money as people write it: two decimals.
pub fn money(d: &rust_decimal::Decimal) -> String {
    format!("{:.2}", d)
}
