//! Per-address token buckets for login and registration: login 20/s with
//! bursts of 100, register 10/s with bursts of 100, keyed by the client
//! address (`crate::client_addr`: the socket peer, or behind a trusted
//! proxy the address it forwards; an IPv6 client by its /64). Only
//! requests that passed validation draw, before any hashing. An empty
//! bucket answers 429 `rate_limited` with `Retry-After`. A rate of 0
//! (tests only) refills one token a day: the bucket lets its burst through
//! and then refuses, whatever the wall clock does meanwhile.
//!
//! The login bucket also prices guesses of the unauthenticated secrets (a
//! stream ticket, a Spotify callback's state): while it is empty a guess is
//! refused before its lookup ([`AddressLimits::refuse_spent_guesser`]),
//! and a guess that matched nothing takes a token after it
//! ([`AddressLimits::charge_guess`]); one that matched costs nothing.
//!
//! Where the buckets live: on PostgreSQL in the database
//! (`models::address_bucket`), so every instance on it draws from the same
//! buckets and N instances allow what one does; on SQLite (one instance per
//! file) in this process.
//!
//! The in-process store is hand-written rather than `governor`'s keyed
//! limiter: a guess must see whether a bucket is empty without taking from
//! it, which `governor` cannot do, and the same token arithmetic then runs
//! here and in the database's SQL. Every 1,024 draws it forgets buckets
//! that refilled, so a spray of addresses cannot grow it without bound.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::client_addr::ClientAddr;
use crate::config::Settings;
use crate::db::{self, DatabaseUrl, Pool};
use crate::error::{AppError, AppResult};
use crate::models::address_bucket::{self, Refill};

const SWEEP_EVERY: u64 = 1024;

/// Seconds a bucket with a rate of 0 takes to regain one token.
const NO_REFILL_SECS: f64 = 24.0 * 60.0 * 60.0;

/// One kind of bucket: what it limits and how fast it refills.
#[derive(Debug, Clone, Copy)]
struct Rule {
    /// The key's prefix: one address has a bucket of each kind.
    kind: &'static str,
    /// What is limited, plural, for messages.
    what: &'static str,
    per_second: u32,
    burst: u32,
}

impl Rule {
    fn refill(&self) -> Refill {
        Refill {
            burst: f64::from(self.burst.max(1)),
            per_second: match self.per_second {
                0 => 1.0 / NO_REFILL_SECS,
                rate => f64::from(rate),
            },
        }
    }

    fn key(&self, client: ClientAddr) -> String {
        format!("{}:{}", self.kind, client.limit_key())
    }

    fn refused(&self) -> AppError {
        AppError::RateLimited {
            message: format!(
                "too many {} from this address: at most {} per second, in bursts of {}",
                self.what, self.per_second, self.burst
            ),
            retry_after_secs: (1.0 / self.refill().per_second).ceil().max(1.0) as u64,
        }
    }
}

/// A bucket in this process's memory.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn tokens_at(&self, now: Instant, refill: Refill) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        (self.tokens + elapsed * refill.per_second).min(refill.burst)
    }
}

/// Buckets of one process (SQLite).
#[derive(Default)]
struct LocalBuckets {
    buckets: Mutex<HashMap<String, (Bucket, Refill)>>,
}

impl LocalBuckets {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Bucket, Refill)>> {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take(&self, key: String, refill: Refill) -> bool {
        let now = Instant::now();
        let mut buckets = self.lock();
        let (bucket, _) = buckets.entry(key).or_insert((
            Bucket {
                tokens: refill.burst,
                at: now,
            },
            refill,
        ));
        let tokens = bucket.tokens_at(now, refill);
        if tokens < 1.0 {
            return false;
        }
        *bucket = Bucket {
            tokens: tokens - 1.0,
            at: now,
        };
        true
    }

    fn has_token(&self, key: &str, refill: Refill) -> bool {
        self.lock()
            .get(key)
            .is_none_or(|(bucket, _)| bucket.tokens_at(Instant::now(), refill) >= 1.0)
    }

