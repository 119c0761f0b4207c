//! `GET /api/me/export`: one JSON document of everything a user owns,
//! streamed in bounded memory.
//!
//! The document is an object of named sections ([`SECTIONS`], in order).
//! A section is either one value read at once (the profile, the settings,
//! the Spotify status) or a list read in keyset pages, each page on its own
//! short pool checkout and written out before the next is read; a page
//! holds at most one playlist (at most 10,000 tracks), a few snapshots or
//! workshop sessions, or a few hundred small rows. So the document is never
//! held whole, and adding a section is one entry in [`SECTIONS`] and one
//! small function. Each item is what the API answers for it elsewhere
//! (playlists as `GET /api/playlists/{id}`, activity items as the listing),
//! and no section carries a secret: sessions have no token hash, the
//! Spotify section no token, the profile no password hash.
//!
//! The reads below are the export's own keyset pages of each table, kept
//! together so that a section is one function.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use futures_util::Stream;
use serde::Serialize;
use serde_json::Value;

use crate::db::schema::{
    auth_sessions, job_executions, playlist_snapshots, playlists, schedules, track_facts,
    upstream_sources, webhook_deliveries, webhooks, workshop_sessions,
};
use crate::db::{self, DbConnection, Pool};
use crate::error::{AppError, AppResult};
use crate::models::job_execution::JobExecution;
use crate::models::playlist::Playlist;
use crate::models::schedule::Schedule;
use crate::models::snapshot::Snapshot;
use crate::models::track::{OwnFacts, TrackView};
use crate::models::upstream_source::UpstreamSource;
use crate::models::webhook::{Delivery, Webhook};
use crate::models::workshop_session::WorkshopSession;
use crate::models::{ActivityLog, User};
use crate::providers::spotify::Spotify;
use crate::services::activity_export::{first_batch, read_batch, EXPORT_BATCH_SIZE};
use crate::services::export_stream::{self, ChunkSender, Stop};
use crate::services::playlists::{PlaylistService, PlaylistView};
use crate::services::settings::{SettingsService, SettingsView};
use crate::services::spotify::connection::ConnectionStatus;
use crate::services::spotify::SpotifyService;
use crate::services::{ActivityCursor, ActivityQuery, ExportError, Paging};
use crate::streams::StreamGuard;

/// What the document says it is, so a reader can tell the format apart.
pub const EXPORT_FORMAT: &str = "shuffify-account-export";
/// Bumped when a section changes shape (adding one does not).
pub const EXPORT_VERSION: u32 = 1;
/// Bytes gathered before they are offered to the client.
const FLUSH_AT: usize = 64 * 1024;
/// Playlists per page: one, so a page is at most one playlist's 10,000
/// tracks.
const PLAYLISTS_PER_PAGE: i64 = 1;
/// Snapshots or workshop sessions per page (each up to 10,000 URIs).
const ORDERS_PER_PAGE: i64 = 10;
/// Small rows per page.
const ROWS_PER_PAGE: i64 = 500;

/// Whose data is exported, and what the sections need to know.
pub struct Owner {
    pub user: User,
    /// The session asking, marked `current` among the sessions.
    pub session_id: i64,
    pub spotify: Option<Arc<Spotify>>,
}

/// Where a list section's next page starts.
#[derive(Debug, Clone)]
pub enum After {
    Start,
    Id(i64),
    Text(String),
    Activity(ActivityCursor),
}

/// Items a page read, ready to be written after the connection went back.
pub trait Rows: Send {
    /// Appends the items, comma-separated; `first` says whether an item
    /// was written before in this list, and is updated.
    fn write(&self, out: &mut Vec<u8>, first: &mut bool) -> serde_json::Result<()>;
}

impl<T: Serialize + Send> Rows for Vec<T> {
    fn write(&self, out: &mut Vec<u8>, first: &mut bool) -> serde_json::Result<()> {
        for item in self {
            if !*first {
                out.push(b',');
            }
            *first = false;
            serde_json::to_writer(&mut *out, item)?;
        }
        Ok(())
    }
}

/// One page of a list section, and where the next starts (`None`: last).
pub struct Page {
    rows: Box<dyn Rows>,
    next: Option<After>,
}

impl Page {
    /// A page of `items`; a full page (of `per_page`) has a next one,
    /// starting after what `key` says of its last item.
    fn of<T: Serialize + Send + 'static>(
        items: Vec<T>,
        per_page: i64,
        key: impl Fn(&T) -> After,
    ) -> Page {
        let next = (items.len() as i64 >= per_page)
            .then(|| items.last().map(key))
            .flatten();
        Page {
            rows: Box::new(items),
            next,
        }
    }
}

type ReadOne = fn(&mut DbConnection, &Owner) -> AppResult<Value>;
type ReadPage = fn(&mut DbConnection, &Owner, &After) -> AppResult<Page>;

