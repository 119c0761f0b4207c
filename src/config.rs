//! Run-time configuration, read once from the environment (and a `.env` file
//! when one is present).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `DATABASE_URL` | `sqlite://shuffify.db` | `sqlite://PATH`, `sqlite::memory:` or `postgres://...`; the scheme picks the backend |
//! | `BIND_ADDR` | `127.0.0.1:8080` | where `serve` listens |
//! | `DB_POOL_SIZE` | `8` | r2d2 pool size |
//! | `SCHEDULER_ENABLED` | `true` | run the schedule loop inside `serve` |
//! | `SCHEDULER_TICK_SECS` | `30` | how often the loop looks for due schedules |
//! | `SESSION_TTL_HOURS` | `720` | lifetime of a login token |
//! | `ACTIVITY_RETENTION_DAYS` | `0` | 0 keeps activity forever; N > 0 prunes older rows once a day |
//! | `CORS_ALLOWED_ORIGINS` | empty | comma-separated origins allowed to call the API from a browser |
//! | `RUST_LOG` | `info` | env_logger filter (read by env_logger itself) |
//! | `STREAM_SEND_TIMEOUT_SECS` | `10` | a streamed response (export) whose client takes no chunk for this long is dropped, releasing its slot |
//! | `MAX_EXPORTS_PER_USER` | `2` | concurrent exports one user may run; beyond, 429 `rate_limited` |
//! | `MAX_EXPORTS_PER_INSTANCE` | `32` | concurrent exports this process serves; beyond, 429 `rate_limited` |
//! | `MAX_STREAMS_PER_USER` | `5` | open live activity streams one user may hold; beyond, 429 `rate_limited` |
//! | `MAX_STREAMS_PER_INSTANCE` | `2000` | open live activity streams this process serves; beyond, 429 `rate_limited` |
//! | `MAX_STREAMS_PER_ADDRESS` | `50` | open live activity streams from one client address (an IPv6 /64), all users together, 1–2,000; beyond, 429 `rate_limited` |
//! | `TRUSTED_PROXIES` | empty | comma-separated CIDRs (a bare address is one host) of reverse proxies: when the socket peer is one, the client is the rightmost `X-Forwarded-For` entry that is not; otherwise forwarded headers are ignored |
//! | `SPOTIFY_CLIENT_ID` | empty | the Spotify app's client id; empty turns Spotify off (its routes answer 404) |
//! | `SPOTIFY_CLIENT_SECRET` | empty | the app's secret; empty uses the PKCE flow of a public client |
//! | `SPOTIFY_REDIRECT_URI` | none | where Spotify sends the browser back: this service's `/api/providers/spotify/callback`; required with a client id |
//! | `SPOTIFY_ACCOUNTS_URL` | `https://accounts.spotify.com` | Spotify's accounts service (tests point it at a fake) |
//! | `SPOTIFY_API_URL` | `https://api.spotify.com/v1` | Spotify's Web API (tests point it at a fake) |
//! | `TOKEN_ENCRYPTION_KEY` | none | 32 bytes, base64: seals Spotify tokens at rest; required with a client id |
//! | `SPOTIFY_MAX_CONCURRENT_CALLS` | `16` | 1-256: calls to Spotify in flight at once in this process (and threads of its Spotify pool) |
//! | `WEBHOOK_ALLOW_PRIVATE` | `false` | let webhooks reach private, loopback and link-local addresses, and plain `http` to a loopback address (tests and local use) |
//! | `WEBHOOK_ALLOWED_HOSTS` | empty | comma-separated host names or IPs; when set, a webhook to any other host is refused at creation (before any DNS lookup) |
//! | `WEBHOOK_BACKOFF_BASE_MS` | `1000` | 10-60,000: the wait after a delivery's first failed attempt; it doubles after each further failure |
//! | `WEBHOOK_BACKOFF_MAX_SECS` | `3600` | 1-86,400: the longest wait between two attempts of a delivery |
//! | `WEBHOOK_RETRY_FOR_SECS` | `86400` | 1-604,800: a delivery still failing this long after it began is marked `failed` |
//! | `WEBHOOK_TIMEOUT_SECS` | `5` | 1-60: an attempt with no 2xx answer within this long has failed |
//!
//! An invalid value stops start-up with a message naming the variable, rather
//! than silently falling back to the default.

