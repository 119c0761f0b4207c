//! Spotify as a playlist provider (SPEC §9, §10.17-10.21): connecting an
//! account, listing and importing its playlists, syncing a linked copy, and
//! writing a rewritten order back.
//!
//! Every function here that calls Spotify takes a [`Checkout`] (or the
//! pool) rather than a connection, and holds no connection and no lock
//! across a call: the database work before and after each call is its own
//! short checkout and transaction. What keeps two writers apart instead:
//!
//! - a token refresh takes the connection row's lock, reads it again, and
//!   leaves a 30-second claim (`refresh_claimed_until`) before it calls
//!   Spotify; others wait for the claim to end and use the new token;
//! - a write of a playlist's order takes a claim on the playlist
//!   (`provider_writing_since`) in the transaction that takes its automatic
//!   snapshot; others wait up to 15 s, then answer 409. A claim older than
//!   five minutes belongs to a writer that died mid-way: the playlist is
//!   then out of sync, and writes answer 409 until a sync.

use std::collections::HashMap;
use std::time::Duration;

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::db::{self, write_transaction, Checkout, DbConnection, Pool};
use crate::enums::Provider;
use crate::error::{AppError, AppResult};
use crate::models::playlist::{Playlist, ProviderLink};
use crate::models::provider_connection::{
    NewOAuthState, NewProviderConnection, OAuthState, ProviderConnection,
};
use crate::models::snapshot::Snapshot;
use crate::models::track::NewTrack;
use crate::models::{NewActivity, SyncCounts, User};
use crate::providers::spotify::api::{self, PlaylistItem};
use crate::providers::spotify::http::CallError;
use crate::providers::spotify::{Spotify, TokenError};
use crate::services::auth::token_hash;
use crate::services::playlists::{
    check_version, IfMatch, NewPlaylistInput, PlaylistService, PlaylistView, Rewrite,
    RewriteTarget, TrackInput, MAX_TRACKS,
};
use crate::services::ActivityLogService;

/// How long an authorization may take (SPEC §10.18).
const STATE_TTL_MINUTES: i64 = 10;
/// An access token this close to expiry is refreshed before use.
const REFRESH_MARGIN_SECS: i64 = 60;
/// How long a refresh claim keeps others waiting: longer than the longest
/// token call (10 s, a 429 waited out for up to 5 s, 10 s again).
const REFRESH_CLAIM_SECS: i64 = 60;
/// A write claim older than this belongs to a writer that died.
pub const WRITE_CLAIM_SECS: i64 = 300;
/// How long a rewrite waits for another's write to Spotify to end.
const CLAIM_WAIT: Duration = Duration::from_secs(15);
const CLAIM_POLL: Duration = Duration::from_millis(200);
/// Reads of Spotify a sync makes before it gives up on a playlist that
/// keeps changing under it.
const SYNC_TRIES: usize = 3;
/// Most characters of a playlist name (as `POST /api/playlists`).
const NAME_CHARS: usize = 200;

/// `GET /api/providers/spotify`. Without Spotify configured only
/// `configured` and `connected` are sent; with it, every field, `null`
/// where there is no connection.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConnectionStatus {
    pub configured: bool,
    pub connected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spotify_user_id: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::timestamp::serialize_option_option"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub connected_at: Option<Option<NaiveDateTime>>,
    /// Spotify refused the refresh token: connect again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken_reason: Option<Option<String>>,
}

/// One of the caller's Spotify playlists.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SpotifyPlaylist {
    pub spotify_playlist_id: String,
    pub name: String,
    pub track_count: u64,
    /// The owner's Spotify id.
    pub owner: String,
    /// Whether the connected account may write its order (its own, or
    /// collaborative): only those can be imported.
    pub writable: bool,
    /// The caller's playlist linked to it, if any.
    #[schema(required = true)]
    pub linked_playlist_id: Option<String>,
}

/// `POST /api/playlists/{id}/sync`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SyncAnswer {
    pub playlist: PlaylistView,
    pub changed: bool,
    pub added: usize,
    pub removed: usize,
    pub reordered: bool,
}

/// What a look at the connection found, for a refresh.
enum Claim {
    /// Another refresh already gave a new token (or it is fresh).
    Replaced(Session),
    /// Another refresh is under way.
    Busy,
    /// Ours: the row, its refresh token, and the claim's end.
    Taken(Box<(ProviderConnection, String, NaiveDateTime)>),
}

/// A usable access token and the account it belongs to.
struct Session {
    token: String,
    account_id: String,
}

pub struct SpotifyService;

/// 404 for every provider route while Spotify is off (SPEC §10.17).
pub fn not_configured() -> AppError {
    AppError::NotAvailable("Spotify is not configured on this server".into())
}

