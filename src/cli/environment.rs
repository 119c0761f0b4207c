//! The variables `serve` reads, for `shuffify serve --help`: every one that
//! `config::Settings::from_env` and its Spotify part read, with its default
//! (`tests/api/cli.rs` checks that none read there is missing here).

/// `shuffify serve --help`'s closing text.
pub const SERVE_ENVIRONMENT: &str = "\
Environment (also read from a .env file in the current directory; an unset or empty
variable takes its default, and an invalid value stops start-up naming the variable):
  DATABASE_URL                  sqlite://PATH, sqlite::memory: or postgres://USER:PASSWORD@HOST/DB; the scheme picks the backend [default: sqlite://shuffify.db]
  BIND_ADDR                     where serve listens: an IP address and a port [default: 127.0.0.1:8080]
  DB_POOL_SIZE                  database connections in the pool, 1-256 [default: 8]
  SCHEDULER_ENABLED             run the schedule loop inside serve (true or false) [default: true]
  SCHEDULER_TICK_SECS           seconds between looks for due schedules, 1-3600 [default: 30]
  SCHEDULER_WORKERS             scheduled runs at once per process (claims held at most), 1-64 [default: 4]
  SCHEDULER_LEASE_SECS          an unstarted claim on a due schedule, and a run's heartbeat, last this long, 10-3600 [default: 60]
  SESSION_TTL_HOURS             lifetime of a login token, in hours, 1-87600 (10 years) [default: 720]
  ACTIVITY_RETENTION_DAYS       0 keeps activity forever; N > 0 prunes rows older than N days once a day, 0-36500 [default: 0]
  CORS_ALLOWED_ORIGINS          comma-separated origins (scheme://host[:port], no path or slash) allowed to call the API from a browser [default: none]
  STREAM_SEND_TIMEOUT_SECS      a streamed response (export) whose client takes no chunk this long is dropped, 1-600 [default: 10]
  MAX_EXPORTS_PER_USER          concurrent exports per user, 1-64; 429 beyond [default: 2]
  MAX_EXPORTS_PER_INSTANCE      concurrent exports per process, 1-1024; 429 beyond [default: 32]
  MAX_STREAMS_PER_USER          open live activity streams per user, 1-100; 429 beyond [default: 5]
  MAX_STREAMS_PER_INSTANCE      open live activity streams per process, 1-100000; 429 beyond [default: 2000]
  MAX_STREAMS_PER_ADDRESS       open live streams per client address (an IPv6 /64), 1-2000; 429 beyond [default: 50]
  TRUSTED_PROXIES               comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed [default: none]
  SPOTIFY_CLIENT_ID             the Spotify app's client id; empty turns Spotify off [default: empty]
  SPOTIFY_CLIENT_SECRET         the app's secret; empty uses PKCE as a public client [default: empty]
  SPOTIFY_REDIRECT_URI          this service's /api/providers/spotify/callback; required with a client id [default: none]
  SPOTIFY_ACCOUNTS_URL          Spotify's accounts service [default: https://accounts.spotify.com]
  SPOTIFY_API_URL               Spotify's Web API [default: https://api.spotify.com/v1]
  TOKEN_ENCRYPTION_KEY          32 bytes in base64 sealing Spotify tokens at rest; required with a client id [default: none]
  SPOTIFY_MAX_CONCURRENT_CALLS  calls to Spotify in flight at once per process, 1-256 [default: 16]
  WEBHOOK_ALLOW_PRIVATE         let webhooks reach private and loopback addresses, and http:// to loopback [default: false]
  WEBHOOK_ALLOWED_HOSTS         comma-separated hosts webhooks may name; empty allows any public host [default: none]
  WEBHOOK_BACKOFF_BASE_MS       wait after a delivery's first failed attempt, doubling after each, 10-60000 [default: 1000]
  WEBHOOK_BACKOFF_MAX_SECS      longest wait between two attempts, 1-86400 [default: 3600]
  WEBHOOK_RETRY_FOR_SECS        a delivery still failing this long after it began is failed, 1-604800 [default: 86400]
  WEBHOOK_TIMEOUT_SECS          an attempt with no 2xx this long has failed, 1-60 [default: 5]
  LOG_FORMAT                    text, or json for one JSON object per line [default: text]
  RUST_LOG                      log filter (env_logger) [default: info]";

/// `shuffify serve -h`'s closing text: where the long list is.
pub const SERVE_ENVIRONMENT_SHORT: &str =
    "Configured by environment variables (DATABASE_URL, BIND_ADDR, ...): `shuffify serve --help` lists them all.";
