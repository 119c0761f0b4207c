//! What every handler shares: the pool, the settings, the login throttle.

use crate::config::Settings;
use crate::db::Pool;
use crate::services::login_throttle::LoginThrottle;

pub struct AppState {
    pub pool: Pool,
    pub settings: Settings,
    pub throttle: LoginThrottle,
}

impl AppState {
    pub fn new(pool: Pool, settings: Settings) -> Self {
        AppState {
            pool,
            settings,
            throttle: LoginThrottle::default(),
        }
    }
}
