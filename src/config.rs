//! Run-time configuration, read once from the environment (and a `.env` file
//! when one is present).
//!
//! `docs/configuration.md` lists every variable with its default, the
//! values it accepts and what it means; [`RANGES`] holds the integer
//! variables' bounds (a test keeps the two in step).
//!
//! Every value is checked by [`Settings::from_env`] before anything binds or
//! connects, and every problem is reported at once, each naming its
//! variable, rather than silently falling back to the default. Settings
//! built in code (the tests) are not checked.

use std::env;

use base64::Engine;
use ipnet::IpNet;

/// Spotify as a playlist provider (docs/spotify.md); `None` in [`Settings`]
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

    /// The provider's settings, `None` without a client id (or when one of
    /// them is refused, noted in `env`); with one, a missing or relative
    /// redirect URI, a key that is not 32 bytes of base64, or a base URL
    /// that is not an absolute http(s) URL is a problem naming its
    /// variable.
    fn read(env: &mut Env) -> Option<Self> {
        let client_id = env.var("SPOTIFY_CLIENT_ID")?;
        let before = env.problems.len();
        let redirect_uri = match env.var("SPOTIFY_REDIRECT_URI") {
            None => {
                env.problems
                    .push("SPOTIFY_REDIRECT_URI must be set when SPOTIFY_CLIENT_ID is".into());
                String::new()
            }
            Some(uri) => {
                if !is_web_url(&uri) {
                    env.problems.push(format!(
                        "SPOTIFY_REDIRECT_URI must be an absolute http or https URL, got {uri:?}"
                    ));
                }
                uri
            }
        };
        let token_key = env
            .var("TOKEN_ENCRYPTION_KEY")
            .and_then(|k| base64::engine::general_purpose::STANDARD.decode(k).ok())
            .and_then(|k| <[u8; 32]>::try_from(k).ok());
        if token_key.is_none() {
            env.problems.push(
                "TOKEN_ENCRYPTION_KEY must be 32 bytes in base64 when SPOTIFY_CLIENT_ID is set \
                 (e.g. `openssl rand -base64 32`)"
                    .into(),
            );
        }
        let mut base = |name: &str, default: &str| -> String {
            let value = env.var(name).unwrap_or_else(|| default.to_string());
            if !is_web_url(&value) {
                env.problems.push(format!(
                    "{name} must be an absolute http or https URL, got {value:?}"
                ));
            }
            value.trim_end_matches('/').to_string()
        };
        let accounts_url = base("SPOTIFY_ACCOUNTS_URL", Self::DEFAULT_ACCOUNTS_URL);
        let api_url = base("SPOTIFY_API_URL", Self::DEFAULT_API_URL);
        let client_secret = env.var("SPOTIFY_CLIENT_SECRET");
        if env.problems.len() > before {
            return None;
        }
        Some(SpotifyConfig {
            client_id,
            client_secret,
            redirect_uri,
            accounts_url,
            api_url,
            token_key: token_key?,
        })
    }
}

/// Whether `value` is an absolute `http` or `https` URL with a host.
fn is_web_url(value: &str) -> bool {
    url::Url::parse(value)
        .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
}

/// Everything the service reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub bind_addr: String,
    pub db_pool_size: u32,
    pub scheduler_enabled: bool,
    pub scheduler_tick_secs: u64,
    /// Scheduled runs at once in this process (`SCHEDULER_WORKERS`, 1-64):
    /// the scheduler never holds more claims than it has workers.
    pub scheduler_workers: usize,
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
    /// sends a heartbeat and checks its sessions (docs/api.md: at least every
    /// 15 s); not read from the environment; tests shorten them.
    pub stream_tick: std::time::Duration,
    pub stream_heartbeat: std::time::Duration,
    /// The job lease (docs/api.md, "Schedules"): how long an unstarted
    /// claim on a schedule and a run's heartbeat hold
    /// (`SCHEDULER_LEASE_SECS`); tests shorten it further.
    pub lease: Lease,
    /// Per-address token buckets (docs/architecture.md) (login 20/s, bursts of 100;
    /// register 10/s, bursts of 100); fixed by the spec, not read from the
    /// environment; tests lower them (a rate of 0 refills once a day, so a
    /// test's bucket holds its burst and no more).
    pub login_per_second: u32,
    pub login_burst: u32,
    pub register_per_second: u32,
    pub register_burst: u32,
    /// How long a request waits for a password-hashing slot before 429
    /// (docs/architecture.md, "Limits, addresses and guesses": 5 s); not read from the environment.
    pub hash_wait: std::time::Duration,
    /// Spotify, when configured (docs/spotify.md).
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
    /// How often `serve` keeps `activity_log`'s monthly partitions ahead
    /// (PostgreSQL; `db::partitions`): 1 h; not read from the environment.
    pub partition_upkeep: std::time::Duration,
    /// How `serve` writes its log lines (`LOG_FORMAT`).
    pub log_format: crate::logging::LogFormat,
}

