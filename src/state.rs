//! What every handler shares: the pool, the settings, the login throttle,
//! the caps on concurrent exports.

use crate::config::Settings;
use crate::db::Pool;
use crate::services::login_throttle::LoginThrottle;
use crate::streams::StreamLimiter;

pub struct AppState {
    pub pool: Pool,
    pub settings: Settings,
    pub throttle: LoginThrottle,
    /// Concurrent `GET /api/activity/export` responses (SPEC §10.9).
    pub exports: StreamLimiter,
}

impl AppState {
    pub fn new(pool: Pool, settings: Settings) -> Self {
        let exports = StreamLimiter::new(
            "concurrent exports",
            settings.max_exports_per_user,
            settings.max_exports_per_instance,
            settings.stream_send_timeout_secs,
        );
        AppState {
            pool,
            settings,
            throttle: LoginThrottle::default(),
            exports,
        }
    }
}
