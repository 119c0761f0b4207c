//! A fake Spotify, served over real HTTP on 127.0.0.1 by a small actix app
//! on a thread of its own: the accounts service (`/authorize`, `/api/token`
//! with PKCE and refresh tokens) and the Web API endpoints the service
//! uses (`/v1/me`, `/v1/me/playlists`, `/v1/playlists/{id}`, its
//! `/items` read, replace, append and removal), with their real paging
//! (`next` links), `snapshot_id`s that change on every write, 401 for an
//! unknown or expired access token, and failures a test can inject (429
//! with `Retry-After`, 5xx) on the next matching requests, or an answer
//! held back until the test lets it go (a [`Gate`]).
//!
//! It follows Spotify's Web API reference as Spotify serves it to an app in
//! development mode, per Spotify's "February 2026 Web API Dev Mode Changes
//! – Migration Guide" (February 2026; in force for existing apps since 9
//! March 2026): a playlist's items are at `/playlists/{id}/items`, each
//! entry `{added_at, item, is_local}`; a playlist object carries `items:
//! {total, href}`; a page of items holds 1–50 (another `limit` answers
//! 400); the items of a playlist the account neither owns nor collaborates
//! on answer 403; and the removed paths (`/playlists/{id}/tracks`,
//! `/users/{id}/playlists`, `/audio-features`) answer 403 as Spotify does.
//! [`FakeSpotify::start_legacy`] serves the older shapes and paths instead
//! (`/tracks`, `track`, `tracks`, pages of 100, any playlist readable), as
//! an app in extended quota mode still receives them.
//!
//! It counts the requests it is answering at once (`max_in_flight`).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::dev::Service;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use shuffify::config::{Settings, SpotifyConfig};

pub const CLIENT_ID: &str = "fake-client-id";
pub const CLIENT_SECRET: &str = "fake-client-secret";
pub const REDIRECT_URI: &str = "http://localhost:8080/api/providers/spotify/callback";
pub const ACCOUNT: &str = "listener1";
/// Every scope the service asks for, as the token endpoint grants them.
pub const FULL_SCOPE: &str = "playlist-read-private playlist-read-collaborative \
    playlist-modify-private playlist-modify-public user-library-read";
/// The key tests configure: 32 bytes of 0x2a.
pub const KEY: [u8; 32] = [42; 32];

/// A playlist on the fake.
#[derive(Debug, Clone)]
pub struct FakePlaylist {
    pub name: String,
    pub owner: String,
    pub collaborative: bool,
    pub description: String,
    pub items: Vec<String>,
    pub snapshot: u64,
}

/// A failure to answer with, instead of the real answer, for the next
/// `times` requests whose path contains `path`: before the request is
/// carried out, or after it (an answer lost on the way back); or, with
/// status 0, the real answer, computed at once and, with a `gate`, held
/// until the test opens it.
#[derive(Debug, Clone, Default)]
pub struct Injected {
    pub method: Option<&'static str>,
    pub path: String,
    pub status: u16,
    pub retry_after: Option<u64>,
    pub times: usize,
    pub after: bool,
    pub body: Option<Value>,
    pub gate: Option<Gate>,
}

/// Where the fake holds an answer it has already computed until the test
/// opens it: a race test lets another client's calls through in between,
/// so the interleaving it is about happens on every run, not by timing.
#[derive(Debug, Clone)]
pub struct Gate {
    reached: Arc<AtomicBool>,
    open: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            reached: Arc::default(),
            open: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }
}

impl Gate {
    /// Whether an answer has been computed and is held here: from then on
    /// the state it shows is fixed, whatever other calls change.
    pub fn reached(&self) -> bool {
        self.reached.load(Ordering::SeqCst)
    }

    /// Lets the held answer go.
    pub fn open(&self) {
        self.open.send_replace(true);
    }

    async fn pass(&self) {
        self.reached.store(true, Ordering::SeqCst);
        // Only a dropped sender ends the wait early, and the gate owns it.
        let _ = self.open.subscribe().wait_for(|open| *open).await;
    }
}