/// A Spotify failure as our client sees it (SPEC §10.10).
pub fn upstream(err: CallError) -> AppError {
    match err {
        CallError::Unavailable { retry_after_secs } => AppError::UpstreamUnavailable {
            message: format!("Spotify is busy or unavailable; try again in {retry_after_secs} s"),
            retry_after_secs,
        },
        CallError::Unauthorized => {
            AppError::Upstream("Spotify refused the access token, even after a refresh".into())
        }
        CallError::NotFound => AppError::Upstream("Spotify has no such playlist".into()),
        CallError::Forbidden(message) => {
            AppError::Upstream(format!("Spotify refused the request: {message}"))
        }
        CallError::TooLarge { total, max } => AppError::Conflict(format!(
            "the Spotify playlist has {total} items; at most {max} can be linked"
        )),
        CallError::Failed(message) => AppError::Upstream(message),
    }
}

fn context(kind: &str, user_id: i64) -> String {
    format!("spotify:{kind}:{user_id}")
}

impl SpotifyService {
    // ----- connecting -----------------------------------------------------

    /// Starts an authorization for `user`: stores the state's hash and the
    /// PKCE challenge, answers Spotify's consent URL.
    pub fn authorize(conn: &mut DbConnection, spotify: &Spotify, user: &User) -> AppResult<String> {
        let authorization = spotify.authorize().map_err(upstream)?;
        let now = db::now();
        NewOAuthState {
            state_hash: &token_hash(&authorization.state),
            user_id: user.id,
            provider: Provider::Spotify,
            pkce_challenge: &authorization.challenge,
            created_at: now,
            expires_at: now + chrono::Duration::minutes(STATE_TTL_MINUTES),
        }
        .insert(conn)?;
        Ok(authorization.url)
    }

    /// The callback: consumes `state` (400 when unknown, used or expired),
    /// exchanges `code`, reads the account, stores the sealed tokens and
    /// logs `provider_connect`.
    pub fn complete(pool: &Pool, spotify: &Spotify, state: &str, code: &str) -> AppResult<()> {
        let mut db = Checkout::new(pool.clone());
        let found = write_transaction(db.conn()?, |conn| {
            OAuthState::consume(conn, &token_hash(state), db::now())
        })?;
        let invalid = || AppError::invalid("state", "unknown, used or expired; start again");
        let found = found.ok_or_else(invalid)?;
        if found.pkce_challenge != spotify.challenge_for(state) {
            return Err(invalid());
        }
        db.release();
        let tokens = spotify.exchange(code, state).map_err(|err| match err {
            TokenError::Refused(_) => {
                AppError::invalid("code", "Spotify refused the authorization code")
            }
            TokenError::Call(call) => upstream(call),
        })?;
        let refresh = tokens
            .refresh
            .clone()
            .ok_or_else(|| AppError::Upstream("Spotify gave no refresh token".into()))?;
        let me = spotify.api().me(&tokens.access).map_err(upstream)?;
        let user_id = found.user_id;
        write_transaction(db.conn()?, |conn| {
            User::lock(conn, user_id)?;
            let user = User::find(conn, user_id)?.ok_or(AppError::NotFound)?;
            let now = db::now();
            let scopes = tokens.scopes.join(" ");
            NewProviderConnection {
                user_id,
                provider: Provider::Spotify,
                account_id: &me.id,
                display_name: me.display_name.as_deref(),
                scopes: &scopes,
                access_token: &spotify
                    .seal
                    .seal(&tokens.access, &context("access", user_id)),
                refresh_token: &spotify.seal.seal(&refresh, &context("refresh", user_id)),
                access_expires_at: expiry(now, tokens.expires_in),
                connected_at: now,
                updated_at: now,
            }
            .upsert(conn)?;
            ActivityLogService::log(
                conn,
                NewActivity::provider_connect(&user, Provider::Spotify, &me.id),
            );
            Ok(())
        })
    }

    pub fn status(
        conn: &mut DbConnection,
        spotify: Option<&Spotify>,
        user: &User,
    ) -> AppResult<ConnectionStatus> {
        if spotify.is_none() {
            return Ok(ConnectionStatus {
                configured: false,
                connected: false,
                spotify_user_id: None,
                display_name: None,
                scopes: None,
                connected_at: None,
                broken: None,
                broken_reason: None,
            });
        }
        let found = ProviderConnection::find(conn, user.id, Provider::Spotify)?;
        Ok(ConnectionStatus {
            configured: true,
            connected: found.is_some(),
            spotify_user_id: Some(found.as_ref().map(|c| c.account_id.clone())),
            display_name: Some(found.as_ref().and_then(|c| c.display_name.clone())),
            scopes: Some(found.as_ref().map_or_else(Vec::new, |c| {
                c.scopes.split_whitespace().map(String::from).collect()
            })),
            connected_at: Some(found.as_ref().map(|c| c.connected_at)),
            broken: Some(found.as_ref().is_some_and(|c| c.broken_reason.is_some())),
            broken_reason: Some(found.and_then(|c| c.broken_reason)),
        })
    }

