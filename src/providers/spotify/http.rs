//! Every call to Spotify goes through [`Http::send`], which holds the
//! service to being a good API citizen: each call times out after 10 s; a
//! 5xx or a broken connection is retried twice with backoff, but only for
//! a request that may safely be sent twice ([`Repeat::Safe`]: reads, the
//! replace of a whole order, token requests); an append of items
//! ([`Repeat::Once`]) may have taken effect before its answer was lost,
//! so its caller is told the answer was lost ([`CallError::Lost`]) and
//! reads the playlist before it sends again (`api::Api::replace_items`).
//! Tokens travel only in headers and bodies, and no error message carries
//! a URL.
//!
//! Two limits hold for the whole process, whoever calls (a request on the
//! Spotify pool, a scheduled run on the executor's thread):
//!
//! - at most `SPOTIFY_MAX_CONCURRENT_CALLS` calls are in flight at once
//!   ([`CallSlots`]): a slot is taken just before a request is sent and
//!   given back once its answer has been read whole, never across a wait;
//! - Spotify's rate limit is per app, so a 429 pauses every call of the
//!   app ([`Pause`]): until its `Retry-After` has passed, a call waits
//!   (once, when the rest of the pause is at most 5 s) or answers 503 with
//!   the rest of it. The pause is shared with other instances through a
//!   [`PauseStore`] (the database on PostgreSQL), written only when a 429
//!   arrives and read at most about once a second.
//!
//! The blocking `reqwest` client is built on first use, because a blocking
//! client may not be built on an async worker.

use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;

/// How long one call to Spotify may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wait (a `Retry-After`, or the rest of the app-wide pause)
/// a request waits out itself, once.
pub const MAX_RETRY_AFTER_WAIT_SECS: u64 = 5;
/// Backoff before each retry of a 5xx or a failed connection.
pub const BACKOFF: [Duration; 2] = [Duration::from_millis(200), Duration::from_millis(600)];
/// `Retry-After` we pass on when Spotify is down and named no wait.
const DEFAULT_RETRY_AFTER_SECS: u64 = 30;
/// A pause this close to its end is over (wall clock against sleep).
const PAUSE_SLACK: Duration = Duration::from_millis(20);

/// Why a call to Spotify did not give a usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// 401: the access token is expired or revoked.
    #[error("Spotify refused the access token")]
    Unauthorized,
    /// 403: the account may not do this (e.g. write another's playlist).
    #[error("Spotify refused the request: {0}")]
    Forbidden(String),
    /// 404.
    #[error("Spotify has no such resource")]
    NotFound,
    /// 429 over the wait we take, or 503 after the retries.
    #[error("Spotify asks us to wait {retry_after_secs} s")]
    Unavailable { retry_after_secs: u64 },
    /// A playlist over the items the service links or reads.
    #[error("the playlist has {total} items; at most {max} can be linked")]
    TooLarge { total: u64, max: usize },
    /// A [`Repeat::Once`] request whose answer was lost (a 5xx, a broken
    /// connection, a timeout): it may or may not have been carried out.
    #[error("{0}")]
    Lost(String),
    /// A 5xx after the retries, a timeout, a broken connection, another
    /// 4xx or an answer we cannot read.
    #[error("{0}")]
    Failed(String),
}

/// A call's 404 read as "there is no such thing" (`Ok(None)`), as diesel's
/// `.optional()` reads a missing row.
pub trait Found<T> {
    fn found(self) -> Result<Option<T>, CallError>;
}

impl<T> Found<T> for Result<T, CallError> {
    fn found(self) -> Result<Option<T>, CallError> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(CallError::NotFound) => Ok(None),
            Err(err) => Err(err),
        }
    }
}

/// Whether a request may be sent again after a 5xx or a broken
/// connection (a 429 is always waited out once: it was not carried out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Reads, a replace of the whole order, token requests (a second one
    /// refused because the first was carried out is told apart by
    /// [`Answer::retried`]): retried twice.
    Safe,
    /// Appends: sent once; a lost answer is the caller's to judge.
    Once,
}

/// An answer read whole (while its call held its slot).
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// Whether this answer is to a request sent again after a 5xx or a
    /// broken connection: the first may have been carried out.
    pub retried: bool,
}

impl Answer {
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, CallError> {
        serde_json::from_slice(&self.body)
            .map_err(|_| CallError::Failed("Spotify's answer could not be read".into()))
    }
}

/// Where the app-wide pause is shared between instances.
pub trait PauseStore: Send + Sync {
    /// The stored end of the pause, if any (it may be past).
    fn load(&self) -> Result<Option<NaiveDateTime>, String>;
    /// Stores `until`, unless a later end is stored already.
    fn save(&self, until: NaiveDateTime) -> Result<(), String>;
}

