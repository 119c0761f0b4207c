//! Per-address token buckets for login and registration (SPEC §10.8):
//! login 20/s with bursts of 100, register 10/s with bursts of 100, keyed by
//! the socket peer's IP (forwarded headers are ignored: a client writes
//! them). Only requests that passed validation draw, before any hashing.
//! An empty bucket answers 429 `rate_limited` with `Retry-After`. A rate
//! of 0 (tests only) refills one token a day: the bucket lets its burst
//! through and then refuses, whatever the wall clock does meanwhile.
//!
//! `governor` keeps one small state per address; every 1,024 checks it
//! forgets addresses whose bucket has refilled, so a spray of addresses
//! cannot grow the map without bound.

use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::Settings;
use crate::error::{AppError, AppResult};

const RETAIN_EVERY: u64 = 1024;

/// How long a bucket with a rate of 0 takes to regain one token.
const NO_REFILL: Duration = Duration::from_secs(24 * 60 * 60);

struct Bucket {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    what: &'static str,
    per_second: u32,
    burst: u32,
    checks: AtomicU64,
}

impl Bucket {
    fn new(what: &'static str, per_second: u32, burst: u32) -> Self {
        let burst = burst.max(1);
        let quota = match NonZeroU32::new(per_second) {
            Some(rate) => Quota::per_second(rate),
            // A bucket that does not refill while a test runs, so what it
            // lets through is its burst, however slowly the test goes.
            None => Quota::with_period(NO_REFILL).expect("a period above zero"),
        }
        .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        Bucket {
            limiter: RateLimiter::keyed(quota),
            what,
            per_second,
            burst,
            checks: AtomicU64::new(0),
        }
    }

    fn check(&self, address: Option<IpAddr>) -> AppResult<()> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % RETAIN_EVERY == RETAIN_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        let address = address.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        self.limiter.check_key(&address).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            AppError::RateLimited {
                message: format!(
                    "too many {} from this address: at most {} per second, in bursts of {}",
                    self.what, self.per_second, self.burst
                ),
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
        })
    }
}

/// The login and registration buckets of one process.
pub struct AddressLimits {
    login: Bucket,
    register: Bucket,
}

impl AddressLimits {
    pub fn new(settings: &Settings) -> Self {
        AddressLimits {
            login: Bucket::new(
                "login attempts",
                settings.login_per_second,
                settings.login_burst,
            ),
            register: Bucket::new(
                "registrations",
                settings.register_per_second,
                settings.register_burst,
            ),
        }
    }

    pub fn check_login(&self, address: Option<IpAddr>) -> AppResult<()> {
        self.login.check(address)
    }

    pub fn check_register(&self, address: Option<IpAddr>) -> AppResult<()> {
        self.register.check(address)
    }
}