    /// Deletes the connection and its tokens; logs `provider_disconnect`.
    /// Linked playlists stay linked.
    pub fn disconnect(conn: &mut DbConnection, user: &User) -> AppResult<()> {
        write_transaction(conn, |conn| {
            User::lock(conn, user.id)?;
            let found = ProviderConnection::find(conn, user.id, Provider::Spotify)?
                .ok_or_else(|| AppError::NotAvailable("no Spotify account is connected".into()))?;
            ProviderConnection::delete(conn, found.id)?;
            ActivityLogService::log(
                conn,
                NewActivity::provider_disconnect(user, Provider::Spotify, &found.account_id),
            );
            Ok(())
        })
    }

    // ----- tokens ---------------------------------------------------------

    /// A live access token of the user's connection, refreshed first when
    /// it is close to expiry; 409 when there is no usable connection.
    fn session(db: &mut Checkout, spotify: &Spotify, user_id: i64) -> AppResult<Session> {
        let found = ProviderConnection::find(db.conn()?, user_id, Provider::Spotify)?;
        let connection = usable(found)?;
        let fresh = connection.access_expires_at
            > db::now() + chrono::Duration::seconds(REFRESH_MARGIN_SECS);
        if fresh {
            if let Some(token) = spotify
                .seal
                .open(&connection.access_token, &context("access", user_id))
            {
                return Ok(Session {
                    token,
                    account_id: connection.account_id,
                });
            }
        }
        Self::refresh(db, spotify, user_id, None)
    }

    /// Refreshes the user's access token (SPEC §10.18): locks the row and
    /// reads it again; if another refresh already replaced `stale` (or the
    /// token is fresh, when `stale` is `None`), uses that; waits for a
    /// refresh claimed by someone else; else claims, calls Spotify with no
    /// lock held, and stores what it gets, if its claim still stands (a
    /// reconnect meanwhile wins). A refresh token Spotify refuses marks the
    /// connection broken, unless another refresher replaced it meanwhile.
    fn refresh(
        db: &mut Checkout,
        spotify: &Spotify,
        user_id: i64,
        stale: Option<&str>,
    ) -> AppResult<Session> {
        let started = std::time::Instant::now();
        let (connection, refresh_token, claim) = loop {
            match Self::claim_refresh(db.conn()?, spotify, user_id, stale)? {
                Claim::Replaced(session) => return Ok(session),
                Claim::Taken(taken) => break *taken,
                Claim::Busy => {
                    db.release();
                    if started.elapsed() > Duration::from_secs(REFRESH_CLAIM_SECS as u64) {
                        return Err(AppError::UpstreamUnavailable {
                            message: "a refresh of the Spotify token is taking too long".into(),
                            retry_after_secs: 5,
                        });
                    }
                    std::thread::sleep(CLAIM_POLL);
                }
            }
        };
        db.release();
        let answer = spotify.refresh(&refresh_token);
        let conn = db.conn()?;
        let now = db::now();
        let superseded =
            || AppError::Conflict("the Spotify connection changed meanwhile; try again".into());
        match answer {
            Ok(tokens) => {
                let refresh = tokens.refresh.unwrap_or(refresh_token);
                let stored = ProviderConnection::store_refreshed(
                    conn,
                    connection.id,
                    claim,
                    &spotify
                        .seal
                        .seal(&tokens.access, &context("access", user_id)),
                    &spotify.seal.seal(&refresh, &context("refresh", user_id)),
                    expiry(now, tokens.expires_in),
                    now,
                )?;
                if !stored {
                    return Err(superseded());
                }
                Ok(Session {
                    token: tokens.access,
                    account_id: connection.account_id,
                })
            }
            Err(TokenError::Refused(code)) => {
                let reason = format!(
                    "Spotify refused the refresh token ({code}); access was probably revoked: connect again"
                );
                if !ProviderConnection::mark_broken(conn, connection.id, claim, &reason, now)? {
                    return Err(superseded());
                }
                Err(AppError::Conflict(format!(
                    "the Spotify connection is broken: {reason}"
                )))
            }
            Err(TokenError::Call(call)) => {
                ProviderConnection::release_claim(conn, connection.id, claim)?;
                Err(upstream(call))
            }
        }
    }

