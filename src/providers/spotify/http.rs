//! Every call to Spotify goes through [`Http::send`], which holds the
//! service to being a good API citizen (SPEC §10.19): each call times out
//! after 10 s; a 429 is waited out once when its `Retry-After` is at most
//! 5 s, else it becomes a 503 for our client with the same `Retry-After`;
//! a 5xx or a broken connection is retried twice with backoff, but only for
//! a request that may safely be sent twice ([`Repeat::Safe`]): an append of
//! items, or a token request (a code is single-use, a refresh token may
//! rotate), may have taken effect before its answer was lost, so a second
//! send could duplicate items or spend a token. Tokens travel only in
//! headers and bodies, and no error message carries a URL.
//!
//! The blocking `reqwest` client runs on the blocking threads that also run
//! diesel (no connection is held meanwhile); it is built on first use,
//! because a blocking client may not be built on an async worker.

use std::sync::OnceLock;
use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::StatusCode;

/// How long one call to Spotify may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest `Retry-After` a request waits out itself (once).
pub const MAX_RETRY_AFTER_WAIT_SECS: u64 = 5;
/// Backoff before each retry of a 5xx or a failed connection.
const BACKOFF: [Duration; 2] = [Duration::from_millis(200), Duration::from_millis(600)];
/// `Retry-After` we pass on when Spotify is down and named no wait.
const DEFAULT_RETRY_AFTER_SECS: u64 = 30;

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
    /// Reads, and a replace of the whole order: sending twice does no harm.
    Safe,
    /// Appends and token requests: once only.
    Once,
}

#[derive(Default)]
pub struct Http {
    client: OnceLock<Client>,
}

impl Http {
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

    /// Sends the request `make` builds (again for each retry) under the
    /// policy above; answers any other status as it came, so the caller
    /// reads 2xx and judges 4xx.
    pub fn send(
        &self,
        repeat: Repeat,
        make: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Response, CallError> {
        let mut waited = false;
        let mut retries = 0;
        loop {
            let retry = |retries: &mut usize| -> bool {
                if repeat == Repeat::Once {
                    return false;
                }
                match BACKOFF.get(*retries) {
                    Some(pause) => {
                        std::thread::sleep(*pause);
                        *retries += 1;
                        true
                    }
                    None => false,
                }
            };
            let response = match make(self.client()).send() {
                Ok(response) => response,
                Err(err) if err.is_timeout() => {
                    return Err(CallError::Failed(format!(
                        "Spotify did not answer within {} s",
                        CALL_TIMEOUT.as_secs()
                    )))
                }
                Err(err) => {
                    if retry(&mut retries) {
                        continue;
                    }
                    return Err(CallError::Failed(format!(
                        "cannot reach Spotify: {}",
                        err.without_url()
                    )));
                }
            };
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                let after = retry_after(&response).unwrap_or(1);
                if !waited && after <= MAX_RETRY_AFTER_WAIT_SECS {
                    waited = true;
                    std::thread::sleep(Duration::from_secs(after));
                    continue;
                }
                return Err(CallError::Unavailable {
                    retry_after_secs: after.max(1),
                });
            }
            if status.is_server_error() {
                if retry(&mut retries) {
                    continue;
                }
                if status == StatusCode::SERVICE_UNAVAILABLE {
                    return Err(CallError::Unavailable {
                        retry_after_secs: retry_after(&response)
                            .unwrap_or(DEFAULT_RETRY_AFTER_SECS)
                            .max(1),
                    });
                }
                return Err(CallError::Failed(format!(
                    "Spotify answered {}{}",
                    status.as_u16(),
                    match repeat {
                        Repeat::Safe => format!(" after {} retries", BACKOFF.len()),
                        Repeat::Once => String::new(),
                    }
                )));
            }
            return Ok(response);
        }
    }

    /// [`Self::send`], with 4xx judged: 401, 403 and 404 by name, any
    /// other as a failure quoting Spotify's message.
    pub fn send_ok(
        &self,
        repeat: Repeat,
        make: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Response, CallError> {
        let response = self.send(repeat, make)?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let message = error_message(response);
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
fn retry_after(response: &Response) -> Option<u64> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Spotify's `{"error": {"status", "message"}}`, cut short; never the body
/// of anything else.
fn error_message(response: Response) -> String {
    #[derive(serde::Deserialize)]
    struct Body {
        error: Inner,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        message: String,
    }
    response
        .json::<Body>()
        .map(|b| b.error.message.chars().take(200).collect())
        .unwrap_or_else(|_| "no message".to_string())
}