#[derive(Debug, Default)]
pub struct FakeState {
    pub base: String,
    /// code → (PKCE challenge, redirect URI, account)
    codes: HashMap<String, (String, String, String)>,
    /// access token → account
    pub access: HashMap<String, String>,
    /// refresh token → account
    pub refresh: HashMap<String, String>,
    pub playlists: HashMap<String, FakePlaylist>,
    /// The order `/v1/me/playlists` lists them in.
    pub playlist_order: Vec<String>,
    pub injected: VecDeque<Injected>,
    /// `METHOD path?query` of every request, in order.
    pub requests: Vec<String>,
    /// Bodies of the token endpoint's requests (to check what was sent).
    pub token_requests: Vec<String>,
    /// Each account's Liked Songs, oldest liked first (`/v1/me/tracks`
    /// lists them newest first, as Spotify does).
    pub liked: HashMap<String, Vec<String>>,
    /// The `scope` the token endpoint answers with, when a test sets it
    /// (an older grant); else every scope the service asks for.
    pub granted_scope: Option<String>,
    /// Whether a refresh's answer leaves `scope` out (Spotify may).
    pub refresh_omits_scope: bool,
    /// Serves the shapes an extended-quota app receives (see the module
    /// doc) instead of a development-mode app's.
    pub legacy: bool,
    /// Requests being answered now, and the most there ever were at once
    /// (an answer held at a gate counts until it goes).
    pub in_flight: usize,
    pub max_in_flight: usize,
    counter: u64,
}

impl FakeState {
    fn next(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}{}", self.counter)
    }
}

#[derive(Clone)]
pub struct FakeSpotify {
    pub state: Arc<Mutex<FakeState>>,
    pub base: String,
}

impl FakeSpotify {
    /// Starts the fake on a free port, answering as Spotify answers an app
    /// in development mode.
    pub fn start() -> FakeSpotify {
        Self::start_with(FakeState::default())
    }

    /// Starts the fake answering with the older shapes and paths an app in
    /// extended quota mode still receives.
    pub fn start_legacy() -> FakeSpotify {
        Self::start_with(FakeState {
            legacy: true,
            ..FakeState::default()
        })
    }

