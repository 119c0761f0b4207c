//! The login throttle (docs/api.md; docs/architecture.md, "Limits, addresses and guesses"): failed logins per username, known or
//! not, kept in this process's memory. After 10 failures within 15 minutes
//! further attempts are refused (429) before any password check.
//!
//! An attempt is *reserved* before its password is checked and counts as a
//! failure until the login succeeds (which clears the name) or the attempt
//! is abandoned unchecked (which releases it). So parallel guesses cannot
//! outrun the count: of 40 at once, 10 reach the password check.
//!
//! Bounded: names are keyed by a 16-byte SHA-256 prefix, never the raw
//! string (and only well-formed usernames, at most 32 characters, get here);
//! each keeps at most 10 instants; the map keeps at most 100,000 names. When
//! full it first forgets names with no failure in the window, then the
//! least recently failed names that are not locked out; a locked-out name is
//! never forgotten. If every name is locked out, a new name is refused with
//! 429 rather than left untracked. Stale names are also swept every 4,096
//! attempts, so the map shrinks as the window passes.
//!
//! This is the store of one process, used on SQLite (one instance per
//! file); on PostgreSQL every instance shares one count through the
//! database instead (`crate::lockout`).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub const MAX_FAILURES: usize = 10;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Most usernames the throttle keeps.
pub const MAX_NAMES: usize = 100_000;
/// Attempts between sweeps of names whose failures all left the window.
const SWEEP_EVERY: u64 = 4096;

type Key = [u8; 16];

/// What a username is counted by: a 16-byte SHA-256 prefix, never the name.
pub fn key(username: &str) -> Key {
    let digest = Sha256::digest(username.as_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

#[derive(Default)]
struct Names {
    failures: HashMap<Key, VecDeque<Instant>>,
    attempts: u64,
}

/// Drops the instants that left the window.
fn expire(times: &mut VecDeque<Instant>, now: Instant) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= FAILURE_WINDOW)
    {
        times.pop_front();
    }
}

fn locked(times: &VecDeque<Instant>) -> bool {
    times.len() >= MAX_FAILURES
}

/// Seconds until the oldest failure leaves the window (at least 1).
fn wait(times: &VecDeque<Instant>, now: Instant) -> u64 {
    let oldest = times.front().copied().unwrap_or(now);
    FAILURE_WINDOW
        .saturating_sub(now.duration_since(oldest))
        .as_secs()
        .max(1)
}

impl Names {
    fn sweep(&mut self, now: Instant) {
        self.failures.retain(|_, times| {
            expire(times, now);
            !times.is_empty()
        });
    }

    /// Makes room for one more name under `capacity`; `false` when every
    /// name kept is locked out.
    fn make_room(&mut self, now: Instant, capacity: usize) -> bool {
        self.sweep(now);
        if self.failures.len() < capacity {
            return true;
        }
        // Forget the least recently failed tenth of the names that are not
        // locked out, so the next few hundred new names need no sort.
        let mut forgettable: Vec<(Instant, Key)> = self
            .failures
            .iter()
            .filter(|(_, times)| !locked(times))
            .filter_map(|(k, times)| times.back().map(|t| (*t, *k)))
            .collect();
        if forgettable.is_empty() {
            return false;
        }
        forgettable.sort_unstable();
        let count = (capacity / 10).clamp(1, forgettable.len());
        for (_, k) in &forgettable[..count] {
            self.failures.remove(k);
        }
        true
    }
}

/// Failed logins per username, in memory.
pub struct LoginThrottle {
    names: Mutex<Names>,
    capacity: usize,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::with_capacity(MAX_NAMES)
    }
}

impl LoginThrottle {
    pub fn with_capacity(capacity: usize) -> Self {
        LoginThrottle {
            names: Mutex::new(Names::default()),
            capacity: capacity.max(1),
        }
    }

