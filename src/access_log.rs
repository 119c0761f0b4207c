//! The access log: one line per response, written when its body has been
//! sent (or dropped), so a streamed export's line counts its bytes and
//! time.
//!
//! In text it is the line it has always been:
//! `CLIENT "METHOD TARGET HTTP/1.1" STATUS BYTES MILLISms request_id=ID`,
//! the query string left out for the routes that carry a credential in it
//! (`crate::access_log_request_line`). In JSON (`crate::logging`) the
//! message is `METHOD PATH STATUS` and the fields travel as key-values:
//! `request_id`, `method`, `path` (percent-decoded, never a query string),
//! `status`, `duration_ms`, `client_ip` (as the limits see it: behind a
//! trusted proxy, the address it forwarded) and `bytes`.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::Error;

use crate::client_addr::ClientAddr;
use crate::logging::{self, LogFormat};

/// The target of the access log's lines: actix's `Logger` wrote them
/// before, and a `RUST_LOG` written for it keeps working.
pub const TARGET: &str = "actix_web::middleware::logger";

/// The middleware (`middleware::from_fn(access_log::log)`).
pub async fn log(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<Logged>, Error> {
    // With the line filtered out (`RUST_LOG=warn`), nothing of it is
    // gathered: the request line, the decoded path and the address are
    // three allocations a request.
    if !log::log_enabled!(target: TARGET, log::Level::Info) {
        let res = next.call(req).await?;
        return Ok(res.map_body(|_, body| Logged {
            body: body.boxed(),
            size: 0,
            entry: None,
        }));
    }
    let entry = Entry {
        started: Instant::now(),
        request_line: crate::access_log_request_line(&req),
        method: req.method().to_string(),
        path: percent_encoding::percent_decode_str(req.path())
            .decode_utf8_lossy()
            .into_owned(),
        client_ip: ClientAddr::of_service_request(&req).to_text(),
        status: 0,
        request_id: None,
    };
    let res = next.call(req).await?;
    let entry = Entry {
        status: res.status().as_u16(),
        request_id: res
            .headers()
            .get(crate::request_id::HEADER)
            .and_then(|id| id.to_str().ok())
            .map(String::from),
        ..entry
    };
    Ok(res.map_body(move |_, body| Logged {
        body: body.boxed(),
        size: 0,
        entry: Some(entry),
    }))
}

/// What a line says about its request, gathered before the body is sent.
struct Entry {
    started: Instant,
    request_line: String,
    method: String,
    path: String,
    client_ip: Option<String>,
    status: u16,
    request_id: Option<String>,
}

impl Entry {
    fn write(&self, bytes: usize) {
        let duration_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let request_id = self.request_id.as_deref().unwrap_or("-");
        match logging::format() {
            LogFormat::Text => log::info!(
                target: TARGET,
                "{} \"{}\" {} {bytes} {duration_ms:.6}ms request_id={request_id}",
                self.client_ip.as_deref().unwrap_or("-"),
                self.request_line,
                self.status,
            ),
            LogFormat::Json => log::info!(
                target: TARGET,
                request_id = self.request_id.as_deref(),
                method = self.method.as_str(),
                path = self.path.as_str(),
                status = self.status,
                duration_ms = (duration_ms * 1000.0).round() / 1000.0,
                client_ip = self.client_ip.as_deref(),
                bytes = bytes;
                "{} {} {}", self.method, self.path, self.status
            ),
        }
    }
}

/// A response body that counts what it sends and writes the access log's
/// line when dropped (sent in full, or its client gone).
pub struct Logged {
    body: BoxBody,
    size: usize,
    /// `None` when the access log is filtered out.
    entry: Option<Entry>,
}

impl MessageBody for Logged {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            this.size += chunk.len();
        }
        polled
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        if let Some(entry) = &self.entry {
            entry.write(self.size);
        }
    }
}