/// A named part of the document.
pub enum Section {
    /// One value, read at once.
    One(&'static str, ReadOne),
    /// A list, read page by page.
    List(&'static str, ReadPage),
}

/// The document's sections, in order.
pub const SECTIONS: &[Section] = &[
    Section::One("user", profile),
    Section::One("settings", settings),
    Section::One("spotify", spotify),
    Section::List("sessions", sessions),
    Section::List("playlists", playlists_page),
    Section::List("snapshots", snapshots),
    Section::List("workshop_sessions", workshop_sessions_page),
    Section::List("upstream_sources", upstream_sources_page),
    Section::List("schedules", schedules_page),
    Section::List("schedule_executions", schedule_executions),
    Section::List("track_facts", track_facts_page),
    Section::List("webhooks", webhooks_page),
    Section::List("webhook_deliveries", webhook_deliveries_page),
    Section::List("activity", activity),
];

/// The whole document as OpenAPI describes it. Never built: the export
/// streams it section by section.
#[allow(dead_code)]
#[derive(utoipa::ToSchema)]
pub struct AccountExport {
    /// Always `shuffify-account-export`.
    export_format: String,
    /// The version of this shape.
    export_version: u32,
    #[schema(value_type = String, format = DateTime)]
    exported_at: NaiveDateTime,
    user: crate::models::user::PublicUser,
    settings: SettingsView,
    /// The Spotify connection's status, without tokens.
    spotify: ConnectionStatus,
    /// Every session, live or ended, without its token.
    sessions: Vec<ExportedSession>,
    /// With their tracks, in order.
    playlists: Vec<PlaylistView>,
    snapshots: Vec<Snapshot>,
    workshop_sessions: Vec<WorkshopSession>,
    upstream_sources: Vec<UpstreamSource>,
    schedules: Vec<Schedule>,
    /// Every run of the schedules, as stored.
    schedule_executions: Vec<JobExecution>,
    /// What the user sent about tracks (what their playlists show).
    track_facts: Vec<TrackView>,
    /// The webhooks, without their secrets.
    webhooks: Vec<Webhook>,
    /// Every delivery of the webhooks, each naming its webhook.
    webhook_deliveries: Vec<ExportedDelivery>,
    /// The whole trail, newest first, each item as the listing answers it.
    activity: Vec<ActivityLog>,
}

/// A webhook delivery as the export shows it: the listing's item and the
/// webhook it belongs to.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportedDelivery {
    pub webhook_id: i64,
    #[serde(flatten)]
    pub delivery: Delivery,
}

/// A session as the export shows it: no token hash.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportedSession {
    pub id: i64,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: NaiveDateTime,
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub revoked_at: Option<NaiveDateTime>,
    #[schema(required = true)]
    pub ip_address: Option<String>,
    #[schema(required = true)]
    pub user_agent: Option<String>,
    /// The session that asked for this export.
    pub current: bool,
}

fn as_value(value: impl Serialize) -> AppResult<Value> {
    serde_json::to_value(value).map_err(|e| AppError::Internal(format!("export: {e}")))
}

fn profile(_conn: &mut DbConnection, owner: &Owner) -> AppResult<Value> {
    as_value(owner.user.public())
}

fn settings(conn: &mut DbConnection, owner: &Owner) -> AppResult<Value> {
    as_value(SettingsView::from(SettingsService::get(
        conn,
        owner.user.id,
    )?))
}

fn spotify(conn: &mut DbConnection, owner: &Owner) -> AppResult<Value> {
    as_value(SpotifyService::status(
        conn,
        owner.spotify.as_deref(),
        &owner.user,
    )?)
}

fn after_id(after: &After) -> i64 {
    match after {
        After::Id(id) => *id,
        _ => 0,
    }
}

fn after_text(after: &After) -> &str {
    match after {
        After::Text(text) => text,
        _ => "",
    }
}