use std::env;
use std::str::FromStr;

use base64::Engine;
use ipnet::IpNet;

/// Spotify as a playlist provider (SPEC §10.17); `None` in [`Settings`]
/// when `SPOTIFY_CLIENT_ID` is empty. Its `Debug` leaves the secret and
/// the key out, so a logged `Settings` never carries them.
#[derive(Clone)]
pub struct SpotifyConfig {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub redirect_uri: String,
    pub accounts_url: String,
    pub api_url: String,
    /// AES-256-GCM key sealing tokens at rest (and keying the PKCE
    /// verifier's derivation).
    pub token_key: [u8; 32],
}

impl std::fmt::Debug for SpotifyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpotifyConfig")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<set>"),
            )
            .field("redirect_uri", &self.redirect_uri)
            .field("accounts_url", &self.accounts_url)
            .field("api_url", &self.api_url)
            .field("token_key", &"<set>")
            .finish()
    }
}

impl SpotifyConfig {
    pub const DEFAULT_ACCOUNTS_URL: &'static str = "https://accounts.spotify.com";
    pub const DEFAULT_API_URL: &'static str = "https://api.spotify.com/v1";

    /// The provider's settings, `None` without a client id; with one, a
    /// missing redirect URI or a key that is not 32 bytes of base64 is an
    /// error naming the variable.
    fn from_env() -> Result<Option<Self>, String> {
        let Some(client_id) = var("SPOTIFY_CLIENT_ID") else {
            return Ok(None);
        };
        let redirect_uri = var("SPOTIFY_REDIRECT_URI")
            .ok_or("SPOTIFY_REDIRECT_URI must be set when SPOTIFY_CLIENT_ID is")?;
        url::Url::parse(redirect_uri.trim())
            .map_err(|_| "SPOTIFY_REDIRECT_URI must be an absolute URL".to_string())?;
        let token_key = var("TOKEN_ENCRYPTION_KEY")
            .and_then(|k| {
                base64::engine::general_purpose::STANDARD
                    .decode(k.trim())
                    .ok()
            })
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .ok_or(
                "TOKEN_ENCRYPTION_KEY must be 32 bytes in base64 when SPOTIFY_CLIENT_ID is set \
                 (e.g. `openssl rand -base64 32`)",
            )?;
        let base = |name: &str, default: &str| -> Result<String, String> {
            let value = var(name).unwrap_or_else(|| default.to_string());
            url::Url::parse(value.trim()).map_err(|_| format!("{name} must be an absolute URL"))?;
            Ok(value.trim().trim_end_matches('/').to_string())
        };
        Ok(Some(SpotifyConfig {
            client_id: client_id.trim().to_string(),
            client_secret: var("SPOTIFY_CLIENT_SECRET").map(|s| s.trim().to_string()),
            redirect_uri: redirect_uri.trim().to_string(),
            accounts_url: base("SPOTIFY_ACCOUNTS_URL", Self::DEFAULT_ACCOUNTS_URL)?,
            api_url: base("SPOTIFY_API_URL", Self::DEFAULT_API_URL)?,
            token_key,
        }))
    }
}

