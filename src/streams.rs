//! Caps on long-lived responses: how many a user, a client address (for
//! the live stream) and the whole instance may hold open at once.
//!
//! A response that streams (an export today, the live activity stream
//! next) takes a [`StreamGuard`] from its [`StreamLimiter`] before it
//! answers, and whatever produces its body holds the guard; the slot frees
//! when the guard drops, so completion, a client that went away, a send
//! timeout, an error and a panic all release it alike.
//!
//! Hand-written rather than a semaphore crate: the counters under one
//! mutex decide every cap atomically, and the per-user and per-address
//! maps forget a key as soon as its count falls to zero, so each holds at
//! most as many entries as there are open streams.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::AppError;

/// Concurrent slots for one kind of stream, per user and per instance.
#[derive(Clone)]
pub struct StreamLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    /// What a slot is, plural, for messages ("concurrent exports").
    what: &'static str,
    per_user: usize,
    /// Slots one client address may hold, all users together
    /// (`usize::MAX`: no such cap).
    per_address: usize,
    per_instance: usize,
    /// How long a refused client is told to wait.
    retry_after_secs: u64,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    by_user: HashMap<i64, usize>,
    /// Keyed by `ClientAddr::limit_key`.
    by_address: HashMap<String, usize>,
}

impl Inner {
    /// The counts stay consistent even if a holder panicked mid-update
    /// (every update is a single increment or decrement).
    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl StreamLimiter {
    pub fn new(
        what: &'static str,
        per_user: usize,
        per_instance: usize,
        retry_after_secs: u64,
    ) -> Self {
        Self::with_address_cap(what, per_user, usize::MAX, per_instance, retry_after_secs)
    }

    /// A limiter that also caps the slots of one client address.
    pub fn with_address_cap(
        what: &'static str,
        per_user: usize,
        per_address: usize,
        per_instance: usize,
        retry_after_secs: u64,
    ) -> Self {
        StreamLimiter {
            inner: Arc::new(Inner {
                what,
                per_user,
                per_address,
                per_instance,
                retry_after_secs,
                counts: Mutex::new(Counts::default()),
            }),
        }
    }

    /// A slot for `user_id`, or 429 `rate_limited` naming the cap that is full.
    pub fn try_acquire(&self, user_id: i64) -> Result<StreamGuard, AppError> {
        self.try_acquire_from(user_id, None)
    }

    /// A slot for `user_id` asking from `address` (a limit key), or 429
    /// `rate_limited` naming the cap that is full.
    pub fn try_acquire_from(
        &self,
        user_id: i64,
        address: Option<String>,
    ) -> Result<StreamGuard, AppError> {
        let inner = &self.inner;
        let mut counts = inner.counts();
        let mine = counts.by_user.get(&user_id).copied().unwrap_or(0);
        let from_address = address
            .as_ref()
            .and_then(|a| counts.by_address.get(a))
            .copied()
            .unwrap_or(0);
        let message = if mine >= inner.per_user {
            Some(format!(
                "at most {} {} per user are allowed; wait for one to finish",
                inner.per_user, inner.what
            ))
        } else if address.is_some() && from_address >= inner.per_address {
            Some(format!(
                "at most {} {} per client address are allowed; close one first",
                inner.per_address, inner.what
            ))
        } else if counts.total >= inner.per_instance {
            Some(format!(
                "at most {} {} per instance are allowed and the server is at that cap; try again later",
                inner.per_instance, inner.what
            ))
        } else {
            None
        };
        if let Some(message) = message {
            return Err(AppError::RateLimited {
                message,
                retry_after_secs: inner.retry_after_secs,
            });
        }
        counts.total += 1;
        *counts.by_user.entry(user_id).or_insert(0) += 1;
        if let Some(address) = &address {
            *counts.by_address.entry(address.clone()).or_insert(0) += 1;
        }
        Ok(StreamGuard {
            inner: Arc::clone(&self.inner),
            user_id,
            address,
        })
    }

    /// Slots `user_id` holds now.
    pub fn active(&self, user_id: i64) -> usize {
        self.inner
            .counts()
            .by_user
            .get(&user_id)
            .copied()
            .unwrap_or(0)
    }

    /// Slots held now, all users together.
    pub fn active_total(&self) -> usize {
        self.inner.counts().total
    }
}

/// One open slot; dropping it frees the slot.
pub struct StreamGuard {
    inner: Arc<Inner>,
    user_id: i64,
    address: Option<String>,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut counts = self.inner.counts();
        counts.total = counts.total.saturating_sub(1);
        release(&mut counts.by_user, &self.user_id);
        if let Some(address) = &self.address {
            release(&mut counts.by_address, address);
        }
    }
}

/// One fewer held under `key`; a count that reaches 0 is removed.
fn release<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = counts.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            counts.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_user_and_per_instance_and_frees_on_drop() {
        let limiter = StreamLimiter::new("concurrent exports", 2, 3, 10);
        let a1 = limiter.try_acquire(1).unwrap();
        let _a2 = limiter.try_acquire(1).unwrap();
        let refused = limiter.try_acquire(1).err().unwrap();
        assert!(refused
            .to_string()
            .contains("at most 2 concurrent exports per user"));
        let _b1 = limiter.try_acquire(2).unwrap();
        let refused = limiter.try_acquire(3).err().unwrap();
        assert!(refused
            .to_string()
            .contains("at most 3 concurrent exports per instance"));
        drop(a1);
        assert_eq!(limiter.active(1), 1);
        let _c1 = limiter.try_acquire(3).unwrap();
        assert_eq!(limiter.active_total(), 3);
    }

    #[test]
    fn one_address_is_capped_across_users() {
        let limiter = StreamLimiter::with_address_cap("open activity streams", 5, 2, 100, 10);
        let here = || Some("192.0.2.1".to_string());
        let a = limiter.try_acquire_from(1, here()).unwrap();
        let _b = limiter.try_acquire_from(2, here()).unwrap();
        let refused = limiter.try_acquire_from(3, here()).err().unwrap();
        assert!(refused
            .to_string()
            .contains("at most 2 open activity streams per client address"));
        let _elsewhere = limiter
            .try_acquire_from(3, Some("192.0.2.2".into()))
            .unwrap();
        drop(a);
        let _c = limiter.try_acquire_from(3, here()).unwrap();
        assert_eq!(limiter.inner.counts().by_address.len(), 2);
    }

    #[test]
    fn a_user_with_no_slots_leaves_no_entry() {
        let limiter = StreamLimiter::new("concurrent exports", 2, 3, 10);
        drop(limiter.try_acquire(7).unwrap());
        assert_eq!(limiter.active(7), 0);
        assert!(limiter.inner.counts().by_user.is_empty());
    }
}
