//! One signed POST to a webhook and what came of it. The client follows no
//! redirect (a 3xx is a failure: following it would reach an address
//! nobody checked), uses no proxy from the environment, and connects only
//! to addresses its [`CheckedResolver`] allowed; an IP literal is checked
//! here, since no resolver sees it. Errors name what went wrong, never the
//! URL (it may carry a token in its query) nor the secret.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Client;

use super::address::{literal_ip, AddressRules, CheckedResolver};
use super::signature;

/// Longest error text kept for `last_error`.
const MAX_ERROR_CHARS: usize = 300;

/// What one attempt got: `status` when an answer came, `error` unless it
/// was a 2xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Option<u16>,
    pub error: Option<String>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    fn failed(error: impl Into<String>) -> Self {
        Outcome {
            status: None,
            error: Some(error.into()),
        }
    }
}

/// The HTTP clients of one process's deliveries (one for `https`, one
/// for loopback `http`), and the rules they follow.
pub struct Sender {
    rules: AddressRules,
    https: Client,
    http: Client,
    timeout: Duration,
}

impl Sender {
    pub fn new(rules: AddressRules, timeout: Duration) -> Result<Self, String> {
        let client = |plain_http: bool| {
            Client::builder()
                .dns_resolver(Arc::new(CheckedResolver {
                    rules: rules.clone(),
                    plain_http,
                }))
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .timeout(timeout)
                .connect_timeout(timeout)
                .user_agent(concat!("Shuffify-Webhooks/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| format!("cannot build the webhook client: {e}"))
        };
        Ok(Sender {
            https: client(false)?,
            http: client(true)?,
            rules,
            timeout,
        })
    }

    /// POSTs `body` to `url`, signed with `secret` at the current time.
    pub async fn post(&self, url: &str, secret: &str, event_id: &str, body: String) -> Outcome {
        // Checked again at every attempt: the allowed hosts or the rules
        // may have changed since the webhook was created.
        let url = match self.rules.parse(url) {
            Ok(url) => url,
            Err(reason) => return Outcome::failed(format!("url refused: {reason}")),
        };
        let plain_http = url.scheme() == "http";
        if let Some(ip) = literal_ip(&url) {
            if !self.rules.allows(plain_http, ip) {
                return Outcome::failed("url refused: the address is not allowed");
            }
        }
        let timestamp = chrono::Utc::now().timestamp();
        let client = if plain_http { &self.http } else { &self.https };
        let request = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Shuffify-Event-Id", event_id)
            .header(
                "Shuffify-Signature",
                signature::sign(secret, timestamp, body.as_bytes()),
            )
            .body(body);
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                Outcome {
                    status: Some(status.as_u16()),
                    error: (!status.is_success())
                        .then(|| format!("answered HTTP {}", status.as_u16())),
                }
            }
            Err(err) => Outcome::failed(describe(&err, self.timeout)),
        }
    }
}

/// The error and its causes, without the URL, cut to a bounded length.
fn describe(err: &reqwest::Error, timeout: Duration) -> String {
    if err.is_timeout() {
        return format!("no answer within {} s", timeout.as_secs_f64());
    }
    let mut text = if err.is_connect() {
        "could not connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    crate::validate::truncate_chars(&text, MAX_ERROR_CHARS).to_string()
}