    /// One look at the connection under its row lock, for [`Self::refresh`].
    fn claim_refresh(
        conn: &mut DbConnection,
        spotify: &Spotify,
        user_id: i64,
        stale: Option<&str>,
    ) -> AppResult<Claim> {
        write_transaction(conn, |conn| {
            let now = db::now();
            let connection = usable(ProviderConnection::lock(conn, user_id, Provider::Spotify)?)?;
            let opened = spotify
                .seal
                .open(&connection.access_token, &context("access", user_id))
                .zip(
                    spotify
                        .seal
                        .open(&connection.refresh_token, &context("refresh", user_id)),
                );
            let Some((access, refresh)) = opened else {
                let reason = "the stored Spotify tokens cannot be read (was TOKEN_ENCRYPTION_KEY \
                              changed?): connect again";
                ProviderConnection::mark_unreadable(conn, connection.id, reason, now)?;
                return Ok(Err(reason));
            };
            let replaced = match stale {
                Some(stale) => access != stale,
                None => {
                    connection.access_expires_at
                        > now + chrono::Duration::seconds(REFRESH_MARGIN_SECS)
                }
            };
            if replaced {
                return Ok(Ok(Claim::Replaced(Session {
                    token: access,
                    account_id: connection.account_id,
                })));
            }
            if connection
                .refresh_claimed_until
                .is_some_and(|until| until > now)
            {
                return Ok(Ok(Claim::Busy));
            }
            let claim = now + chrono::Duration::seconds(REFRESH_CLAIM_SECS);
            ProviderConnection::claim_refresh(conn, connection.id, claim)?;
            Ok::<_, AppError>(Ok(Claim::Taken(Box::new((connection, refresh, claim)))))
        })?
        // Marked broken in its own committed transaction, then the 409.
        .map_err(|reason| AppError::Conflict(format!("the Spotify connection is broken: {reason}")))
    }

    /// Runs `call` with a live token; on a 401, refreshes once and tries
    /// again. `call` must be safe to repeat.
    fn with_token<T>(
        db: &mut Checkout,
        spotify: &Spotify,
        user_id: i64,
        mut call: impl FnMut(&api::Api<'_>, &Session) -> Result<T, CallError>,
    ) -> AppResult<(T, String)> {
        let session = Self::session(db, spotify, user_id)?;
        db.release();
        match call(&spotify.api(), &session) {
            Err(CallError::Unauthorized) => {
                let session = Self::refresh(db, spotify, user_id, Some(&session.token))?;
                db.release();
                let answer = call(&spotify.api(), &session).map_err(upstream)?;
                Ok((answer, session.account_id))
            }
            other => Ok((other.map_err(upstream)?, session.account_id)),
        }
    }

    // ----- playlists ------------------------------------------------------

    /// A window of the caller's Spotify playlists, and Spotify's total.
    pub fn list(
        pool: &Pool,
        spotify: &Spotify,
        user: &User,
        limit: usize,
        offset: u64,
    ) -> AppResult<(Vec<SpotifyPlaylist>, u64)> {
        let mut db = Checkout::new(pool.clone());
        let ((found, total), account) = Self::with_token(&mut db, spotify, user.id, |api, s| {
            api.my_playlists(&s.token, offset, limit)
        })?;
        let linked: HashMap<String, String> =
            Playlist::linked_ids(db.conn()?, user.id, Provider::Spotify)?
                .into_iter()
                .filter_map(|(spotify_id, id)| Some((spotify_id?, id)))
                .collect();
        let items = found
            .into_iter()
            .map(|p| SpotifyPlaylist {
                writable: p.writable_by(&account),
                linked_playlist_id: linked.get(&p.id).cloned(),
                spotify_playlist_id: p.id,
                name: p.name,
                track_count: p.tracks.total,
                owner: p.owner.id,
            })
            .collect();
        Ok((items, total))
    }

    /// Imports a Spotify playlist as a linked local one (SPEC §10.21).
    pub fn import(
        pool: &Pool,
        spotify: &Spotify,
        user: &User,
        spotify_playlist_id: &str,
    ) -> AppResult<PlaylistView> {
        let mut db = Checkout::new(pool.clone());
        Self::refuse_linked_twice(db.conn()?, user.id, spotify_playlist_id)?;
        let (found, account) = Self::with_token(&mut db, spotify, user.id, |api, s| {
            let info = match api.playlist(&s.token, spotify_playlist_id) {
                Err(CallError::NotFound) => return Ok(None),
                other => other?,
            };
            if !info.writable_by(&s.account_id) || info.tracks.total as usize > MAX_TRACKS {
                return Ok(Some((info, Vec::new())));
            }
            let items = api.playlist_items(&s.token, spotify_playlist_id, MAX_TRACKS)?;
            Ok(Some((info, items)))
        })?;
        let (info, items) = found.ok_or(AppError::NotFound)?;
        if !info.writable_by(&account) {
            return Err(AppError::Conflict(format!(
                "the Spotify playlist {spotify_playlist_id} belongs to {} and is not collaborative: \
                 its order cannot be written, so it cannot be linked",
                info.owner.id
            )));
        }
        if info.tracks.total as usize > MAX_TRACKS {
            return Err(AppError::Conflict(format!(
                "the Spotify playlist has {} items; at most {MAX_TRACKS} can be linked",
                info.tracks.total
            )));
        }
        let tracks = Self::tracks_with_tempo(&mut db, spotify, user.id, &items);
        // Spotify's snapshot is kept only when every item is in the copy:
        // a rewrite may then trust it without reading the items again.
        let whole = tracks.len() == items.len();
        let name: String = match info.name.trim() {
            "" => "Untitled Spotify playlist".to_string(),
            name => name.chars().take(NAME_CHARS).collect(),
        };
        let input = NewPlaylistInput {
            name,
            description: info
                .description
                .clone()
                .unwrap_or_default()
                .chars()
                .take(2000)
                .collect(),
            is_public: false,
            tracks,
        };
        let link = ProviderLink::spotify(
            spotify_playlist_id,
            &account,
            whole.then_some(info.snapshot_id),
        );
        write_transaction(db.conn()?, |conn| {
            // The owner's lock first, so a parallel import of the same
            // playlist waits here and then finds this one's link.
            User::lock(conn, user.id)?;
            Self::refuse_linked_twice(conn, user.id, spotify_playlist_id)?;
            PlaylistService::create_linked(conn, user, &input, link)
        })
    }

    fn refuse_linked_twice(
        conn: &mut DbConnection,
        user_id: i64,
        spotify_playlist_id: &str,
    ) -> AppResult<()> {
        match Playlist::find_linked(conn, user_id, Provider::Spotify, spotify_playlist_id)? {
            Some(linked) => Err(AppError::Conflict(format!(
                "the Spotify playlist {spotify_playlist_id} is already linked as playlist {}",
                linked.id
            ))),
            None => Ok(()),
        }
    }

    /// The writable items as tracks of a linked playlist, with tempo where
    /// Spotify serves audio features (any failure leaves it unknown).
    fn tracks_with_tempo(
        db: &mut Checkout,
        spotify: &Spotify,
        user_id: i64,
        items: &[PlaylistItem],
    ) -> Vec<TrackInput> {
        let mut tracks: Vec<TrackInput> = items
            .iter()
            .filter_map(|item| item.track.as_ref())
            .filter(|t| !t.is_local && api::writable_uri(&t.uri))
            .map(|t| TrackInput {
                uri: t.uri.clone(),
                name: t.name.chars().take(500).collect(),
                artists: match (&t.show, t.artists.is_empty()) {
                    (Some(show), true) => vec![show.name.clone()],
                    _ => t.artists.iter().map(|a| a.name.clone()).collect(),
                },
                album_name: t.album.as_ref().or(t.show.as_ref()).map(|a| a.name.clone()),
                duration_ms: i32::try_from(t.duration_ms).unwrap_or(i32::MAX),
                tempo: None,
            })
            .collect();
        let mut ids: Vec<String> = tracks
            .iter()
            .filter_map(|t| t.uri.strip_prefix("spotify:track:").map(String::from))
            .collect();
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return tracks;
        }
        let tempos: HashMap<String, f64> =
            match Self::with_token(
                db,
                spotify,
                user_id,
                |api, s| Ok(api.tempos(&s.token, &ids)),
            ) {
                Ok((found, _)) => found.into_iter().collect(),
                Err(_) => HashMap::new(),
            };
        for track in &mut tracks {
            if let Some(id) = track.uri.strip_prefix("spotify:track:") {
                track.tempo = tempos.get(id).copied();
            }
        }
        tracks
    }