    fn start_with(initial: FakeState) -> FakeSpotify {
        let state = Arc::new(Mutex::new(initial));
        let shared = state.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let data = web::Data::new(shared);
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .wrap_fn(|req, srv| {
                            let state = req
                                .app_data::<web::Data<Arc<Mutex<FakeState>>>>()
                                .unwrap()
                                .clone();
                            let method = req.method().to_string();
                            let path = req.path().to_string();
                            let query = req.query_string().to_string();
                            let injected = {
                                let mut s = state.lock().unwrap();
                                s.requests.push(format!("{method} {path}?{query}"));
                                s.in_flight += 1;
                                s.max_in_flight = s.max_in_flight.max(s.in_flight);
                                take_injected(&mut s, &method, &path)
                            };
                            let answer: futures_util::future::LocalBoxFuture<
                                'static,
                                Result<actix_web::dev::ServiceResponse, actix_web::Error>,
                            > = match injected {
                                None => {
                                    let fut = srv.call(req);
                                    Box::pin(async move { Ok(fut.await?.map_into_boxed_body()) })
                                }
                                Some(i) if i.status == 0 || i.after => {
                                    let fut = srv.call(req);
                                    Box::pin(async move {
                                        // Answered as of now, delivered later.
                                        let res = fut.await?;
                                        if let Some(gate) = &i.gate {
                                            gate.pass().await;
                                        }
                                        Ok(if i.status == 0 {
                                            res.map_into_boxed_body()
                                        } else {
                                            res.into_response(injected_response(&i))
                                        })
                                    })
                                }
                                Some(i) => {
                                    let res = req.into_response(injected_response(&i));
                                    Box::pin(async move { Ok(res) })
                                }
                            };
                            Box::pin(async move {
                                let answered = answer.await;
                                state.lock().unwrap().in_flight -= 1;
                                answered
                            })
                                as futures_util::future::LocalBoxFuture<'static, _>
                        })
                        .route("/authorize", web::get().to(authorize))
                        .route("/api/token", web::post().to(token))
                        .route("/v1/me", web::get().to(me))
                        .route("/v1/me/playlists", web::get().to(my_playlists))
                        .route("/v1/me/tracks", web::get().to(saved_tracks))
                        .route("/v1/playlists/{id}", web::get().to(playlist))
                        .route("/v1/playlists/{id}/items", web::get().to(items))
                        .route("/v1/playlists/{id}/items", web::put().to(replace))
                        .route("/v1/playlists/{id}/items", web::post().to(append))
                        .route("/v1/playlists/{id}/items", web::delete().to(remove))
                        .route("/v1/playlists/{id}/tracks", web::route().to(old_items))
                        .route("/v1/users/{id}/playlists", web::route().to(removed))
                        .route("/v1/audio-features", web::route().to(removed))
                })
                .workers(1)
                .bind("127.0.0.1:0")
                .unwrap();
                let port = server.addrs()[0].port();
                tx.send(port).unwrap();
                server.run().await.unwrap();
            });
        });
        let port = rx.recv().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        state.lock().unwrap().base = base.clone();
        FakeSpotify { state, base }
    }

    pub fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap()
    }

    /// The service's settings pointing at this fake.
    pub fn configure(&self, settings: &mut Settings) {
        settings.spotify = Some(SpotifyConfig {
            client_id: CLIENT_ID.into(),
            client_secret: Some(CLIENT_SECRET.into()),
            redirect_uri: REDIRECT_URI.into(),
            accounts_url: self.base.clone(),
            api_url: format!("{}/v1", self.base),
            token_key: KEY,
        });
    }

    /// Adds a playlist of `n` tracks (`spotify:track:<prefix><i>`) owned by
    /// `owner`; answers its id.
    pub fn add_playlist(&self, id: &str, owner: &str, n: usize) -> String {
        let items = (0..n).map(|i| format!("spotify:track:{id}t{i}")).collect();
        self.add_playlist_items(id, owner, items);
        id.to_string()
    }

    pub fn add_playlist_items(&self, id: &str, owner: &str, items: Vec<String>) {
        let mut s = self.lock();
        s.playlists.insert(
            id.to_string(),
            FakePlaylist {
                name: format!("Mix {id}"),
                owner: owner.to_string(),
                collaborative: false,
                description: "from the fake".to_string(),
                items,
                snapshot: 1,
            },
        );
        s.playlist_order.push(id.to_string());
    }

    /// Likes `uris` on `account`, in this order (the last is the newest).
    pub fn like(&self, account: &str, uris: &[String]) {
        self.lock()
            .liked
            .entry(account.to_string())
            .or_default()
            .extend(uris.iter().cloned());
    }

    pub fn items(&self, id: &str) -> Vec<String> {
        self.lock().playlists[id].items.clone()
    }

    /// Changes the playlist on Spotify as another app would.
    pub fn edit(&self, id: &str, f: impl FnOnce(&mut Vec<String>)) {
        let mut s = self.lock();
        let p = s.playlists.get_mut(id).unwrap();
        f(&mut p.items);
        p.snapshot += 1;
    }

    pub fn inject(
        &self,
        method: Option<&'static str>,
        path: &str,
        status: u16,
        retry_after: Option<u64>,
        times: usize,
    ) {
        self.inject_with(Injected {
            method,
            path: path.to_string(),
            status,
            retry_after,
            times,
            ..Injected::default()
        });
    }

    pub fn inject_with(&self, injected: Injected) {
        self.lock().injected.push_back(injected);
    }

    /// Holds the real answer to the next request to `path` (by `method`)
    /// at a gate the caller opens.
    pub fn hold(&self, method: Option<&'static str>, path: &str) -> Gate {
        let gate = Gate::default();
        self.inject_with(Injected {
            method,
            path: path.to_string(),
            times: 1,
            gate: Some(gate.clone()),
            ..Injected::default()
        });
        gate
    }

    /// Where the first request matching `needle` at or after position
    /// `from` of the request log is.
    pub fn request_position(&self, needle: &str, from: usize) -> Option<usize> {
        self.lock()
            .requests
            .iter()
            .skip(from)
            .position(|r| r.contains(needle))
            .map(|i| i + from)
    }

    /// Makes every access token stale (as after an hour).
    pub fn expire_access_tokens(&self) {
        self.lock().access.clear();
    }

    /// Revokes every refresh token (the user removed the app's access).
    pub fn revoke_refresh_tokens(&self) {
        self.lock().refresh.clear();
    }

    pub fn requests_matching(&self, needle: &str) -> usize {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.contains(needle))
            .count()
    }

    /// What the user's browser does on the consent page: Spotify checks
    /// the client and redirect URI, keeps the challenge, and redirects
    /// back with a code and the state. Answers the callback's path and
    /// query, as the service would receive it.
    pub fn consent(&self, authorize_url: &str) -> String {
        self.consent_as(authorize_url, ACCOUNT)
    }

    /// [`Self::consent`] by the Spotify account `account`.
    pub fn consent_as(&self, authorize_url: &str, account: &str) -> String {
        let url = url::Url::parse(authorize_url).unwrap();
        assert!(authorize_url.starts_with(&format!("{}/authorize?", self.base)));
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], CLIENT_ID);
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["redirect_uri"], REDIRECT_URI);
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["show_dialog"], "true", "consent is asked every time");
        assert_eq!(q["code_challenge"].len(), 43);
        for scope in [
            "playlist-read-private",
            "playlist-modify-private",
            "playlist-modify-public",
            "user-library-read",
        ] {
            assert!(
                q["scope"].split(' ').any(|s| s == scope),
                "scope {}",
                q["scope"]
            );
        }
        let mut s = self.lock();
        let code = s.next("code");
        s.codes.insert(
            code.clone(),
            (
                q["code_challenge"].clone(),
                q["redirect_uri"].clone(),
                account.to_string(),
            ),
        );
        let state = url::form_urlencoded::byte_serialize(q["state"].as_bytes()).collect::<String>();
        format!("/api/providers/spotify/callback?code={code}&state={state}")
    }
}