/// The app-wide pause after a 429, kept in process and, with a store,
/// shared: the stored value is trusted for `refresh` before it is read
/// again.
pub struct Pause {
    store: Option<Box<dyn PauseStore>>,
    refresh: Duration,
    known: Mutex<Known>,
}

#[derive(Default)]
struct Known {
    until: Option<NaiveDateTime>,
    read_at: Option<Instant>,
}

fn wall_now() -> NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

impl Pause {
    pub fn new(store: Option<Box<dyn PauseStore>>, refresh: Duration) -> Self {
        Pause {
            store,
            refresh,
            known: Mutex::new(Known::default()),
        }
    }

    fn known(&self) -> MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long calls must still wait, if they must.
    pub fn remaining(&self) -> Option<Duration> {
        if let Some(store) = &self.store {
            let stale = self
                .known()
                .read_at
                .is_none_or(|at| at.elapsed() >= self.refresh);
            if stale {
                // Read with no lock held: two threads may both read, which
                // costs one query; none waits on another's.
                let loaded = store.load();
                let mut known = self.known();
                known.read_at = Some(Instant::now());
                match loaded {
                    Ok(found) => known.until = known.until.max(found),
                    Err(err) => log::warn!("spotify: cannot read the shared pause: {err}"),
                }
            }
        }
        let until = self.known().until?;
        let left = (until - wall_now()).to_std().ok()?;
        (left > PAUSE_SLACK).then_some(left)
    }

    /// Pauses every call for `after` from now (a later pause stands).
    pub fn extend(&self, after: Duration) {
        let until = wall_now() + chrono::Duration::from_std(after).unwrap_or_default();
        {
            let mut known = self.known();
            known.until = known.until.max(Some(until));
        }
        if let Some(store) = &self.store {
            if let Err(err) = store.save(until) {
                log::warn!("spotify: cannot share the pause: {err}");
            }
        }
    }
}

/// Calls in flight, at most `max` at once. Hand-written because std has
/// no semaphore and tokio's cannot be waited on from a plain thread
/// without a runtime; a count under a mutex and a condition variable is
/// all a blocking caller needs.
pub struct CallSlots {
    max: usize,
    busy: Mutex<usize>,
    freed: Condvar,
}

/// One call's slot; dropping it gives the slot back.
pub struct CallSlot<'a>(&'a CallSlots);

impl CallSlots {
    pub fn new(max: usize) -> Self {
        CallSlots {
            max: max.max(1),
            busy: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    fn busy(&self) -> MutexGuard<'_, usize> {
        self.busy.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a free slot.
    pub fn take(&self) -> CallSlot<'_> {
        let mut busy = self.busy();
        while *busy >= self.max {
            busy = self.freed.wait(busy).unwrap_or_else(|p| p.into_inner());
        }
        *busy += 1;
        CallSlot(self)
    }

    /// Calls in flight now.
    pub fn in_flight(&self) -> usize {
        *self.busy()
    }
}

impl Drop for CallSlot<'_> {
    fn drop(&mut self) {
        *self.0.busy() -= 1;
        self.0.freed.notify_one();
    }
}

pub struct Http {
    client: OnceLock<Client>,
    pub slots: CallSlots,
    pub pause: Pause,
}

impl Default for Http {
    fn default() -> Self {
        Http::new(16, Pause::new(None, Duration::ZERO))
    }
}

impl Http {
    pub fn new(max_calls: usize, pause: Pause) -> Self {
        Http {
            client: OnceLock::new(),
            slots: CallSlots::new(max_calls),
            pause,
        }
    }