/// Everything the service reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub bind_addr: String,
    pub db_pool_size: u32,
    pub scheduler_enabled: bool,
    pub scheduler_tick_secs: u64,
    pub session_ttl_hours: i64,
    pub activity_retention_days: u32,
    pub cors_allowed_origins: Vec<String>,
    /// Seconds a streamed response may wait for its client to take a chunk.
    pub stream_send_timeout_secs: u64,
    pub max_exports_per_user: usize,
    pub max_exports_per_instance: usize,
    pub max_streams_per_user: usize,
    pub max_streams_per_instance: usize,
    /// Open live streams from one client address (an IPv6 /64), whoever
    /// holds them, so one address cannot take an instance's slots.
    pub max_streams_per_address: usize,
    /// Reverse proxies whose `X-Forwarded-For` is believed
    /// (`crate::client_addr`).
    pub trusted_proxies: Vec<IpNet>,
    /// How often the live stream looks for new rows, and how often it
    /// sends a heartbeat and checks its sessions (SPEC §6: at least every
    /// 15 s); not read from the environment; tests shorten them.
    pub stream_tick: std::time::Duration,
    pub stream_heartbeat: std::time::Duration,
    /// The job lease of SPEC §10.6; not read from the environment.
    pub lease: Lease,
    /// Per-address token buckets of SPEC §10.8 (login 20/s, bursts of 100;
    /// register 10/s, bursts of 100); fixed by the spec, not read from the
    /// environment; tests lower them (a rate of 0 refills once a day, so a
    /// test's bucket holds its burst and no more).
    pub login_per_second: u32,
    pub login_burst: u32,
    pub register_per_second: u32,
    pub register_burst: u32,
    /// How long a request waits for a password-hashing slot before 429
    /// (SPEC §10.8: 5 s); not read from the environment.
    pub hash_wait: std::time::Duration,
    /// Spotify, when configured (SPEC §10.17).
    pub spotify: Option<SpotifyConfig>,
    /// Calls to Spotify in flight at once in this process, and threads of
    /// the pool that runs Spotify work (1-256).
    pub spotify_max_concurrent_calls: usize,
    /// How long a write to a linked playlist (a user's rewrite or a
    /// scheduled run) waits for another write of it to Spotify to end
    /// (15 s); not read from the environment; tests shorten it.
    pub spotify_claim_wait: std::time::Duration,
    /// How long the app-wide pause after a 429 is trusted in process
    /// before it is read from the database again (PostgreSQL; 1 s); not
    /// read from the environment; tests set 0 to read it every call.
    pub spotify_pause_refresh: std::time::Duration,
    /// Webhooks may reach private, loopback and link-local addresses, and
    /// loopback over plain `http` (`WEBHOOK_ALLOW_PRIVATE`).
    pub webhook_allow_private: bool,
    /// Hosts a webhook may name, lower-case; empty allows any host the
    /// address rules allow (`WEBHOOK_ALLOWED_HOSTS`).
    pub webhook_allowed_hosts: Vec<String>,
    /// The wait after a delivery's first failed attempt, doubling after
    /// each further one, at most `webhook_backoff_max` (1 s, 1 h).
    pub webhook_backoff_base: std::time::Duration,
    pub webhook_backoff_max: std::time::Duration,
    /// How long a delivery is retried before it is `failed` (24 h).
    pub webhook_retry_for: std::time::Duration,
    /// How long an attempt waits for a 2xx (5 s; the test ping waits at
    /// most 5 s whatever this says).
    pub webhook_timeout: std::time::Duration,
    /// Failed attempts in a row that disable a webhook (50); not read from
    /// the environment; tests lower it.
    pub webhook_disable_after: i32,
    /// How often the delivery worker looks for work it was not woken for
    /// (another instance's rows, retries coming due): 1 s; not read from
    /// the environment.
    pub webhook_poll: std::time::Duration,
}

/// How a running job keeps its claim (SPEC §10.6): its process renews
/// `heartbeat_at` every `renew_every`; an execution whose heartbeat is
/// older than `expires_after` is taken for dead. Fixed by the spec; only
/// tests shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub renew_every: std::time::Duration,
    pub expires_after: std::time::Duration,
}

impl Default for Lease {
    fn default() -> Self {
        Lease {
            renew_every: std::time::Duration::from_secs(10),
            expires_after: std::time::Duration::from_secs(60),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            database_url: "sqlite://shuffify.db".into(),
            bind_addr: "127.0.0.1:8080".into(),
            db_pool_size: 8,
            scheduler_enabled: true,
            scheduler_tick_secs: 30,
            session_ttl_hours: 720,
            activity_retention_days: 0,
            cors_allowed_origins: Vec::new(),
            stream_send_timeout_secs: 10,
            max_exports_per_user: 2,
            max_exports_per_instance: 32,
            max_streams_per_user: 5,
            max_streams_per_instance: 2000,
            max_streams_per_address: 50,
            trusted_proxies: Vec::new(),
            stream_tick: std::time::Duration::from_millis(250),
            stream_heartbeat: std::time::Duration::from_secs(15),
            lease: Lease::default(),
            login_per_second: 20,
            login_burst: 100,
            register_per_second: 10,
            register_burst: 100,
            hash_wait: std::time::Duration::from_secs(5),
            spotify: None,
            spotify_max_concurrent_calls: 16,
            spotify_claim_wait: std::time::Duration::from_secs(15),
            spotify_pause_refresh: std::time::Duration::from_secs(1),
            webhook_allow_private: false,
            webhook_allowed_hosts: Vec::new(),
            webhook_backoff_base: std::time::Duration::from_millis(1000),
            webhook_backoff_max: std::time::Duration::from_secs(3600),
            webhook_retry_for: std::time::Duration::from_secs(86_400),
            webhook_timeout: std::time::Duration::from_secs(5),
            webhook_disable_after: 50,
            webhook_poll: std::time::Duration::from_secs(1),
        }
    }
}

