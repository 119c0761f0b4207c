//! Passwords: argon2id hashes, checked away from the database and the
//! async workers, at most as many at once as the machine has cores.
//!
//! One hash takes about 19 MiB and 60 ms. Inside `db::run` it would hold a
//! pooled connection for that long, so a login flood starved every other
//! request of the pool; unbounded, it raised memory by hundreds of MiB.
//! Here a request first waits for a hashing slot (a semaphore of
//! `available_parallelism` permits), for at most `hash_wait` (5 s, SPEC
//! §10.8; then 429), and hashes on the blocking pool with no connection.

use std::sync::LazyLock;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::rngs::OsRng;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::{AppError, AppResult};

pub fn hash_password(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("password hashing: {e}")))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Checked against when the username is unknown, so that answer takes as
/// long as a wrong password does.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password("not-a-real-password").unwrap_or_default());

/// The bounded hashing of one process.
pub struct PasswordHashing {
    slots: Semaphore,
    size: u32,
    wait: Duration,
}

impl PasswordHashing {
    /// One slot per core; a request waits at most `wait` for one.
    pub fn new(wait: Duration) -> Self {
        let size = std::thread::available_parallelism().map_or(2, |n| n.get()) as u32;
        PasswordHashing {
            slots: Semaphore::new(size as usize),
            size,
            wait,
        }
    }

    async fn slot(&self) -> AppResult<SemaphorePermit<'_>> {
        match tokio::time::timeout(self.wait, self.slots.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(AppError::RateLimited {
                message: format!(
                    "the server is busy checking passwords (at most {} at once, none free for {} s); try again",
                    self.size,
                    self.wait.as_secs_f64()
                ),
                retry_after_secs: self.wait.as_secs().max(1),
            }),
        }
    }

    /// A new argon2id hash of `password`.
    pub async fn hash(&self, password: String) -> AppResult<String> {
        let _slot = self.slot().await?;
        actix_web::web::block(move || hash_password(&password)).await?
    }

    /// Whether `password` matches `hash`; with no hash (an unknown user),
    /// a check against a dummy hash that takes as long and fails.
    pub async fn verify(&self, password: String, hash: Option<String>) -> AppResult<bool> {
        let _slot = self.slot().await?;
        let matched = actix_web::web::block(move || match hash {
            Some(hash) => verify_password(&password, &hash),
            None => {
                verify_password(&password, &DUMMY_HASH);
                false
            }
        })
        .await?;
        Ok(matched)
    }

    /// Takes every slot until the permit is dropped: for tests that prove
    /// what waits for a slot and what does not.
    pub async fn hold_every_slot(&self) -> SemaphorePermit<'_> {
        self.slots
            .acquire_many(self.size)
            .await
            .expect("the semaphore is never closed")
    }
}