fn injected_response(i: &Injected) -> HttpResponse {
    let mut r = HttpResponse::build(actix_web::http::StatusCode::from_u16(i.status).unwrap());
    if let Some(after) = i.retry_after {
        r.insert_header(("Retry-After", after.to_string()));
    }
    r.json(
        i.body
            .clone()
            .unwrap_or_else(|| json!({"error": {"status": i.status, "message": "injected"}})),
    )
}

fn take_injected(s: &mut FakeState, method: &str, path: &str) -> Option<Injected> {
    let index = s
        .injected
        .iter()
        .position(|i| path.contains(&i.path) && i.method.is_none_or(|m| m == method))?;
    let found = s.injected[index].clone();
    if s.injected[index].times <= 1 {
        s.injected.remove(index);
    } else {
        s.injected[index].times -= 1;
    }
    Some(found)
}

type Shared = web::Data<Arc<Mutex<FakeState>>>;

fn error(status: u16, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .json(json!({"error": {"status": status, "message": message}}))
}

/// The account a request's bearer token belongs to (else the caller
/// answers [`unauthorized`]).
fn account(req: &HttpRequest, s: &FakeState) -> Option<String> {
    let token = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    s.access.get(token).cloned()
}

fn unauthorized() -> HttpResponse {
    error(401, "The access token expired")
}

async fn authorize() -> HttpResponse {
    HttpResponse::Ok().body("consent page")
}

async fn token(req: HttpRequest, state: Shared, body: web::Bytes) -> HttpResponse {
    let text = String::from_utf8_lossy(&body).to_string();
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let mut s = state.lock().unwrap();
    s.token_requests.push(text);
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    if req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        != Some(&basic)
    {
        return HttpResponse::BadRequest().json(json!({"error": "invalid_client"}));
    }
    let account = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some((challenge, redirect, account)) =
                form.get("code").and_then(|c| s.codes.remove(c))
            else {
                return HttpResponse::BadRequest().json(json!({"error": "invalid_grant"}));
            };
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if computed != challenge || form.get("redirect_uri") != Some(&redirect) {
                return HttpResponse::BadRequest().json(json!({"error": "invalid_grant",
                    "error_description": "code_verifier or redirect_uri mismatch"}));
            }
            account
        }
        Some("refresh_token") => {
            match form
                .get("refresh_token")
                .and_then(|r| s.refresh.get(r))
                .cloned()
            {
                Some(account) => account,
                None => {
                    return HttpResponse::BadRequest().json(json!({"error": "invalid_grant",
                        "error_description": "Refresh token revoked"}))
                }
            }
        }
        _ => return HttpResponse::BadRequest().json(json!({"error": "unsupported_grant_type"})),
    };
    let access = s.next("access-secret-");
    let refresh = s.next("refresh-secret-");
    s.access.insert(access.clone(), account.clone());
    s.refresh.insert(refresh.clone(), account);
    let mut answer = json!({
        "access_token": access, "token_type": "Bearer", "expires_in": 3600,
        "refresh_token": refresh,
        "scope": s.granted_scope.clone().unwrap_or_else(|| FULL_SCOPE.to_string()),
    });
    if s.refresh_omits_scope && form.get("grant_type").map(String::as_str) == Some("refresh_token")
    {
        answer.as_object_mut().unwrap().remove("scope");
    }
    HttpResponse::Ok().json(answer)
}