    /// Forgets full buckets: they mean the same as none.
    fn sweep(&self) {
        let now = Instant::now();
        let mut buckets = self.lock();
        buckets.retain(|_, (bucket, refill)| bucket.tokens_at(now, *refill) < refill.burst);
        buckets.shrink_to_fit();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

enum Store {
    Local(LocalBuckets),
    /// The database's `address_buckets`, shared by every instance.
    Shared(Pool),
}

/// The login and registration buckets.
pub struct AddressLimits {
    login: Rule,
    register: Rule,
    store: Store,
    draws: AtomicU64,
}

impl AddressLimits {
    /// Buckets in the database when `pool` is PostgreSQL's, else in memory.
    pub fn new(settings: &Settings, pool: &Pool) -> Self {
        let shared = matches!(
            DatabaseUrl::parse(&settings.database_url),
            Ok(DatabaseUrl::Postgres(_))
        );
        AddressLimits {
            login: Rule {
                kind: "login",
                what: "login attempts",
                per_second: settings.login_per_second,
                burst: settings.login_burst,
            },
            register: Rule {
                kind: "register",
                what: "registrations",
                per_second: settings.register_per_second,
                burst: settings.register_burst,
            },
            store: if shared {
                Store::Shared(pool.clone())
            } else {
                Store::Local(LocalBuckets::default())
            },
            draws: AtomicU64::new(0),
        }
    }

    /// Takes a token from the address's login bucket, or 429.
    pub async fn check_login(&self, client: ClientAddr) -> AppResult<()> {
        self.draw(self.login, client).await
    }

    /// Takes a token from the address's registration bucket, or 429.
    pub async fn check_register(&self, client: ClientAddr) -> AppResult<()> {
        self.draw(self.register, client).await
    }

    /// Before looking a guessable secret up: 429 while the address's login
    /// bucket is empty; takes nothing.
    pub async fn refuse_spent_guesser(&self, client: ClientAddr) -> AppResult<()> {
        let rule = self.login;
        let key = rule.key(client);
        let has_token = match &self.store {
            Store::Local(local) => local.has_token(&key, rule.refill()),
            Store::Shared(pool) => {
                db::run(pool, move |conn| {
                    Ok(address_bucket::has_token(conn, &key, rule.refill())?)
                })
                .await?
            }
        };
        if has_token {
            Ok(())
        } else {
            Err(rule.refused())
        }
    }

    /// After a guessable secret matched nothing: one token from the
    /// address's login bucket, if one is left. The guess is refused anyway,
    /// so a failure to record it only logs.
    pub async fn charge_guess(&self, client: ClientAddr) {
        if let Err(err) = self.draw(self.login, client).await {
            if !matches!(err, AppError::RateLimited { .. }) {
                log::warn!("could not charge a failed guess to its address: {err}");
            }
        }
    }

    async fn draw(&self, rule: Rule, client: ClientAddr) -> AppResult<()> {
        let sweep = self.draws.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1;
        let key = rule.key(client);
        let taken = match &self.store {
            Store::Local(local) => {
                if sweep {
                    local.sweep();
                }
                local.take(key, rule.refill())
            }
            Store::Shared(pool) => {
                db::run(pool, move |conn| {
                    if sweep {
                        address_bucket::sweep(conn)?;
                    }
                    Ok(address_bucket::take(conn, &key, rule.refill())?)
                })
                .await?
            }
        };
        if taken {
            Ok(())
        } else {
            Err(rule.refused())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: Rule = Rule {
        kind: "login",
        what: "login attempts",
        per_second: 0,
        burst: 3,
    };

    #[test]
    fn a_bucket_lets_its_burst_through_then_refuses_and_a_peek_takes_nothing() {
        let local = LocalBuckets::default();
        let key = || "login:192.0.2.1".to_string();
        for _ in 0..3 {
            assert!(local.has_token(&key(), RULE.refill()));
            assert!(local.take(key(), RULE.refill()));
        }
        assert!(!local.has_token(&key(), RULE.refill()));
        assert!(!local.take(key(), RULE.refill()));
        assert!(local.take("login:192.0.2.2".into(), RULE.refill()));
    }

    #[test]
    fn full_buckets_are_swept() {
        let local = LocalBuckets::default();
        let fast = Refill {
            burst: 1.0,
            per_second: 1e9,
        };
        assert!(local.take("a".into(), fast));
        std::thread::sleep(std::time::Duration::from_millis(1));
        assert!(local.take("b".into(), RULE.refill()));
        local.sweep();
        assert_eq!(
            local.len(),
            1,
            "the refilled bucket went, the spent one stayed"
        );
    }

    #[test]
    fn a_refusal_says_the_numbers_and_when_to_come_back() {
        let rule = Rule {
            per_second: 20,
            burst: 100,
            ..RULE
        };
        match rule.refused() {
            AppError::RateLimited {
                message,
                retry_after_secs,
            } => {
                assert!(message.contains("20 per second") && message.contains("100"));
                assert_eq!(retry_after_secs, 1);
            }
            other => panic!("{other:?}"),
        }
    }
}