/// How a running job keeps its claim (docs/api.md, "Schedules"): its process renews
/// `heartbeat_at` every `renew_every`; an execution whose heartbeat is
/// older than `expires_after` is taken for dead, and an unstarted claim on
/// a schedule runs out `expires_after` after it was made.
/// `SCHEDULER_LEASE_SECS` sets `expires_after` ([`Lease::expiring_after`]);
/// tests shorten both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub renew_every: std::time::Duration,
    pub expires_after: std::time::Duration,
}

impl Default for Lease {
    fn default() -> Self {
        Lease::expiring_after(std::time::Duration::from_secs(60))
    }
}

impl Lease {
    /// A lease of `expires_after`, renewed every 10 s, or six times
    /// within it when it is shorter than a minute, so that a renewal late
    /// by a few seconds does not lose it.
    pub fn expiring_after(expires_after: std::time::Duration) -> Self {
        Lease {
            renew_every: (expires_after / 6).min(std::time::Duration::from_secs(10)),
            expires_after,
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
            scheduler_workers: 4,
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
            partition_upkeep: std::time::Duration::from_secs(60 * 60),
            log_format: crate::logging::LogFormat::Text,
        }
    }
}

/// Reads `.env` (from the current directory or the nearest parent that
/// has one) into the environment; a variable already set wins. No file is
/// fine; one that cannot be read or has a malformed line is an error
/// naming the file and the line (not its content: it may hold a secret).
pub fn load_dotenv() -> Result<(), String> {
    let Some(path) = std::env::current_dir().ok().and_then(|dir| {
        dir.ancestors()
            .map(|d| d.join(".env"))
            .find(|f| f.is_file())
    }) else {
        return Ok(());
    };
    match dotenvy::from_path(&path) {
        Ok(()) => Ok(()),
        Err(dotenvy::Error::LineParse(text, index)) => {
            let content = std::fs::read_to_string(&path).unwrap_or_default();
            let line = dotenv_line_number(&content, &text);
            Err(format!(
                "{}: line {line} is not NAME=value (at character {}); nothing was started",
                path.display(),
                index + 1
            ))
        }
        Err(error) => Err(format!("cannot read {}: {error}", path.display())),
    }
}

/// The 1-based number of the line of `content` where `text` (what dotenvy
/// could not parse, one line or a quoted value over several) begins.
fn dotenv_line_number(content: &str, text: &str) -> usize {
    let text = text.trim_end_matches(['\r', '\n']);
    content
        .find(text)
        .map_or(0, |at| content[..at].matches('\n').count() + 1)
}

/// The bounds of the integer variables: `(name, min, max)`, checked by
/// [`Settings::from_env`] and listed in `docs/configuration.md`.
pub const RANGES: [(&str, u64, u64); 17] = [
    ("DB_POOL_SIZE", 1, 256),
    ("SCHEDULER_TICK_SECS", 1, 3_600),
    ("SCHEDULER_WORKERS", 1, 64),
    ("SCHEDULER_LEASE_SECS", 10, 3_600),
    ("SESSION_TTL_HOURS", 1, SESSION_TTL_HOURS_MAX as u64),
    ("ACTIVITY_RETENTION_DAYS", 0, 36_500),
    ("STREAM_SEND_TIMEOUT_SECS", 1, 600),
    ("MAX_EXPORTS_PER_USER", 1, 64),
    ("MAX_EXPORTS_PER_INSTANCE", 1, 1_024),
    ("MAX_STREAMS_PER_USER", 1, 100),
    ("MAX_STREAMS_PER_INSTANCE", 1, 100_000),
    ("MAX_STREAMS_PER_ADDRESS", 1, 2_000),
    ("SPOTIFY_MAX_CONCURRENT_CALLS", 1, 256),
    ("WEBHOOK_BACKOFF_BASE_MS", 10, 60_000),
    ("WEBHOOK_BACKOFF_MAX_SECS", 1, 86_400),
    ("WEBHOOK_RETRY_FOR_SECS", 1, 604_800),
    ("WEBHOOK_TIMEOUT_SECS", 1, 60),
];

