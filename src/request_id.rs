//! `X-Request-Id`: every response carries one (the client's when it sent a
//! sane one, else a new random one), and the id is available to whatever runs
//! while the request is handled, so error bodies and log lines can name it.
//! The middleware opens the request's context (`request_context`) with it:
//! the id, the client's address and its `User-Agent`, which activity rows
//! record.

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{http::header, Error, HttpMessage};

use crate::client_addr::ClientAddr;
use crate::request_context::{self, RequestContext};

pub const HEADER: &str = "x-request-id";

/// The id of the request being handled on this task (or on a thread
/// working for it), if any.
pub fn current() -> Option<String> {
    request_context::current().map(|context| context.request_id.clone())
}

/// The id a request carries, stored in its extensions by the middleware.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A client id is kept when it is short, printable ASCII; anything else is
/// replaced so that logs cannot be forged through it.
fn accepted(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    is_well_formed(s).then(|| s.to_string())
}

/// Whether `s` is an id this service keeps: 1 to 128 printable ASCII
/// characters, no space and no `"`. (Every id a row records is one.)
pub fn is_well_formed(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic() && b != b'"')
}

pub fn generate() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::thread_rng().gen();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub struct RequestIdMiddleware;

impl<S, B> Transform<S, ServiceRequest> for RequestIdMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = RequestIdService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestIdService { service }))
    }
}

pub struct RequestIdService<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for RequestIdService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let id = req
            .headers()
            .get(HEADER)
            .and_then(accepted)
            .unwrap_or_else(generate);
        req.extensions_mut().insert(RequestId(id.clone()));
        let context = Arc::new(RequestContext::new(
            id.clone(),
            ClientAddr::of_service_request(&req).to_text(),
            req.headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok()),
        ));
        // Routing needs the request unshared, so it is not cloned here.
        // Handlers and extractors turn their errors into responses inside
        // this scope; only an error escaping every inner layer would be
        // rendered by actix outside it, without the header.
        let fut = self.service.call(req);
        Box::pin(request_context::scope(context, async move {
            let mut res = fut.await?;
            if let Ok(value) = HeaderValue::from_str(&id) {
                res.headers_mut()
                    .insert(HeaderName::from_static(HEADER), value);
            }
            Ok(res)
        }))
    }
}
