//! Files: what the drop folders brought (posted, refused with the reason,
//! test files, partly held), the original of each kept file to download,
//! and re-feeding: a refused file tried again as it is, or a fixed file
//! uploaded into a drop folder's inbox. The daemon posts what lands there,
//! exactly as if the clearinghouse had dropped it.

use std::ffi::OsStr;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::actors::{self, Scope};
use crate::console::web::{render, Current, Me, PageError, Posted, Upload};
use crate::console::Console;
use crate::daemon::config::DropFolder;
use crate::daemon::files::place_new;
use crate::ledger::{audit, Audit};

/// The most files the page lists, newest first.
const SHOWN: i64 = 200;

/// The states a file can be in, as the filter offers them; `duplicated`:
/// files whose bytes came again.
const STATES: [&str; 6] = ["posted", "refused", "partial", "test", "processing", "duplicated"];

struct FileRow {
    id: i64,
    file_name: String,
    state: String,
    refusal_reason: Option<String>,
    size_bytes: i64,
    received_at: DateTime<Utc>,
    kept: bool,
    /// How many times the same bytes came again, and when last.
    duplicates: i32,
    last_duplicate_at: Option<DateTime<Utc>>,
}

#[derive(Template)]
#[template(path = "files.html")]
struct FilesPage<'a> {
    who: &'a str,
    csrf: &'a str,
    state: &'a str,
    states: [&'static str; 6],
    rows: Vec<FileRow>,
    folders: Vec<&'a str>,
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    #[serde(default)]
    state: String,
}

async fn page(console: &Console, me: &Me, state: &str, notice: Option<String>) -> Result<Response, PageError> {
    actors::require_read(&me.person.db).await?;
    let state = if STATES.contains(&state) { state } else { "" };
    let rows = sqlx::query_as!(
        FileRow,
        r#"SELECT id, file_name, state, refusal_reason, size_bytes, received_at, kept_at IS NOT NULL AS "kept!", duplicates, last_duplicate_at
           FROM ingested_files WHERE ($1 = '' OR state = $1 OR ($1 = 'duplicated' AND duplicates > 0)) ORDER BY id DESC LIMIT $2"#,
        state,
        SHOWN
    )
    .fetch_all(&me.person.db)
    .await?;
    let folders = console.folders.iter().map(|f| f.name.as_str()).collect();
    Ok(render(&FilesPage { who: me.name(), csrf: &me.csrf, state, states: STATES, rows, folders, notice }))
}

pub async fn list(State(console): State<Arc<Console>>, me: Me, Query(f): Query<Filter>) -> Result<Response, PageError> {
    page(&console, &me, &f.state, None).await
}

/// The kept copy of file `id` and the name it arrived under.
async fn kept(me: &Me, id: i64) -> Result<(PathBuf, String), PageError> {
    actors::require_read(&me.person.db).await?;
    let row =
        sqlx::query!("SELECT file_name, kept_at FROM ingested_files WHERE id = $1", id).fetch_optional(&me.person.db).await?.ok_or(PageError::NotFound)?;
    let path = row.kept_at.ok_or_else(|| PageError::Unavailable(format!("file #{id} was fed by hand; the daemon kept no copy of it")))?;
    Ok((PathBuf::from(path), row.file_name))
}

/// A name safe in a header and in a folder: its last part, printable.
fn plain_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = last.chars().map(|c| if c.is_control() || c == '"' { '_' } else { c }).collect();
    let clean = clean.trim_start_matches('.').trim();
    if clean.is_empty() {
        "upload.835".into()
    } else {
        clean.into()
    }
}