    fn client(&self) -> &Client {
        self.client.get_or_init(|| {
            Client::builder()
                .timeout(CALL_TIMEOUT)
                .connect_timeout(CALL_TIMEOUT)
                // The OAuth token endpoint must not be followed elsewhere
                // (oauth2's advice), nor may a bearer token be.
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("shuffify/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("the HTTP client builds (TLS roots are bundled)")
        })
    }

    /// One request, in its slot, its answer read whole.
    fn once(&self, make: &impl Fn(&Client) -> RequestBuilder) -> Result<Answer, reqwest::Error> {
        let _slot = self.slots.take();
        let response = make(self.client()).send()?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes()?.to_vec();
        Ok(Answer {
            status,
            headers,
            body,
            retried: false,
        })
    }

    /// Sends the request `make` builds (again for each retry) under the
    /// policy above; answers any other status as it came, so the caller
    /// reads 2xx and judges 4xx.
    pub fn send(
        &self,
        repeat: Repeat,
        make: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Answer, CallError> {
        let mut waited = false;
        let mut retries = 0;
        // Only for a request that may be sent again: one sent once has
        // already answered `Lost` where this would be asked.
        let backoff = |retries: &mut usize| -> bool {
            match BACKOFF.get(*retries) {
                Some(pause) => {
                    std::thread::sleep(*pause);
                    *retries += 1;
                    true
                }
                None => false,
            }
        };
        loop {
            if let Some(left) = self.pause.remaining() {
                let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                if waited || secs > MAX_RETRY_AFTER_WAIT_SECS {
                    return Err(CallError::Unavailable {
                        retry_after_secs: secs.max(1),
                    });
                }
                waited = true;
                std::thread::sleep(left);
                continue;
            }
            let mut answer = match self.once(&make) {
                Ok(answer) => answer,
                Err(err) if repeat == Repeat::Once => {
                    return Err(CallError::Lost(format!(
                        "Spotify's answer was lost: {}",
                        err.without_url()
                    )))
                }
                Err(err) if err.is_timeout() => {
                    return Err(CallError::Failed(format!(
                        "Spotify did not answer within {} s",
                        CALL_TIMEOUT.as_secs()
                    )))
                }
                Err(err) => {
                    if backoff(&mut retries) {
                        continue;
                    }
                    return Err(CallError::Failed(format!(
                        "cannot reach Spotify: {}",
                        err.without_url()
                    )));
                }
            };
            answer.retried = retries > 0;
            let status = answer.status;
            if status == StatusCode::TOO_MANY_REQUESTS {
                // Not carried out; the whole app waits (the loop's top
                // waits, once, or answers 503 with the rest).
                let after = retry_after(&answer.headers).unwrap_or(1).max(1);
                self.pause.extend(Duration::from_secs(after));
                if waited {
                    return Err(CallError::Unavailable {
                        retry_after_secs: after,
                    });
                }
                continue;
            }
            if status.is_server_error() {
                if repeat == Repeat::Once {
                    return Err(CallError::Lost(format!(
                        "Spotify answered {}",
                        status.as_u16()
                    )));
                }
                if backoff(&mut retries) {
                    continue;
                }
                if status == StatusCode::SERVICE_UNAVAILABLE {
                    return Err(CallError::Unavailable {
                        retry_after_secs: retry_after(&answer.headers)
                            .unwrap_or(DEFAULT_RETRY_AFTER_SECS)
                            .max(1),
                    });
                }
                return Err(CallError::Failed(format!(
                    "Spotify answered {} after {} retries",
                    status.as_u16(),
                    BACKOFF.len()
                )));
            }
            return Ok(answer);
        }
    }

    /// [`Self::send`], with 4xx judged: 401, 403 and 404 by name, any
    /// other as a failure quoting Spotify's message.
    pub fn send_ok(
        &self,
        repeat: Repeat,
        make: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Answer, CallError> {
        let answer = self.send(repeat, make)?;
        let status = answer.status;
        if status.is_success() {
            return Ok(answer);
        }
        let message = error_message(&answer);
        Err(match status {
            StatusCode::UNAUTHORIZED => CallError::Unauthorized,
            StatusCode::FORBIDDEN => CallError::Forbidden(message),
            StatusCode::NOT_FOUND => CallError::NotFound,
            other => CallError::Failed(format!(
                "Spotify refused the request ({}): {message}",
                other.as_u16()
            )),
        })
    }
}

/// `Retry-After` in seconds (Spotify sends seconds, not dates).
fn retry_after(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Spotify's `{"error": {"status", "message"}}`, cut short; never the body
/// of anything else.
fn error_message(answer: &Answer) -> String {
    #[derive(serde::Deserialize)]
    struct Body {
        error: Inner,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        message: String,
    }
    serde_json::from_slice::<Body>(&answer.body)
        .map(|b| b.error.message.chars().take(200).collect())
        .unwrap_or_else(|_| "no message".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_is_shared_by_every_caller_and_a_later_one_stands() {
        let pause = Pause::new(None, Duration::ZERO);
        assert_eq!(pause.remaining(), None);
        pause.extend(Duration::from_secs(30));
        pause.extend(Duration::from_secs(2));
        let left = pause.remaining().expect("paused");
        assert!(left > Duration::from_secs(20), "{left:?}");
    }

    #[test]
    fn call_slots_count_what_is_in_flight() {
        let slots = CallSlots::new(2);
        let a = slots.take();
        let _b = slots.take();
        assert_eq!(slots.in_flight(), 2);
        drop(a);
        assert_eq!(slots.in_flight(), 1);
    }
}