/// The longest session `SESSION_TTL_HOURS` may ask for: ten years. A login
/// never opens a longer one, whatever its settings say.
pub const SESSION_TTL_HOURS_MAX: i64 = 87_600;

impl Settings {
    /// Reads every variable from the process's environment; see
    /// [`Settings::from_lookup`].
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    /// Reads every variable through `lookup`; an unset or empty one takes
    /// its default. Every value is checked against its range or form
    /// before anything binds or connects, and every problem is reported at
    /// once: the error lists them all, one a line, each naming its
    /// variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut env = Env {
            lookup: &lookup,
            problems: Vec::new(),
        };
        let defaults = Settings::default();
        let database_url = env.var("DATABASE_URL").unwrap_or(defaults.database_url);
        if let Err(problem) = crate::db::DatabaseUrl::parse(&database_url) {
            env.problems.push(problem);
        }
        let bind_addr = env.var("BIND_ADDR").unwrap_or(defaults.bind_addr);
        if let Err(problem) = bind_address(&bind_addr) {
            env.problems.push(problem);
        }
        let settings = Settings {
            database_url,
            bind_addr,
            db_pool_size: env.ranged("DB_POOL_SIZE", defaults.db_pool_size),
            scheduler_enabled: env.boolean("SCHEDULER_ENABLED", defaults.scheduler_enabled),
            scheduler_tick_secs: env.ranged("SCHEDULER_TICK_SECS", defaults.scheduler_tick_secs),
            scheduler_workers: env.ranged("SCHEDULER_WORKERS", defaults.scheduler_workers),
            session_ttl_hours: env.ranged("SESSION_TTL_HOURS", defaults.session_ttl_hours),
            activity_retention_days: env
                .ranged("ACTIVITY_RETENTION_DAYS", defaults.activity_retention_days),
            cors_allowed_origins: env.list("CORS_ALLOWED_ORIGINS", cors_origin),
            stream_send_timeout_secs: env.ranged(
                "STREAM_SEND_TIMEOUT_SECS",
                defaults.stream_send_timeout_secs,
            ),
            max_exports_per_user: env.ranged("MAX_EXPORTS_PER_USER", defaults.max_exports_per_user),
            max_exports_per_instance: env.ranged(
                "MAX_EXPORTS_PER_INSTANCE",
                defaults.max_exports_per_instance,
            ),
            max_streams_per_user: env.ranged("MAX_STREAMS_PER_USER", defaults.max_streams_per_user),
            max_streams_per_instance: env.ranged(
                "MAX_STREAMS_PER_INSTANCE",
                defaults.max_streams_per_instance,
            ),
            max_streams_per_address: env
                .ranged("MAX_STREAMS_PER_ADDRESS", defaults.max_streams_per_address),
            trusted_proxies: env.list("TRUSTED_PROXIES", trusted_proxy),
            stream_tick: defaults.stream_tick,
            stream_heartbeat: defaults.stream_heartbeat,
            lease: Lease::expiring_after(std::time::Duration::from_secs(
                env.ranged("SCHEDULER_LEASE_SECS", 60u64),
            )),
            login_per_second: defaults.login_per_second,
            login_burst: defaults.login_burst,
            register_per_second: defaults.register_per_second,
            register_burst: defaults.register_burst,
            hash_wait: defaults.hash_wait,
            spotify: SpotifyConfig::read(&mut env),
            spotify_max_concurrent_calls: env.ranged(
                "SPOTIFY_MAX_CONCURRENT_CALLS",
                defaults.spotify_max_concurrent_calls,
            ),
            spotify_claim_wait: defaults.spotify_claim_wait,
            spotify_pause_refresh: defaults.spotify_pause_refresh,
            webhook_allow_private: env
                .boolean("WEBHOOK_ALLOW_PRIVATE", defaults.webhook_allow_private),
            webhook_allowed_hosts: env.list("WEBHOOK_ALLOWED_HOSTS", allowed_host),
            webhook_backoff_base: std::time::Duration::from_millis(
                env.ranged("WEBHOOK_BACKOFF_BASE_MS", 1000u64),
            ),
            webhook_backoff_max: std::time::Duration::from_secs(
                env.ranged("WEBHOOK_BACKOFF_MAX_SECS", 3600u64),
            ),
            webhook_retry_for: std::time::Duration::from_secs(
                env.ranged("WEBHOOK_RETRY_FOR_SECS", 86_400u64),
            ),
            webhook_timeout: std::time::Duration::from_secs(
                env.ranged("WEBHOOK_TIMEOUT_SECS", 5u64),
            ),
            webhook_disable_after: defaults.webhook_disable_after,
            webhook_poll: defaults.webhook_poll,
            partition_upkeep: defaults.partition_upkeep,
            log_format: match env.var("LOG_FORMAT") {
                None => defaults.log_format,
                Some(value) => value.trim().parse().unwrap_or_else(|problem| {
                    env.problems.push(problem);
                    defaults.log_format
                }),
            },
        };
        match env.problems.as_slice() {
            [] => Ok(settings),
            [one] => Err(format!("invalid configuration: {one}")),
            many => Err(format!(
                "invalid configuration ({} problems):\n  {}",
                many.len(),
                many.join("\n  ")
            )),
        }
    }

    /// The effective configuration in one line, for `serve` to log before
    /// it binds: no secret (the database password is masked, Spotify's
    /// secret and key are left out).
    pub fn summary(&self) -> String {
        let (database, pool) = match crate::db::DatabaseUrl::parse(&self.database_url) {
            Ok(crate::db::DatabaseUrl::Postgres(_)) => ("postgres", self.db_pool_size),
            // Its one connection holds the database.
            Ok(url) if url.is_private_memory() => ("sqlite (in memory)", 1),
            _ => ("sqlite", self.db_pool_size),
        };
        let listed = |items: Vec<String>| {
            if items.is_empty() {
                "none".to_string()
            } else {
                items.join(",")
            }
        };
        format!(
            "configuration: database={database} {url}, pool={pool}, scheduler={scheduler}, \
             retention={retention}, spotify={spotify}, trusted_proxies={proxies}, \
             cors_allowed_origins={cors}, log_format={log_format}, bind={bind}",
            url = crate::db::describe_database_url(&self.database_url),
            scheduler = if self.scheduler_enabled {
                format!(
                    "on (tick {} s, {} workers, lease {} s)",
                    self.scheduler_tick_secs,
                    self.scheduler_workers,
                    self.lease.expires_after.as_secs()
                )
            } else {
                "off".to_string()
            },
            retention = match self.activity_retention_days {
                0 => "keep forever".to_string(),
                days => format!("{days} days"),
            },
            spotify = match self.spotify {
                None => "off".to_string(),
                Some(_) => format!("on ({} calls at once)", self.spotify_max_concurrent_calls),
            },
            proxies = listed(self.trusted_proxies.iter().map(|p| p.to_string()).collect()),
            cors = listed(self.cors_allowed_origins.clone()),
            log_format = self.log_format,
            bind = self.bind_addr,
        )
    }
}