pub async fn original(me: Me, Path(id): Path<i64>) -> Result<Response, PageError> {
    let (path, name) = kept(&me, id).await?;
    let bytes = tokio::fs::read(&path).await.map_err(|e| PageError::Unavailable(format!("the kept copy of file #{id} cannot be read: {e}")))?;
    let disposition = format!("attachment; filename=\"{}\"", plain_name(&name));
    Ok(([(header::CONTENT_TYPE, "application/edi-x12".to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes).into_response())
}

impl Console {
    fn folder(&self, name: &str) -> Result<&DropFolder, PageError> {
        match name {
            "" => self.folders.first(),
            n => self.folders.iter().find(|f| f.name == n),
        }
        .ok_or_else(|| PageError::BadForm(format!("no drop folder {name:?}")))
    }

    /// The folder whose archive or error folder holds `kept`.
    fn folder_keeping(&self, kept: &FsPath) -> Option<&DropFolder> {
        let under = |dir: &FsPath| std::path::absolute(dir).is_ok_and(|d| kept.starts_with(d));
        self.folders.iter().find(|f| under(&f.error) || under(&f.archive))
    }
}

/// Puts `bytes` into `folder`'s inbox as `name` and audits who did.
async fn feed(me: &Me, folder: &DropFolder, name: &str, bytes: Vec<u8>, action: &str, detail: serde_json::Value) -> Result<String, PageError> {
    let mut conn = me.person.db.acquire().await?;
    actors::require(&mut conn, me.name(), Scope::PaymentWrite).await?;
    if bytes.len() as u64 > folder.max_file_bytes {
        return Err(PageError::BadForm(format!("the file is {} bytes; folder {} takes at most {}", bytes.len(), folder.name, folder.max_file_bytes)));
    }
    let (inbox, wanted) = (folder.inbox.clone(), plain_name(name));
    let size = bytes.len();
    let placed = tokio::task::spawn_blocking(move || place_new(&bytes, &inbox, OsStr::new(&wanted)))
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?
        .map_err(|e| PageError::Unavailable(format!("the file could not be put in folder {}'s inbox: {e}", folder.name)))?;
    let placed_name = placed.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut detail = detail;
    detail["folder"] = folder.name.clone().into();
    detail["file"] = placed_name.clone().into();
    detail["bytes"] = size.into();
    audit::record(&mut conn, me.name(), action, Audit { detail: Some(detail), ..Audit::default() }).await?;
    Ok(format!("{placed_name} is in folder {}'s inbox; the daemon posts it within seconds (it appears at the top of this list).", folder.name))
}

/// A form with nothing but its CSRF token.
#[derive(Deserialize)]
pub struct NoFields {}

/// Tries a kept file again as it is (say, refused while a claim was missing).
pub async fn refeed(State(console): State<Arc<Console>>, me: Me, Path(id): Path<i64>, Posted(NoFields {}): Posted<NoFields>) -> Result<Response, PageError> {
    let (path, name) = kept(&me, id).await?;
    let folder = console.folder_keeping(&path).or(console.folders.first()).ok_or_else(|| PageError::Unavailable("the daemon has no drop folder".into()))?;
    let bytes = tokio::fs::read(&path).await.map_err(|e| PageError::Unavailable(format!("the kept copy of file #{id} cannot be read: {e}")))?;
    let notice = feed(&me, folder, &name, bytes, "file_refed", serde_json::json!({ "file_id": id })).await?;
    page(&console, &me, "", Some(notice)).await
}

/// A fixed file, uploaded into the chosen folder's inbox.
pub async fn upload(State(console): State<Arc<Console>>, me: Me, current: Current, form: Multipart) -> Result<Response, PageError> {
    let up = Upload::read(&current, form).await?;
    let bytes = up.bytes("an 835 file")?.to_vec();
    let folder = console.folder(up.fields.get("folder").map(String::as_str).unwrap_or_default())?;
    let name = up.file.as_ref().map(|(n, _)| n.as_str()).unwrap_or_default();
    let notice = feed(&me, folder, name, bytes, "file_uploaded", serde_json::json!({})).await?;
    page(&console, &me, "", Some(notice)).await
}