    /// The tracks of a Spotify playlist the user may read (a raid's
    /// source), its first 10,000 items at most, and how many items it has
    /// beyond them; `None` when Spotify has no such playlist (or not for
    /// this account).
    pub fn source_tracks(
        db: &mut Checkout,
        spotify: &Spotify,
        user_id: i64,
        spotify_playlist_id: &str,
    ) -> AppResult<Option<(Vec<TrackInput>, usize)>> {
        let (found, _) = Self::with_token(db, spotify, user_id, |api, s| {
            match api.first_items(&s.token, spotify_playlist_id, MAX_TRACKS) {
                Err(CallError::NotFound) => Ok(None),
                other => other.map(Some),
            }
        })?;
        Ok(found.map(|(items, total)| {
            let unread = (total as usize).saturating_sub(items.len());
            (
                Self::tracks_with_tempo(db, spotify, user_id, &items),
                unread,
            )
        }))
    }

    /// The name of a Spotify playlist the user may read, for a new
    /// upstream source; `None` when Spotify has no such playlist.
    pub fn readable_name(
        db: &mut Checkout,
        spotify: &Spotify,
        user_id: i64,
        spotify_playlist_id: &str,
    ) -> AppResult<Option<String>> {
        let (info, _) = Self::with_token(db, spotify, user_id, |api, s| {
            match api.playlist(&s.token, spotify_playlist_id) {
                Err(CallError::NotFound) => Ok(None),
                other => other.map(Some),
            }
        })?;
        Ok(info.map(|i| i.name))
    }

    /// Adds (or refreshes) provider tracks in the catalog.
    pub fn add_to_catalog(conn: &mut DbConnection, tracks: &[TrackInput]) -> AppResult<()> {
        let now = db::now();
        let rows: Vec<NewTrack> = tracks.iter().map(|t| NewTrack::from_view(t, now)).collect();
        write_transaction(conn, |conn| NewTrack::replace_all(conn, &rows))?;
        Ok(())
    }

