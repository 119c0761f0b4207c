//! The login throttle: failed logins per username (known or not), counted in
//! this process's memory. After 10 failures within 15 minutes further
//! attempts are refused before any password check.
//!
//! Several instances behind one database each keep their own count, so the
//! effective limit there is 10 per instance; the data model has no table for
//! it, on purpose (failed attempts for unknown names would need storing).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const MAX_FAILURES: usize = 10;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Failed logins per username, in memory.
#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginThrottle {
    /// `Err(seconds until a slot frees)` while the name is locked out.
    pub fn check(&self, username: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let Some(times) = map.get_mut(username) else {
            return Ok(());
        };
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= FAILURE_WINDOW)
        {
            times.pop_front();
        }
        if times.len() < MAX_FAILURES {
            return Ok(());
        }
        let oldest = times.front().copied().unwrap_or(now);
        let wait = FAILURE_WINDOW.saturating_sub(now.duration_since(oldest));
        Err(wait.as_secs().max(1))
    }

    pub fn record_failure(&self, username: &str) {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        // Keep the map from growing without bound under a spray of names.
        if map.len() > 10_000 {
            map.retain(|_, t| {
                t.back()
                    .is_some_and(|t| now.duration_since(*t) < FAILURE_WINDOW)
            });
        }
        let times = map.entry(username.to_string()).or_default();
        times.push_back(now);
        while times.len() > MAX_FAILURES {
            times.pop_front();
        }
    }

    pub fn clear(&self, username: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(username);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_locks_after_ten_failures() {
        let throttle = LoginThrottle::default();
        for _ in 0..MAX_FAILURES {
            assert!(throttle.check("bob").is_ok());
            throttle.record_failure("bob");
        }
        let wait = throttle.check("bob").unwrap_err();
        assert!(wait > 0 && wait <= FAILURE_WINDOW.as_secs());
        assert!(throttle.check("alice").is_ok());
        throttle.clear("bob");
        assert!(throttle.check("bob").is_ok());
    }
}