fn sessions(conn: &mut DbConnection, owner: &Owner, after: &After) -> AppResult<Page> {
    type Row = (
        i64,
        NaiveDateTime,
        NaiveDateTime,
        Option<NaiveDateTime>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = auth_sessions::table
        .filter(auth_sessions::user_id.eq(owner.user.id))
        .filter(auth_sessions::id.gt(after_id(after)))
        .order(auth_sessions::id.asc())
        .limit(ROWS_PER_PAGE)
        .select((
            auth_sessions::id,
            auth_sessions::created_at,
            auth_sessions::expires_at,
            auth_sessions::revoked_at,
            auth_sessions::ip_address,
            auth_sessions::user_agent,
        ))
        .load(conn)?;
    let items: Vec<ExportedSession> = rows
        .into_iter()
        .map(
            |(id, created_at, expires_at, revoked_at, ip_address, user_agent)| ExportedSession {
                id,
                created_at,
                expires_at,
                revoked_at,
                ip_address,
                user_agent,
                current: id == owner.session_id,
            },
        )
        .collect();
    Ok(Page::of(items, ROWS_PER_PAGE, |s| After::Id(s.id)))
}

fn playlists_page(conn: &mut DbConnection, owner: &Owner, after: &After) -> AppResult<Page> {
    let found: Vec<Playlist> = playlists::table
        .filter(playlists::owner_id.eq(owner.user.id))
        .filter(playlists::id.gt(after_text(after)))
        .order(playlists::id.asc())
        .limit(PLAYLISTS_PER_PAGE)
        .select(Playlist::as_select())
        .load(conn)?;
    let views = found
        .iter()
        .map(|p| PlaylistService::view(conn, p))
        .collect::<AppResult<Vec<_>>>()?;
    Ok(Page::of(views, PLAYLISTS_PER_PAGE, |p| {
        After::Text(p.id.clone())
    }))
}

fn snapshots(conn: &mut DbConnection, owner: &Owner, after: &After) -> AppResult<Page> {
    let items: Vec<Snapshot> = playlist_snapshots::table
        .filter(playlist_snapshots::user_id.eq(owner.user.id))
        .filter(playlist_snapshots::id.gt(after_id(after)))
        .order(playlist_snapshots::id.asc())
        .limit(ORDERS_PER_PAGE)
        .select(Snapshot::as_select())
        .load(conn)?;
    Ok(Page::of(items, ORDERS_PER_PAGE, |s| After::Id(s.id)))
}

fn workshop_sessions_page(
    conn: &mut DbConnection,
    owner: &Owner,
    after: &After,
) -> AppResult<Page> {
    let items: Vec<WorkshopSession> = workshop_sessions::table
        .filter(workshop_sessions::user_id.eq(owner.user.id))
        .filter(workshop_sessions::id.gt(after_id(after)))
        .order(workshop_sessions::id.asc())
        .limit(ORDERS_PER_PAGE)
        .select(WorkshopSession::as_select())
        .load(conn)?;
    Ok(Page::of(items, ORDERS_PER_PAGE, |s| After::Id(s.id)))
}

fn upstream_sources_page(conn: &mut DbConnection, owner: &Owner, after: &After) -> AppResult<Page> {
    let items: Vec<UpstreamSource> = upstream_sources::table
        .filter(upstream_sources::user_id.eq(owner.user.id))
        .filter(upstream_sources::id.gt(after_id(after)))
        .order(upstream_sources::id.asc())
        .limit(ROWS_PER_PAGE)
        .select(UpstreamSource::as_select())
        .load(conn)?;
    Ok(Page::of(items, ROWS_PER_PAGE, |s| After::Id(s.id)))
}

fn schedules_page(conn: &mut DbConnection, owner: &Owner, after: &After) -> AppResult<Page> {
    let items: Vec<Schedule> = schedules::table
        .filter(schedules::user_id.eq(owner.user.id))
        .filter(schedules::id.gt(after_id(after)))
        .order(schedules::id.asc())
        .limit(ROWS_PER_PAGE)
        .select(Schedule::as_select())
        .load(conn)?;
    Ok(Page::of(items, ROWS_PER_PAGE, |s| After::Id(s.id)))
}

fn schedule_executions(conn: &mut DbConnection, owner: &Owner, after: &After) -> AppResult<Page> {
    let items: Vec<JobExecution> = job_executions::table
        .inner_join(schedules::table)
        .filter(schedules::user_id.eq(owner.user.id))
        .filter(job_executions::id.gt(after_id(after)))
        .order(job_executions::id.asc())
        .limit(ROWS_PER_PAGE)
        .select(JobExecution::as_select())
        .load(conn)?;
    Ok(Page::of(items, ROWS_PER_PAGE, |e| After::Id(e.id)))
}

fn webhooks_page(conn: &mut DbConnection, owner: &Owner, after: &After) -> AppResult<Page> {
    let items: Vec<Webhook> = webhooks::table
        .filter(webhooks::user_id.eq(owner.user.id))
        .filter(webhooks::id.gt(after_id(after)))
        .order(webhooks::id.asc())
        .limit(ROWS_PER_PAGE)
        .select(Webhook::as_select())
        .load(conn)?;
    Ok(Page::of(items, ROWS_PER_PAGE, |w| After::Id(w.id)))
}

fn webhook_deliveries_page(
    conn: &mut DbConnection,
    owner: &Owner,
    after: &After,
) -> AppResult<Page> {
    let items: Vec<ExportedDelivery> = webhook_deliveries::table
        .inner_join(webhooks::table)
        .filter(webhooks::user_id.eq(owner.user.id))
        .filter(webhook_deliveries::id.gt(after_id(after)))
        .order(webhook_deliveries::id.asc())
        .limit(ROWS_PER_PAGE)
        .select(Delivery::as_select())
        .load::<Delivery>(conn)?
        .into_iter()
        .map(|delivery| ExportedDelivery {
            webhook_id: delivery.webhook_id,
            delivery,
        })
        .collect();
    Ok(Page::of(items, ROWS_PER_PAGE, |d| After::Id(d.delivery.id)))
}

fn track_facts_page(conn: &mut DbConnection, owner: &Owner, after: &After) -> AppResult<Page> {
    let items: Vec<OwnFacts> = track_facts::table
        .filter(track_facts::user_id.eq(owner.user.id))
        .filter(track_facts::uri.gt(after_text(after)))
        .order(track_facts::uri.asc())
        .limit(ROWS_PER_PAGE)
        .select(OwnFacts::as_select())
        .load(conn)?;
    let items: Vec<TrackView> = items
        .into_iter()
        .map(|f| TrackView {
            artists: f.artists.strings(),
            uri: f.uri,
            name: f.name,
            album_name: f.album_name,
            duration_ms: f.duration_ms,
            tempo: f.tempo,
        })
        .collect();
    Ok(Page::of(items, ROWS_PER_PAGE, |t| {
        After::Text(t.uri.clone())
    }))
}

/// The trail through the listing's own query, newest first, so every item
/// is exactly what the listing answers.
fn activity(conn: &mut DbConnection, owner: &Owner, after: &After) -> AppResult<Page> {
    let mut query = first_batch(&ActivityQuery::default(), EXPORT_BATCH_SIZE);
    if let After::Activity(cursor) = after {
        query.paging = Paging::Cursor(Some(*cursor));
    }
    let (items, next) = read_batch(conn, owner.user.id, &query)?;
    Ok(Page {
        rows: Box::new(items),
        next: next.map(After::Activity),
    })
}

pub struct AccountExportService;

impl AccountExportService {
    /// The body of `GET /api/me/export` (`crate::services::export_stream`):
    /// the producer holds `slot` until the document ends, however it ends,
    /// and gives up on a client that takes nothing for `send_timeout`.
    pub fn stream(
        pool: Pool,
        owner: Owner,
        send_timeout: Duration,
        slot: StreamGuard,
    ) -> impl Stream<Item = Result<Bytes, ExportError>> + 'static {
        let user_id = owner.user.id;
        export_stream::streamed(
            format!("account export for user {user_id}"),
            send_timeout,
            slot,
            move |out| async move { produce(&pool, Arc::new(owner), &out).await },
        )
    }
}