async fn me(req: HttpRequest, state: Shared) -> HttpResponse {
    let s = state.lock().unwrap();
    match account(&req, &s) {
        Some(id) => HttpResponse::Ok().json(json!({"id": id, "display_name": "Fake Listener"})),
        None => unauthorized(),
    }
}

fn query_of(req: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect()
}

fn info(s: &FakeState, id: &str, p: &FakePlaylist) -> Value {
    let mut value = json!({
        "id": id, "name": p.name, "description": p.description,
        "owner": {"id": p.owner}, "collaborative": p.collaborative,
        "snapshot_id": format!("snap-{id}-{}", p.snapshot),
    });
    let key = if s.legacy { "tracks" } else { "items" };
    value[key] = json!({"href": format!("{}/v1/playlists/{id}/{key}", s.base),
        "total": p.items.len()});
    value
}

/// A `limit` from the query: `default` when absent; `None` (Spotify's
/// 400) when it is not a number from 1 to `max`.
fn limit_of(q: &HashMap<String, String>, default: usize, max: usize) -> Option<usize> {
    match q.get("limit") {
        None => Some(default),
        Some(v) => v.parse().ok().filter(|n| (1..=max).contains(n)),
    }
}

async fn my_playlists(req: HttpRequest, state: Shared) -> HttpResponse {
    let s = state.lock().unwrap();
    if account(&req, &s).is_none() {
        return unauthorized();
    }
    let q = query_of(&req);
    let offset: usize = q.get("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
    let Some(limit) = limit_of(&q, 20, 50) else {
        return error(400, "Invalid limit");
    };
    let total = s.playlist_order.len();
    let items: Vec<Value> = s
        .playlist_order
        .iter()
        .skip(offset)
        .take(limit)
        .map(|id| info(&s, id, &s.playlists[id]))
        .collect();
    let next = (offset + limit < total).then(|| {
        format!(
            "{}/v1/me/playlists?offset={}&limit={limit}",
            s.base,
            offset + limit
        )
    });
    HttpResponse::Ok().json(json!({"items": items, "total": total, "next": next,
        "limit": limit, "offset": offset}))
}

async fn playlist(req: HttpRequest, state: Shared, id: web::Path<String>) -> HttpResponse {
    let s = state.lock().unwrap();
    if account(&req, &s).is_none() {
        return unauthorized();
    }
    match s.playlists.get(id.as_str()) {
        Some(p) => HttpResponse::Ok().json(info(&s, &id, p)),
        None => error(404, "Resource not found"),
    }
}

/// A track's fields, derived from its URI.
fn track_json(uri: &str) -> Value {
    if uri.starts_with("spotify:local:") {
        return json!({"uri": uri, "name": "A local file", "artists": [], "album": {"name": ""},
            "duration_ms": 1000, "is_local": true, "type": "track"});
    }
    let id = uri.rsplit(':').next().unwrap_or_default();
    json!({
        "uri": uri, "name": format!("Song {id}"), "type": "track", "is_local": false,
        "artists": [{"name": format!("Artist of {id}")}], "album": {"name": "Fake Album"},
        "duration_ms": 200000,
    })
}

async fn items(req: HttpRequest, state: Shared, id: web::Path<String>) -> HttpResponse {
    let s = state.lock().unwrap();
    let Some(account) = account(&req, &s) else {
        return unauthorized();
    };
    let Some(p) = s.playlists.get(id.as_str()) else {
        return error(404, "Resource not found");
    };
    // A development-mode app reads only the items of playlists the
    // account owns or collaborates on.
    if !s.legacy && p.owner != account && !p.collaborative {
        return error(403, "Forbidden");
    }
    let q = query_of(&req);
    let offset: usize = q.get("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
    let (default, max) = if s.legacy { (100, 100) } else { (50, 50) };
    let Some(limit) = limit_of(&q, default, max) else {
        return error(400, "Invalid limit");
    };
    let key = if s.legacy { "track" } else { "item" };
    let page: Vec<Value> = p
        .items
        .iter()
        .skip(offset)
        .take(limit)
        .map(|uri| {
            json!({"added_at": "2026-01-01T00:00:00Z", key: track_json(uri),
                "is_local": uri.starts_with("spotify:local:")})
        })
        .collect();
    let total = p.items.len();
    let next = (offset + limit < total).then(|| {
        format!(
            "{}{}?offset={}&limit={limit}",
            s.base,
            req.path(),
            offset + limit
        )
    });
    HttpResponse::Ok().json(json!({"items": page, "total": total, "next": next,
        "limit": limit, "offset": offset}))
}

/// `GET /v1/me/tracks`: the account's Liked Songs, newest first, as
/// `{added_at, track}` entries (Get User's Saved Tracks; `limit` 1 to 50,
/// 400 outside it; 403 without the `user-library-read` scope).
async fn saved_tracks(req: HttpRequest, state: Shared) -> HttpResponse {
    let s = state.lock().unwrap();
    let Some(account) = account(&req, &s) else {
        return unauthorized();
    };
    if s.granted_scope
        .as_deref()
        .is_some_and(|scope| !scope.split(' ').any(|x| x == "user-library-read"))
    {
        return error(403, "Insufficient client scope");
    }
    let q = query_of(&req);
    let offset: usize = q.get("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
    let limit: usize = q.get("limit").and_then(|v| v.parse().ok()).unwrap_or(20);
    if !(1..=50).contains(&limit) {
        return error(400, "Invalid limit");
    }
    let liked = s.liked.get(&account).cloned().unwrap_or_default();
    let total = liked.len();
    let page: Vec<Value> = liked
        .iter()
        .rev()
        .skip(offset)
        .take(limit)
        .map(|uri| json!({"added_at": "2026-01-01T00:00:00Z", "track": track_json(uri)}))
        .collect();
    let next = (offset + limit < total).then(|| {
        format!(
            "{}/v1/me/tracks?offset={}&limit={limit}",
            s.base,
            offset + limit
        )
    });
    HttpResponse::Ok().json(json!({"items": page, "total": total, "next": next,
        "limit": limit, "offset": offset}))
}

fn write(
    req: HttpRequest,
    state: Shared,
    id: &str,
    body: &Value,
    f: impl FnOnce(&mut Vec<String>, Vec<String>),
) -> HttpResponse {
    let mut s = state.lock().unwrap();
    let Some(account) = account(&req, &s) else {
        return unauthorized();
    };
    let Some(p) = s.playlists.get_mut(id) else {
        return error(404, "Resource not found");
    };
    if p.owner != account && !p.collaborative {
        return error(403, "You cannot modify this playlist");
    }
    let uris: Vec<String> = body["uris"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    if uris.len() > 100 {
        return error(400, "Too many ids requested");
    }
    f(&mut p.items, uris);
    p.snapshot += 1;
    HttpResponse::Ok().json(json!({"snapshot_id": format!("snap-{id}-{}", p.snapshot)}))
}

async fn replace(
    req: HttpRequest,
    state: Shared,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> HttpResponse {
    write(req, state, &id, &body, |items, uris| *items = uris)
}

async fn append(
    req: HttpRequest,
    state: Shared,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> HttpResponse {
    write(req, state, &id, &body, |items, uris| items.extend(uris))
}

/// `DELETE .../items` with `{"items": [{"uri"}]}` (`"tracks"` on the
/// older path): every occurrence of each URI goes.
async fn remove(
    req: HttpRequest,
    state: Shared,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> HttpResponse {
    let listed = body
        .get("items")
        .or_else(|| body.get("tracks"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let uris: Vec<Value> = listed.iter().map(|entry| entry["uri"].clone()).collect();
    write(req, state, &id, &json!({ "uris": uris }), |items, gone| {
        items.retain(|uri| !gone.contains(uri))
    })
}

/// The older `/playlists/{id}/tracks`: served to an extended-quota app,
/// 403 to a development-mode one.
async fn old_items(
    req: HttpRequest,
    state: Shared,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    if !state.lock().unwrap().legacy {
        return error(403, "Forbidden");
    }
    let json = || web::Json(serde_json::from_slice(&body).unwrap_or(Value::Null));
    match req.method().as_str() {
        "GET" => items(req, state, id).await,
        "PUT" => replace(req, state, id, json()).await,
        "POST" => append(req, state, id, json()).await,
        "DELETE" => remove(req, state, id, json()).await,
        _ => error(405, "Method not allowed"),
    }
}

/// What a development-mode app gets from an endpoint Spotify withdrew from
/// it (`/users/{id}/playlists`, `/audio-features`): 403.
async fn removed() -> HttpResponse {
    error(403, "Forbidden")
}