    /// Pulls Spotify's order into a linked playlist (SPEC §10.20).
    pub fn sync(
        pool: &Pool,
        spotify: &Spotify,
        user: &User,
        playlist_id: &str,
        if_match: Option<IfMatch>,
    ) -> AppResult<SyncAnswer> {
        let mut db = Checkout::new(pool.clone());
        for _ in 0..SYNC_TRIES {
            let read = PlaylistService::owned(db.conn()?, user.id, playlist_id)?;
            let remote_id = linked_to(&read)?;
            check_version(&read, if_match)?;
            if claim_is_live(&read.link, db::now()) {
                return Err(write_under_way());
            }
            let (fetched, _) = Self::with_token(&mut db, spotify, user.id, |api, s| {
                if let Err(other_account) = require_account(&read, &s.account_id) {
                    return Ok(Err(other_account));
                }
                let found = api.playlist(&s.token, &remote_id).and_then(|info| {
                    Ok((info, api.playlist_items(&s.token, &remote_id, MAX_TRACKS)?))
                });
                match found {
                    Err(CallError::NotFound) => Ok(Err(gone(&remote_id))),
                    other => other.map(Ok),
                }
            })?;
            let (info, items) = fetched.map_err(AppError::Conflict)?;
            let tracks = Self::tracks_with_tempo(&mut db, spotify, user.id, &items);
            let whole = tracks.len() == items.len();
            let written = write_transaction(db.conn()?, |conn| {
                let locked = PlaylistService::lock_owned(conn, user.id, playlist_id)?;
                check_version(&locked, if_match)?;
                // A rewrite wrote here and to Spotify after we read Spotify:
                // what we read is older than both; read again.
                if locked.version != read.version || locked.link != read.link {
                    return Ok(None);
                }
                Self::pull(conn, user, locked, &tracks, &info.snapshot_id, whole).map(Some)
            })?;
            if let Some(answer) = written {
                return Ok(answer);
            }
        }
        Err(AppError::Conflict(format!(
            "the playlist changed {SYNC_TRIES} times while it was being synced; try again"
        )))
    }

    /// Writes Spotify's order (`tracks`, at `snapshot`; `whole` when every
    /// item is in the copy, else the snapshot is not kept) into the locked
    /// linked playlist: nothing when it is already there (only an out of
    /// sync mark is cleared), else with an `auto_pre_sync` snapshot, a new
    /// version and a `playlist_sync` row.
    fn pull(
        conn: &mut DbConnection,
        user: &User,
        locked: Playlist,
        tracks: &[TrackInput],
        snapshot: &str,
        whole: bool,
    ) -> AppResult<SyncAnswer> {
        let kept = whole.then_some(snapshot);
        let current = PlaylistService::track_uris(conn, &locked)?;
        let remote: Vec<String> = tracks.iter().map(|t| t.uri.clone()).collect();
        let counts = compare(&current, &remote);
        if current == remote {
            if locked.link.out_of_sync || locked.link.writing_since.is_some() {
                Playlist::set_provider_state(conn, &locked.id, kept, false)?;
            }
            return Ok(SyncAnswer {
                playlist: PlaylistService::view(conn, &locked)?,
                changed: false,
                added: 0,
                removed: 0,
                reordered: false,
            });
        }
        let now = db::now();
        let new_tracks: Vec<NewTrack> =
            tracks.iter().map(|t| NewTrack::from_view(t, now)).collect();
        NewTrack::replace_all(conn, &new_tracks)?;
        let target = RewriteTarget::synced(locked, kept);
        let written =
            PlaylistService::rewrite_order(conn, &target, &current, &remote, Rewrite::Sync)?
                .ok_or_else(|| AppError::Internal("a changed sync wrote nothing".into()))?;
        ActivityLogService::log(
            conn,
            NewActivity::playlist_sync(
                user,
                &written.playlist,
                counts,
                written.snapshot_id,
                snapshot,
            ),
        );
        Ok(SyncAnswer {
            playlist: PlaylistService::view(conn, &written.playlist)?,
            changed: true,
            added: counts.added,
            removed: counts.removed,
            reordered: counts.reordered,
        })
    }

    // ----- writing back ---------------------------------------------------