/// `BIND_ADDR`: an IP address and a port (`127.0.0.1:8080`,
/// `0.0.0.0:8080`, `[::1]:8080`). A host name is refused: it may resolve to
/// several addresses, or to none until DNS answers, and what `serve` binds
/// should not depend on a lookup at start-up.
pub fn bind_address(value: &str) -> Result<std::net::SocketAddr, String> {
    value.trim().parse().map_err(|_| {
        let hint = match value.trim().rsplit_once(':') {
            Some(("localhost", port)) => format!(" (write 127.0.0.1:{port} or [::1]:{port})"),
            _ => String::new(),
        };
        format!(
            "BIND_ADDR must be an IP address and a port, such as 127.0.0.1:8080 or \
             [::1]:8080, got {value:?}{hint}"
        )
    })
}

/// One `CORS_ALLOWED_ORIGINS` entry: an origin exactly as a browser sends
/// it in `Origin` (`scheme://host[:port]`, http or https, lower-case, no
/// default port, no path, no trailing slash, no query, no `*`), since
/// anything else would be accepted here and then never match.
fn cors_origin(entry: &str) -> Result<String, String> {
    let refuse = |why: &str| {
        Err(format!(
            "CORS_ALLOWED_ORIGINS has an entry that is not an origin: {entry:?} ({why}; \
             e.g. https://app.example.com,http://localhost:3000)"
        ))
    };
    if entry.contains('*') {
        return refuse("wildcards are not allowed: list each origin");
    }
    let Ok(url) = url::Url::parse(entry) else {
        return refuse("expected scheme://host[:port]");
    };
    if !matches!(url.scheme(), "http" | "https") {
        return refuse("the scheme must be http or https");
    }
    if url.host().is_none() || !url.username().is_empty() || url.password().is_some() {
        return refuse("expected scheme://host[:port]");
    }
    if url.query().is_some() || url.fragment().is_some() {
        return refuse("an origin has no query or fragment");
    }
    if url.path() != "/" || entry.ends_with('/') {
        return refuse("an origin has no path, not even a trailing slash");
    }
    let origin = url.origin().ascii_serialization();
    if origin != entry {
        return refuse(&format!("a browser sends it as {origin}"));
    }
    Ok(origin)
}