impl Settings {
    /// Reads every variable; an unset or empty one takes its default.
    pub fn from_env() -> Result<Self, String> {
        let defaults = Settings::default();
        let settings = Settings {
            database_url: var("DATABASE_URL").unwrap_or(defaults.database_url),
            bind_addr: var("BIND_ADDR").unwrap_or(defaults.bind_addr),
            db_pool_size: parsed("DB_POOL_SIZE", defaults.db_pool_size)?,
            scheduler_enabled: boolean("SCHEDULER_ENABLED", defaults.scheduler_enabled)?,
            scheduler_tick_secs: parsed("SCHEDULER_TICK_SECS", defaults.scheduler_tick_secs)?,
            session_ttl_hours: parsed("SESSION_TTL_HOURS", defaults.session_ttl_hours)?,
            activity_retention_days: parsed(
                "ACTIVITY_RETENTION_DAYS",
                defaults.activity_retention_days,
            )?,
            cors_allowed_origins: var("CORS_ALLOWED_ORIGINS")
                .map(|v| entries(&v).map(String::from).collect())
                .unwrap_or_default(),
            stream_send_timeout_secs: parsed(
                "STREAM_SEND_TIMEOUT_SECS",
                defaults.stream_send_timeout_secs,
            )?,
            max_exports_per_user: parsed("MAX_EXPORTS_PER_USER", defaults.max_exports_per_user)?,
            max_exports_per_instance: parsed(
                "MAX_EXPORTS_PER_INSTANCE",
                defaults.max_exports_per_instance,
            )?,
            max_streams_per_user: parsed("MAX_STREAMS_PER_USER", defaults.max_streams_per_user)?,
            max_streams_per_instance: parsed(
                "MAX_STREAMS_PER_INSTANCE",
                defaults.max_streams_per_instance,
            )?,
            max_streams_per_address: parsed(
                "MAX_STREAMS_PER_ADDRESS",
                defaults.max_streams_per_address,
            )?,
            trusted_proxies: trusted_proxies(var("TRUSTED_PROXIES").as_deref())?,
            stream_tick: defaults.stream_tick,
            stream_heartbeat: defaults.stream_heartbeat,
            lease: defaults.lease,
            login_per_second: defaults.login_per_second,
            login_burst: defaults.login_burst,
            register_per_second: defaults.register_per_second,
            register_burst: defaults.register_burst,
            hash_wait: defaults.hash_wait,
            spotify: SpotifyConfig::from_env()?,
            spotify_max_concurrent_calls: parsed(
                "SPOTIFY_MAX_CONCURRENT_CALLS",
                defaults.spotify_max_concurrent_calls,
            )?,
            spotify_claim_wait: defaults.spotify_claim_wait,
            spotify_pause_refresh: defaults.spotify_pause_refresh,
            webhook_allow_private: boolean(
                "WEBHOOK_ALLOW_PRIVATE",
                defaults.webhook_allow_private,
            )?,
            webhook_allowed_hosts: allowed_hosts(var("WEBHOOK_ALLOWED_HOSTS").as_deref())?,
            webhook_backoff_base: std::time::Duration::from_millis(ranged(
                "WEBHOOK_BACKOFF_BASE_MS",
                1000,
                10,
                60_000,
            )?),
            webhook_backoff_max: std::time::Duration::from_secs(ranged(
                "WEBHOOK_BACKOFF_MAX_SECS",
                3600,
                1,
                86_400,
            )?),
            webhook_retry_for: std::time::Duration::from_secs(ranged(
                "WEBHOOK_RETRY_FOR_SECS",
                86_400,
                1,
                604_800,
            )?),
            webhook_timeout: std::time::Duration::from_secs(ranged(
                "WEBHOOK_TIMEOUT_SECS",
                5,
                1,
                60,
            )?),
            webhook_disable_after: defaults.webhook_disable_after,
            webhook_poll: defaults.webhook_poll,
        };
        if settings.db_pool_size == 0 {
            return Err("DB_POOL_SIZE must be at least 1".into());
        }
        if settings.scheduler_tick_secs == 0 {
            return Err("SCHEDULER_TICK_SECS must be at least 1".into());
        }
        if settings.session_ttl_hours <= 0 {
            return Err("SESSION_TTL_HOURS must be at least 1".into());
        }
        if settings.stream_send_timeout_secs == 0 {
            return Err("STREAM_SEND_TIMEOUT_SECS must be at least 1".into());
        }
        if settings.max_exports_per_user == 0 || settings.max_exports_per_instance == 0 {
            return Err(
                "MAX_EXPORTS_PER_USER and MAX_EXPORTS_PER_INSTANCE must be at least 1".into(),
            );
        }
        if settings.max_streams_per_user == 0 || settings.max_streams_per_instance == 0 {
            return Err(
                "MAX_STREAMS_PER_USER and MAX_STREAMS_PER_INSTANCE must be at least 1".into(),
            );
        }
        if !(1..=2000).contains(&settings.max_streams_per_address) {
            return Err("MAX_STREAMS_PER_ADDRESS must be between 1 and 2000".into());
        }
        if !(1..=256).contains(&settings.spotify_max_concurrent_calls) {
            return Err(format!(
                "SPOTIFY_MAX_CONCURRENT_CALLS must be 1 to 256, got {}",
                settings.spotify_max_concurrent_calls
            ));
        }
        Ok(settings)
    }
}