fn failed(err: AppError) -> Stop {
    Stop::Failed(ExportError::Read(err))
}

/// Writing JSON into memory fails only for a value serde cannot write as
/// JSON at all, which no section holds.
fn unwritable(err: serde_json::Error) -> Stop {
    failed(AppError::Internal(format!("export: {err}")))
}

/// Writes the document: the header, then each section in order, flushing
/// whenever [`FLUSH_AT`] bytes have gathered.
async fn produce(pool: &Pool, owner: Arc<Owner>, out: &ChunkSender) -> Result<(), Stop> {
    let mut buf: Vec<u8> = Vec::with_capacity(FLUSH_AT);
    let header = serde_json::json!({
        "export_format": EXPORT_FORMAT,
        "export_version": EXPORT_VERSION,
        "exported_at": crate::timestamp::format(&db::now()),
    })
    .to_string();
    // The header object, left open for the sections.
    buf.extend_from_slice(&header.as_bytes()[..header.len() - 1]);
    for section in SECTIONS {
        let name = match section {
            Section::One(name, _) | Section::List(name, _) => name,
        };
        buf.push(b',');
        serde_json::to_writer(&mut buf, name).map_err(unwritable)?;
        buf.push(b':');
        match *section {
            Section::One(_, read) => {
                let owner = owner.clone();
                let value = db::run(pool, move |conn| read(conn, &owner))
                    .await
                    .map_err(failed)?;
                serde_json::to_writer(&mut buf, &value).map_err(unwritable)?;
            }
            Section::List(_, read) => {
                buf.push(b'[');
                let mut after = After::Start;
                let mut first = true;
                loop {
                    let (owner, from) = (owner.clone(), after.clone());
                    let page = db::run(pool, move |conn| read(conn, &owner, &from))
                        .await
                        .map_err(failed)?;
                    // Rendered here, after the connection went back.
                    page.rows.write(&mut buf, &mut first).map_err(unwritable)?;
                    if buf.len() >= FLUSH_AT {
                        out.send(std::mem::take(&mut buf)).await?;
                    }
                    match page.next {
                        Some(next) => after = next,
                        None => break,
                    }
                }
                buf.push(b']');
            }
        }
    }
    buf.extend_from_slice(b"}\n");
    out.send(buf).await
}