/// `TRUSTED_PROXIES`: comma-separated CIDRs; a bare address stands for
/// itself alone (`/32` or `/128`). The first bad entry is the error,
/// naming the variable and the entry.
pub fn trusted_proxies(value: Option<&str>) -> Result<Vec<IpNet>, String> {
    entries(value.unwrap_or_default())
        .map(trusted_proxy)
        .collect()
}

/// `WEBHOOK_ALLOWED_HOSTS`: comma-separated host names or IP addresses,
/// compared without case. An entry with a scheme, a path, a port or a
/// space is the error, naming it.
pub fn allowed_hosts(value: Option<&str>) -> Result<Vec<String>, String> {
    entries(value.unwrap_or_default())
        .map(allowed_host)
        .collect()
}

/// One `TRUSTED_PROXIES` entry: a CIDR, or a bare address standing for
/// itself alone (`/32` or `/128`).
fn trusted_proxy(entry: &str) -> Result<IpNet, String> {
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
}

/// One `WEBHOOK_ALLOWED_HOSTS` entry: a host name or an IP address (in
/// brackets or not), lower-cased.
fn allowed_host(entry: &str) -> Result<String, String> {
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
}

/// The variables as [`Settings::from_lookup`] reads them, and the problems
/// found so far.
struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<String>,
}

impl Env<'_> {
    /// A variable's value, trimmed; `None` when unset or empty.
    fn var(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// An integer variable within its bounds in [`RANGES`]; its default
    /// when unset, or when the value is refused (and noted as a problem).
    fn ranged<T: TryFrom<u64> + Copy>(&mut self, name: &str, default: T) -> T {
        let (_, min, max) = RANGES
            .iter()
            .copied()
            .find(|(n, _, _)| *n == name)
            .expect("every ranged variable is listed in RANGES");
        let Some(value) = self.var(name) else {
            return default;
        };
        match value.parse::<u64>() {
            Ok(number) if (min..=max).contains(&number) => T::try_from(number).unwrap_or(default),
            Ok(number) => {
                self.problems.push(format!(
                    "{name} must be between {min} and {max}, got {number}"
                ));
                default
            }
            Err(_) => {
                self.problems.push(format!(
                    "{name} must be a whole number between {min} and {max}, got {value:?}"
                ));
                default
            }
        }
    }

    /// `true`, `false` (or 1/0, yes/no, on/off), any case.
    fn boolean(&mut self, name: &str, default: bool) -> bool {
        match self.var(name).map(|v| v.to_ascii_lowercase()) {
            None => default,
            Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => true,
            Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => false,
            Some(v) => {
                self.problems
                    .push(format!("{name} must be true or false, got {v:?}"));
                default
            }
        }
    }

    /// A comma-separated variable, each entry read by `entry`; every
    /// refused entry is a problem.
    fn list<T>(&mut self, name: &str, entry: fn(&str) -> Result<T, String>) -> Vec<T> {
        let Some(value) = self.var(name) else {
            return Vec::new();
        };
        let mut items = Vec::new();
        for item in entries(&value).map(entry) {
            match item {
                Ok(item) => items.push(item),
                Err(problem) => self.problems.push(problem),
            }
        }
        items
    }
}