    /// Reserves one attempt for `username`, counted as a failure until
    /// [`clear`](Self::clear) or [`release`](Self::release).
    /// `Err(seconds until a slot frees)` while the name is locked out (or
    /// the throttle is full of locked-out names).
    pub fn reserve(&self, username: &str) -> Result<(), u64> {
        let now = Instant::now();
        let key = key(username);
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        names.attempts += 1;
        if names.attempts.is_multiple_of(SWEEP_EVERY) {
            names.sweep(now);
        }
        if let Some(times) = names.failures.get_mut(&key) {
            expire(times, now);
            if locked(times) {
                return Err(wait(times, now));
            }
            times.push_back(now);
            return Ok(());
        }
        if names.failures.len() >= self.capacity && !names.make_room(now, self.capacity) {
            return Err(FAILURE_WINDOW.as_secs());
        }
        names.failures.insert(key, VecDeque::from([now]));
        Ok(())
    }

    /// Gives back the newest reservation of an attempt whose password was
    /// never checked (no hashing slot, a database error).
    pub fn release(&self, username: &str) {
        let key = key(username);
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(times) = names.failures.get_mut(&key) {
            times.pop_back();
            if times.is_empty() {
                names.failures.remove(&key);
            }
        }
    }

    /// A successful login forgets the name's failures.
    pub fn clear(&self, username: &str) {
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        names.failures.remove(&key(username));
    }

    /// How many names are kept (for tests and metrics).
    pub fn len(&self) -> usize {
        self.names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .failures
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_reservations_lock_a_name_and_a_success_clears_it() {
        let throttle = LoginThrottle::default();
        for _ in 0..MAX_FAILURES {
            assert!(throttle.reserve("bob").is_ok());
        }
        let wait = throttle.reserve("bob").unwrap_err();
        assert!(wait > 0 && wait <= FAILURE_WINDOW.as_secs());
        assert!(throttle.reserve("alice").is_ok());
        throttle.clear("bob");
        assert!(throttle.reserve("bob").is_ok());
    }

    #[test]
    fn a_released_reservation_does_not_count() {
        let throttle = LoginThrottle::default();
        for _ in 0..MAX_FAILURES {
            throttle.reserve("carol").unwrap();
            throttle.release("carol");
        }
        assert!(throttle.reserve("carol").is_ok());
        throttle.release("carol");
        assert!(throttle.is_empty());
    }

    #[test]
    fn a_full_throttle_forgets_the_least_recent_unlocked_names_never_a_locked_one() {
        let throttle = LoginThrottle::with_capacity(20);
        for _ in 0..MAX_FAILURES {
            throttle.reserve("locked").unwrap();
        }
        for i in 0..19 {
            throttle.reserve(&format!("name{i}")).unwrap();
        }
        assert_eq!(throttle.len(), 20);
        // Full: the next new name pushes out the oldest unlocked one (a
        // tenth of the capacity, here 2), never "locked".
        throttle.reserve("newcomer").unwrap();
        assert!(throttle.len() <= 20);
        assert!(throttle.reserve("locked").is_err(), "still locked out");
        let names = throttle.names.lock().unwrap();
        assert!(!names.failures.contains_key(&key("name0")));
        assert!(names.failures.contains_key(&key("name18")));
        assert!(names.failures.contains_key(&key("newcomer")));
    }

    #[test]
    fn a_throttle_full_of_locked_names_refuses_new_ones() {
        let throttle = LoginThrottle::with_capacity(3);
        for name in ["a", "b", "c"] {
            for _ in 0..MAX_FAILURES {
                throttle.reserve(name).unwrap();
            }
        }
        assert!(throttle.reserve("d").is_err());
        assert_eq!(throttle.len(), 3);
    }

    #[test]
    fn keys_do_not_hold_the_name() {
        // A 1 MiB name costs the map 16 bytes of key.
        let long = "x".repeat(1 << 20);
        assert_eq!(key(&long).len(), 16);
        assert_ne!(key("a"), key("b"));
    }
}