/// The entries of a comma-separated variable, trimmed, empty ones skipped.
fn entries(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
}

/// `TRUSTED_PROXIES`: comma-separated CIDRs; a bare address stands for
/// itself alone (`/32` or `/128`). Anything else stops start-up naming the
/// variable and the entry.
pub fn trusted_proxies(value: Option<&str>) -> Result<Vec<IpNet>, String> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    entries(value)
        .map(|entry| {
            entry
                .parse::<IpNet>()
                .map(|net| net.trunc())
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!(
                        "TRUSTED_PROXIES has an entry that is not a CIDR or an address: {entry:?} \
                         (e.g. 10.0.0.0/8,127.0.0.1/32)"
                    )
                })
        })
        .collect()
}

/// `WEBHOOK_ALLOWED_HOSTS`: comma-separated host names or IP addresses,
/// compared without case. An entry with a scheme, a path, a port or a
/// space stops start-up naming it.
pub fn allowed_hosts(value: Option<&str>) -> Result<Vec<String>, String> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    entries(value)
        .map(|entry| {
            let host = entry.trim_start_matches('[').trim_end_matches(']');
            let is_ip = host.parse::<std::net::IpAddr>().is_ok();
            let is_name = !host.is_empty()
                && host.len() <= 253
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if is_ip || is_name {
                Ok(host.to_ascii_lowercase())
            } else {
                Err(format!(
                    "WEBHOOK_ALLOWED_HOSTS has an entry that is not a host name or an IP address: \
                     {entry:?} (e.g. hooks.example.com,127.0.0.1)"
                ))
            }
        })
        .collect()
}

/// An integer variable within `min..=max`, its default when unset.
fn ranged(name: &str, default: u64, min: u64, max: u64) -> Result<u64, String> {
    let value: u64 = match var(name) {
        None => return Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("{name} must be an integer from {min} to {max}, got {v:?}"))?,
    };
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{name} must be from {min} to {max}, got {value}"))
    }
}

fn var(name: &str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parsed<T: FromStr>(name: &str, default: T) -> Result<T, String> {
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("{name} has an invalid value: {v:?}")),
    }
}

fn boolean(name: &str, default: bool) -> Result<bool, String> {
    match var(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => Ok(true),
        Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => Ok(false),
        Some(v) => Err(format!("{name} must be true or false, got {v:?}")),
    }
}