    /// Replaces the order of `playlist` on Spotify with `order`, if
    /// Spotify still holds `expected` (SPEC §10.19): 409 when it changed
    /// there (or holds items the Web API cannot write back, named), 502
    /// when a write failed part-way (the playlist is then marked out of
    /// sync by the caller). Answers Spotify's new snapshot id.
    pub fn write_order(
        db: &mut Checkout,
        spotify: &Spotify,
        playlist: &Playlist,
        expected: &[String],
        order: &[String],
    ) -> Result<String, WriteBackError> {
        let remote_id = linked_to(playlist).map_err(WriteBackError::Before)?;
        let mut attempted = false;
        let answer = Self::with_token(db, spotify, playlist.owner_id, |api, s| {
            if attempted {
                // A token refused after a batch was written: Spotify holds
                // part of the order; do not compare again, give up.
                return Err(CallError::Failed(
                    "Spotify refused the access token part-way through the write".into(),
                ));
            }
            if let Err(other_account) = require_account(playlist, &s.account_id) {
                return Ok(Err(other_account));
            }
            let now_at = match api.snapshot_id(&s.token, &remote_id) {
                Err(CallError::NotFound) => return Ok(Err(gone(&remote_id))),
                other => other?,
            };
            // Spotify still at the snapshot whose items this order was read
            // from (kept only when all of them can be written back): no
            // need to read and compare the items.
            if playlist.link.snapshot_id.as_deref() == Some(now_at.as_str()) {
                attempted = true;
                return Self::replace(api, &s.token, &remote_id, order, &mut attempted);
            }
            let items = match api.playlist_items(&s.token, &remote_id, MAX_TRACKS) {
                Err(CallError::NotFound) => return Ok(Err(gone(&remote_id))),
                other => other?,
            };
            let unwritable: Vec<&str> = items
                .iter()
                .map(|item| item.uri().unwrap_or("(an item Spotify no longer serves)"))
                .filter(|uri| !api::writable_uri(uri))
                .collect();
            if !unwritable.is_empty() {
                return Ok(Err(format!(
                    "the Spotify playlist holds items the Web API cannot write back ({}); \
                     rewriting it would drop them",
                    unwritable
                        .iter()
                        .take(10)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            let remote: Vec<&str> = items.iter().filter_map(PlaylistItem::uri).collect();
            if remote != expected.iter().map(String::as_str).collect::<Vec<_>>() {
                return Ok(Err(
                    "the playlist changed on Spotify; sync first (POST /api/playlists/{id}/sync)"
                        .replace("{id}", &playlist.id),
                ));
            }
            attempted = true;
            Self::replace(api, &s.token, &remote_id, order, &mut attempted)
        });
        match answer {
            Ok((Ok(snapshot), _)) => Ok(snapshot),
            Ok((Err(conflict), _)) => Err(WriteBackError::Before(AppError::Conflict(conflict))),
            Err(err) if attempted => Err(WriteBackError::PartWay(AppError::Upstream(format!(
                "the write to Spotify stopped part-way ({err}); the playlist is marked out of \
                 sync: sync it (POST /api/playlists/{}/sync)",
                playlist.id
            )))),
            Err(err) => Err(WriteBackError::Before(err)),
        }
    }

    /// Replaces Spotify's items with `order`. A token refused before the
    /// first batch was written is given back to [`Self::with_token`] to
    /// refresh and run again (`attempted` reset); after it, it is a failure
    /// part-way.
    fn replace(
        api: &api::Api<'_>,
        token: &str,
        remote_id: &str,
        order: &[String],
        attempted: &mut bool,
    ) -> Result<Result<String, String>, CallError> {
        match api.replace_items(token, remote_id, order) {
            Ok(snapshot) => Ok(Ok(snapshot)),
            Err((0, CallError::Unauthorized)) => {
                *attempted = false;
                Err(CallError::Unauthorized)
            }
            Err((_, err)) => Err(err),
        }
    }

    /// Takes the write claim on a locked linked playlist, or says why not:
    /// `Ok(false)` while another writer holds a live claim.
    pub fn claim_write(conn: &mut DbConnection, playlist: &Playlist) -> AppResult<bool> {
        let now = db::now();
        if playlist.link.out_of_sync
            || playlist
                .link
                .writing_since
                .is_some_and(|since| !claim_is_live_at(since, now))
        {
            return Err(AppError::Conflict(format!(
                "the playlist is out of sync with Spotify after a failed write; sync first \
                 (POST /api/playlists/{}/sync)",
                playlist.id
            )));
        }
        if claim_is_live(&playlist.link, now) {
            return Ok(false);
        }
        Playlist::set_writing(conn, &playlist.id, Some(now))?;
        Ok(true)
    }

    /// How long a rewrite waits for another writer's claim, and between
    /// looks.
    pub fn claim_wait() -> (Duration, Duration) {
        (CLAIM_WAIT, CLAIM_POLL)
    }
}

/// Why a write-back did not happen: before anything was written to
/// Spotify (the claim is simply released), or part-way (the playlist is
/// out of sync).
#[derive(Debug)]
pub enum WriteBackError {
    Before(AppError),
    PartWay(AppError),
}

impl WriteBackError {
    /// Settles the playlist after a write-back that did not finish, in one
    /// transaction: before anything reached Spotify, the claim is released
    /// and the automatic snapshots taken for it (of an order that was never
    /// replaced) are deleted; part-way, the playlist is marked out of sync
    /// and they stay.
    pub fn settle(
        &self,
        conn: &mut DbConnection,
        playlist_id: &str,
        snapshot_ids: &[i64],
    ) -> AppResult<()> {
        write_transaction(conn, |conn| match self {
            WriteBackError::Before(_) => {
                Playlist::set_writing(conn, playlist_id, None)?;
                for id in snapshot_ids {
                    Snapshot::delete(conn, *id)?;
                }
                Ok(())
            }
            WriteBackError::PartWay(_) => Ok(Playlist::mark_out_of_sync(conn, playlist_id)?),
        })
    }

    /// Whether the automatic snapshots taken for the write remain.
    pub fn keeps_snapshots(&self) -> bool {
        matches!(self, WriteBackError::PartWay(_))
    }

    pub fn into_error(self) -> AppError {
        match self {
            WriteBackError::Before(err) | WriteBackError::PartWay(err) => err,
        }
    }
}

/// 409 while another write to Spotify of the playlist is under way.
pub fn write_under_way() -> AppError {
    AppError::Conflict(
        "another write of this playlist to Spotify is under way; try again shortly".into(),
    )
}

fn claim_is_live(link: &ProviderLink, now: NaiveDateTime) -> bool {
    link.writing_since
        .is_some_and(|since| claim_is_live_at(since, now))
}

fn claim_is_live_at(since: NaiveDateTime, now: NaiveDateTime) -> bool {
    since > now - chrono::Duration::seconds(WRITE_CLAIM_SECS)
}

/// The Spotify id a playlist is linked to; 409 for a local playlist.
fn linked_to(playlist: &Playlist) -> AppResult<String> {
    match (&playlist.link.provider, &playlist.link.playlist_id) {
        (Provider::Spotify, Some(id)) => Ok(id.clone()),
        _ => Err(AppError::Conflict(format!(
            "playlist {} is local; only a playlist linked to Spotify can be synced",
            playlist.id
        ))),
    }
}

/// The 409 for a linked playlist Spotify no longer serves.
fn gone(remote_id: &str) -> String {
    format!(
        "the linked Spotify playlist {remote_id} no longer exists, or the connected account \
         cannot read it"
    )
}

/// Whether the connected account is the one that linked the playlist.
fn require_account(playlist: &Playlist, account_id: &str) -> Result<(), String> {
    match playlist.link.account_id.as_deref() {
        Some(linked) if linked != account_id => Err(format!(
            "the playlist is linked through the Spotify account {linked}, not {account_id}; \
             connect that account"
        )),
        _ => Ok(()),
    }
}

/// The connection, if it can be used: 409 when there is none or it is
/// broken (SPEC §10.20: what needs Spotify answers 409 until the user
/// connects).
fn usable(found: Option<ProviderConnection>) -> AppResult<ProviderConnection> {
    let connection = found.ok_or_else(|| {
        AppError::Conflict(
            "no Spotify account is connected; connect one (POST /api/providers/spotify/authorize)"
                .into(),
        )
    })?;
    if let Some(reason) = &connection.broken_reason {
        return Err(AppError::Conflict(format!(
            "the Spotify connection is broken: {reason}"
        )));
    }
    Ok(connection)
}

fn expiry(now: NaiveDateTime, expires_in: Duration) -> NaiveDateTime {
    now + chrono::Duration::from_std(expires_in).unwrap_or(chrono::Duration::hours(1))
}

/// What changed from `before` to `after`: items added and removed, counted
/// with repeats, and whether the items kept on both sides changed order.
pub fn compare(before: &[String], after: &[String]) -> SyncCounts {
    let mut left: HashMap<&str, i64> = HashMap::new();
    for uri in before {
        *left.entry(uri).or_default() += 1;
    }
    for uri in after {
        *left.entry(uri).or_default() -= 1;
    }
    let removed = left.values().filter(|n| **n > 0).sum::<i64>() as usize;
    let added = left.values().filter(|n| **n < 0).map(|n| -n).sum::<i64>() as usize;
    // The common items, in each order: a multiset intersection.
    let kept = |from: &[String], other: &[String]| -> Vec<String> {
        let mut budget: HashMap<&str, usize> = HashMap::new();
        for uri in other {
            *budget.entry(uri).or_default() += 1;
        }
        from.iter()
            .filter(|uri| {
                let n = budget.entry(uri.as_str()).or_default();
                if *n > 0 {
                    *n -= 1;
                    true
                } else {
                    false
                }
            })
            .cloned()
            .collect()
    };
    let reordered = kept(before, after) != kept(after, before);
    SyncCounts {
        added,
        removed,
        reordered,
    }
}

#[cfg(test)]
mod tests {
    use super::compare;
    use crate::models::SyncCounts;

    fn uris(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn compare_counts_additions_removals_and_reordering() {
        let same = compare(&uris("a b c"), &uris("a b c"));
        assert_eq!(same, SyncCounts::default());
        assert_eq!(
            compare(&uris("a b c"), &uris("c a b")),
            SyncCounts {
                added: 0,
                removed: 0,
                reordered: true
            }
        );
        assert_eq!(
            compare(&uris("a b c"), &uris("a c d d")),
            SyncCounts {
                added: 2,
                removed: 1,
                reordered: false
            }
        );
        assert_eq!(
            compare(&uris("a a b"), &uris("a b a")),
            SyncCounts {
                added: 0,
                removed: 0,
                reordered: true
            }
        );
    }
}