/// The entries of a comma-separated variable, trimmed, empty ones skipped.
fn entries(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Settings, String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    fn refused(vars: &[(&str, &str)]) -> String {
        read(vars).expect_err("refused")
    }

    #[test]
    fn nothing_set_gives_the_defaults() {
        let settings = read(&[]).unwrap();
        let defaults = Settings::default();
        assert_eq!(settings.bind_addr, defaults.bind_addr);
        assert_eq!(settings.db_pool_size, 8);
        assert_eq!(settings.session_ttl_hours, 720);
        assert_eq!(settings.log_format, crate::logging::LogFormat::Text);
        assert!(settings.spotify.is_none());
        // Empty and blank count as unset.
        assert!(read(&[("DB_POOL_SIZE", ""), ("BIND_ADDR", "  ")]).is_ok());
    }

    #[test]
    fn every_range_takes_its_bounds_and_refuses_beyond_them_naming_the_variable() {
        for (name, min, max) in RANGES {
            let min_s = min.to_string();
            let max_s = max.to_string();
            assert!(read(&[(name, &min_s)]).is_ok(), "{name}={min}");
            assert!(read(&[(name, &max_s)]).is_ok(), "{name}={max}");
            let above = (max + 1).to_string();
            let err = refused(&[(name, &above)]);
            assert!(err.contains(name) && err.contains(&max_s), "{err}");
            if min > 0 {
                let below = (min - 1).to_string();
                let err = refused(&[(name, &below)]);
                assert!(err.contains(name) && err.contains("between"), "{err}");
            }
            for junk in ["-1", "ten", "1.5", "99999999999999999999999"] {
                let err = refused(&[(name, junk)]);
                assert!(err.contains(name), "{name}={junk}: {err}");
            }
        }
    }

    #[test]
    fn the_reported_cases_are_refused() {
        let err = refused(&[("SESSION_TTL_HOURS", "99999999999")]);
        assert!(
            err.contains("SESSION_TTL_HOURS") && err.contains("87600"),
            "{err}"
        );
        let err = refused(&[("DB_POOL_SIZE", "100000")]);
        assert!(err.contains("DB_POOL_SIZE") && err.contains("256"), "{err}");
        let settings = read(&[("SESSION_TTL_HOURS", "87600"), ("DB_POOL_SIZE", "256")]).unwrap();
        assert_eq!(settings.session_ttl_hours, 87_600);
        assert_eq!(settings.db_pool_size, 256);
    }

    #[test]
    fn every_problem_is_reported_at_once_one_a_line() {
        let err = refused(&[
            ("SESSION_TTL_HOURS", "0"),
            ("DB_POOL_SIZE", "100000"),
            ("CORS_ALLOWED_ORIGINS", "*"),
            ("BIND_ADDR", "bogus"),
            ("LOG_FORMAT", "xml"),
            ("SCHEDULER_ENABLED", "maybe"),
            ("TRUSTED_PROXIES", "10.0.0.0/8,nope"),
            ("WEBHOOK_ALLOWED_HOSTS", "https://x.example"),
            ("DATABASE_URL", "mysql://x"),
        ]);
        assert!(
            err.starts_with("invalid configuration (9 problems):"),
            "{err}"
        );
        for name in [
            "SESSION_TTL_HOURS",
            "DB_POOL_SIZE",
            "CORS_ALLOWED_ORIGINS",
            "BIND_ADDR",
            "LOG_FORMAT",
            "SCHEDULER_ENABLED",
            "TRUSTED_PROXIES",
            "WEBHOOK_ALLOWED_HOSTS",
            "DATABASE_URL",
        ] {
            assert_eq!(
                err.lines().filter(|line| line.contains(name)).count(),
                1,
                "{name}: {err}"
            );
        }
    }

    #[test]
    fn cors_origins_are_exactly_what_a_browser_sends() {
        let ok = read(&[(
            "CORS_ALLOWED_ORIGINS",
            "https://app.example.com, http://localhost:3000,http://[::1]:8080",
        )])
        .unwrap();
        assert_eq!(
            ok.cors_allowed_origins,
            [
                "https://app.example.com",
                "http://localhost:3000",
                "http://[::1]:8080"
            ]
        );
        for (entry, why) in [
            ("*", "wildcard"),
            ("https://*.example.com", "wildcard"),
            ("https://app.example.com/", "trailing slash"),
            ("https://app.example.com/app", "no path"),
            ("https://app.example.com?x=1", "no query"),
            ("https://app.example.com#top", "no query or fragment"),
            ("ftp://app.example.com", "http or https"),
            ("app.example.com", "scheme://host"),
            ("https://user:pw@app.example.com", "scheme://host"),
            ("https://App.Example.com", "https://app.example.com"),
            ("https://app.example.com:443", "https://app.example.com"),
        ] {
            let err = refused(&[("CORS_ALLOWED_ORIGINS", entry)]);
            assert!(
                err.contains("CORS_ALLOWED_ORIGINS") && err.contains(why),
                "{entry}: {err}"
            );
        }
    }

    #[test]
    fn bind_addr_is_an_ip_address_and_a_port() {
        for good in ["127.0.0.1:8080", "0.0.0.0:0", "[::1]:8080", "[::]:80"] {
            assert!(read(&[("BIND_ADDR", good)]).is_ok(), "{good}");
        }
        for bad in ["bogus", "127.0.0.1", "127.0.0.1:99999", ":8080", "::1:8080"] {
            let err = refused(&[("BIND_ADDR", bad)]);
            assert!(err.contains("BIND_ADDR"), "{bad}: {err}");
        }
        let err = refused(&[("BIND_ADDR", "localhost:8080")]);
        assert!(err.contains("127.0.0.1:8080"), "{err}");
    }

    #[test]
    fn log_format_and_booleans_take_their_words() {
        let json = read(&[("LOG_FORMAT", "json")]).unwrap();
        assert_eq!(json.log_format, crate::logging::LogFormat::Json);
        let err = refused(&[("LOG_FORMAT", "xml")]);
        assert!(
            err.contains("LOG_FORMAT") && err.contains("text or json"),
            "{err}"
        );
        let off = read(&[
            ("SCHEDULER_ENABLED", "OFF"),
            ("WEBHOOK_ALLOW_PRIVATE", "yes"),
        ])
        .unwrap();
        assert!(!off.scheduler_enabled && off.webhook_allow_private);
        let err = refused(&[("WEBHOOK_ALLOW_PRIVATE", "sometimes")]);
        assert!(err.contains("WEBHOOK_ALLOW_PRIVATE"), "{err}");
    }

    #[test]
    fn spotify_problems_are_all_named() {
        let err = refused(&[
            ("SPOTIFY_CLIENT_ID", "client"),
            ("SPOTIFY_API_URL", "not a url"),
        ]);
        for name in [
            "SPOTIFY_REDIRECT_URI",
            "TOKEN_ENCRYPTION_KEY",
            "SPOTIFY_API_URL",
        ] {
            assert!(err.contains(name), "{name}: {err}");
        }
        let err = refused(&[
            ("SPOTIFY_CLIENT_ID", "client"),
            ("SPOTIFY_REDIRECT_URI", "/relative"),
            (
                "TOKEN_ENCRYPTION_KEY",
                "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=",
            ),
        ]);
        assert!(err.contains("SPOTIFY_REDIRECT_URI"), "{err}");
        let ok = read(&[
            ("SPOTIFY_CLIENT_ID", "client"),
            (
                "SPOTIFY_REDIRECT_URI",
                "http://127.0.0.1:8080/api/providers/spotify/callback",
            ),
            (
                "TOKEN_ENCRYPTION_KEY",
                "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=",
            ),
        ])
        .unwrap();
        assert_eq!(ok.spotify.unwrap().client_id, "client");
    }

    #[test]
    fn the_database_password_is_masked() {
        for (url, masked) in [
            (
                "postgres://app:s3cret@db.example:5432/shuffify",
                "postgres://app:***@db.example:5432/shuffify",
            ),
            (
                "postgresql://app:p%40ss@db/shuffify?sslmode=disable",
                "postgresql://app:***@db/shuffify?sslmode=disable",
            ),
            // A bare `@` in the password is masked too.
            ("postgres://app:p@ss@db/x", "postgres://app:***@db/x"),
            (
                "postgres://db/x?user=app&password=s3cret&sslmode=disable",
                "postgres://db/x?user=app&password=***&sslmode=disable",
            ),
            ("postgres://app@db/x", "postgres://app@db/x"),
            ("postgres://db", "postgres://db"),
            ("sqlite::memory:", "sqlite::memory:"),
        ] {
            assert_eq!(crate::db::describe_database_url(url), masked, "{url}");
        }
    }

    #[test]
    fn the_summary_names_the_effective_settings_and_no_secret() {
        let settings = read(&[
            ("DATABASE_URL", "postgres://app:s3cret@db/shuffify"),
            ("TRUSTED_PROXIES", "10.0.0.0/8"),
            ("SCHEDULER_ENABLED", "false"),
            ("ACTIVITY_RETENTION_DAYS", "90"),
            ("LOG_FORMAT", "json"),
        ])
        .unwrap();
        let summary = settings.summary();
        assert!(!summary.contains("s3cret"), "{summary}");
        assert!(!summary.contains('\n'), "{summary}");
        for part in [
            "database=postgres postgres://app:***@db/shuffify",
            "pool=8",
            "scheduler=off",
            "retention=90 days",
            "spotify=off",
            "trusted_proxies=10.0.0.0/8",
            "log_format=json",
            "bind=127.0.0.1:8080",
        ] {
            assert!(summary.contains(part), "{part}: {summary}");
        }
        let memory = read(&[("DATABASE_URL", "sqlite::memory:")]).unwrap();
        assert!(memory.summary().contains("pool=1"));
        assert!(read(&[])
            .unwrap()
            .summary()
            .contains("scheduler=on (tick 30 s, 4 workers, lease 60 s)"));
    }

    #[test]
    fn scheduler_workers_and_lease_are_read_and_the_lease_is_renewed_well_within_itself() {
        let defaults = read(&[]).unwrap();
        assert_eq!(defaults.scheduler_workers, 4);
        assert_eq!(defaults.lease, Lease::default());
        assert_eq!(defaults.lease.expires_after.as_secs(), 60);
        assert_eq!(defaults.lease.renew_every.as_secs(), 10);
        let set = read(&[("SCHEDULER_WORKERS", "16"), ("SCHEDULER_LEASE_SECS", "10")]).unwrap();
        assert_eq!(set.scheduler_workers, 16);
        assert_eq!(set.lease.expires_after.as_secs(), 10);
        assert!(set.lease.renew_every * 5 < set.lease.expires_after);
        let long = read(&[("SCHEDULER_LEASE_SECS", "3600")]).unwrap();
        assert_eq!(long.lease.renew_every.as_secs(), 10);
        let err = refused(&[("SCHEDULER_WORKERS", "0"), ("SCHEDULER_LEASE_SECS", "9")]);
        assert!(
            err.contains("SCHEDULER_WORKERS") && err.contains("SCHEDULER_LEASE_SECS"),
            "{err}"
        );
    }

    #[test]
    fn a_dotenv_problem_is_found_by_its_line() {
        let content = "A=1\n# comment\n\nB=\"two\nlines\"\nBAD LINE\n";
        assert_eq!(dotenv_line_number(content, "BAD LINE"), 6);
        assert_eq!(dotenv_line_number(content, "B=\"two\nlines\"\n"), 4);
    }

    #[test]
    fn docs_list_every_variable_with_its_range() {
        let docs = include_str!("../docs/configuration.md");
        let grouped = |n: u64| {
            let digits = n.to_string();
            let mut out = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i).is_multiple_of(3) {
                    out.push(',');
                }
                out.push(c);
            }
            out
        };
        for (name, min, max) in RANGES {
            let row = docs
                .lines()
                .find(|line| line.starts_with(&format!("| `{name}` |")))
                .unwrap_or_else(|| panic!("{name} has no row in docs/configuration.md"));
            let range = format!("{}–{}", grouped(min), grouped(max));
            assert!(row.contains(&range), "{name}: {range} not in {row}");
        }
    }
}
