//! Unknown query parameters are a 400 on the API's routes.
//!
//! Each method an [`Endpoint`](super::Endpoint) registers declares the
//! query parameters it takes, from the very `IntoParams` structs its
//! OpenAPI operation lists ([`QueryNames::of`]); `tests/api/openapi.rs`
//! holds every route's list against its documented query parameters. A
//! middleware in front of the handler, inside the authentication one (so
//! a bad token is still a 401 first), answers 400 `validation_failed` with
//! one detail per unknown name: `unknown parameter; accepted: a, b`.
//!
//! A name counts whatever its value: `?typo=` is a 400 too (an empty value
//! counts as absent only for a name the route knows). Routes outside
//! `/api/` (the web app, its assets, `/docs`, health, metrics) and
//! Spotify's callback (Spotify chooses what it sends) take any query.
//!
//! The live stream, with a ticket rather than a bearer token, is judged
//! by its handler once the ticket is redeemed ([`check`]): a bad ticket is
//! a 401 whatever the query holds, and a 400 does not spend the ticket.

use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest};
use utoipa::openapi::path::ParameterIn;
use utoipa::IntoParams;

use crate::error::{AppError, AppResult, FieldError};
use crate::routes::authenticated::AuthUser;

/// Unknown names named in one answer, at most.
const MAX_REPORTED: usize = 10;
/// Characters of an unknown name echoed back, at most.
const MAX_NAME_CHARS: usize = 64;

/// The query parameters one method of a route takes: sorted, no repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryNames(Vec<String>);

impl QueryNames {
    /// The query parameters of an `IntoParams` struct, as the API's
    /// description names them.
    pub fn of<P: IntoParams>() -> Self {
        QueryNames::default().and::<P>()
    }

    /// These and the query parameters of `P`.
    pub fn and<P: IntoParams>(mut self) -> Self {
        let names = P::into_params(|| Some(ParameterIn::Query))
            .into_iter()
            .filter(|p| p.parameter_in == ParameterIn::Query)
            .map(|p| p.name);
        self.0.extend(names);
        self.0.sort();
        self.0.dedup();
        self
    }

    /// The names, sorted.
    pub fn names(&self) -> &[String] {
        &self.0
    }

    /// `a, b, c`, or `none`.
    fn listed(&self) -> String {
        if self.0.is_empty() {
            "none".to_string()
        } else {
            self.0.join(", ")
        }
    }

    /// `Err` (400) naming each parameter of `query_string` not in the list.
    pub fn check(&self, query_string: &str) -> AppResult<()> {
        // In the order sent, each once; the set keeps a long query (up to
        // the request head's 32 KiB) linear rather than quadratic.
        let mut unknown: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (name, _) in url::form_urlencoded::parse(query_string.as_bytes()) {
            if self.0.iter().any(|known| *known == name) {
                continue;
            }
            let name = crate::validate::truncate_chars(&name, MAX_NAME_CHARS).to_string();
            if seen.insert(name.clone()) {
                unknown.push(name);
            }
        }
        if unknown.is_empty() {
            return Ok(());
        }
        let total = unknown.len();
        unknown.truncate(MAX_REPORTED);
        let more = match total - unknown.len() {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        let message = format!(
            "unknown query parameter{}: {}{more}",
            if total == 1 { "" } else { "s" },
            unknown.join(", ")
        );
        let accepted = format!("unknown parameter; accepted: {}", self.listed());
        let details = unknown
            .into_iter()
            .map(|name| FieldError::new(name, accepted.clone()))
            .collect();
        Err(AppError::Validation { message, details })
    }
}

/// One method's check: its names, and whether a request without a caller
/// yet is left to its handler (`Access::TokenOrTicket`).
#[derive(Debug)]
pub(crate) struct Checked {
    pub names: QueryNames,
    pub defer_without_caller: bool,
}

/// What the middleware leaves for a handler that judges the query itself
/// (the live stream with a ticket).
#[derive(Clone)]
struct Pending(Rc<Checked>);

/// The middleware: 400 on an unknown name once the caller is known; a
/// request with no caller yet (a ticket) goes on, and its handler calls
/// [`check`].
pub(crate) async fn refuse_unknown<B: MessageBody + 'static>(
    names: Rc<Checked>,
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let deferred = AuthUser::of(req.request()).is_none() && names.defer_without_caller;
    if !deferred {
        if let Err(err) = names.names.check(req.query_string()) {
            return Ok(req.error_response(err).map_into_right_body());
        }
    }
    req.extensions_mut().insert(Pending(names.clone()));
    Ok(next.call(req).await?.map_into_left_body())
}

/// The check for a handler that authenticates by itself (the live
/// stream's ticket), once it has.
pub fn check(req: &HttpRequest) -> AppResult<()> {
    let pending = req.extensions().get::<Pending>().cloned();
    match pending {
        Some(Pending(names)) => names.names.check(req.query_string()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> QueryNames {
        QueryNames(list.iter().map(|n| n.to_string()).collect())
    }

    fn refused(names: &QueryNames, query: &str) -> (String, Vec<FieldError>) {
        match names.check(query) {
            Err(AppError::Validation { message, details }) => (message, details),
            other => panic!("{query}: {other:?}"),
        }
    }

    #[test]
    fn known_names_pass_whatever_their_values() {
        let list = names(&["limit", "types"]);
        for query in ["", "limit=5", "types=&limit=", "limit=x&limit=y", "&&"] {
            assert!(list.check(query).is_ok(), "{query}");
        }
    }

    #[test]
    fn unknown_names_are_listed_once_each_and_bounded() {
        let list = names(&["limit"]);
        let (message, details) = refused(&list, "a=1&b&a=2&limit=3&c=");
        assert_eq!(message, "unknown query parameters: a, b, c");
        assert_eq!(
            details,
            ["a", "b", "c"]
                .map(|f| FieldError::new(f, "unknown parameter; accepted: limit"))
                .to_vec()
        );
        let (_, details) = refused(&names(&[]), "x=1");
        assert_eq!(details[0].message, "unknown parameter; accepted: none");

        let many: Vec<String> = (0..50)
            .map(|i| format!("p{i}={}", "v".repeat(10)))
            .collect();
        let (message, details) = refused(&list, &many.join("&"));
        assert_eq!(details.len(), MAX_REPORTED);
        assert!(message.ends_with(" and 40 more"), "{message}");
        let long = "n".repeat(1000);
        let (_, details) = refused(&list, &long);
        assert_eq!(details[0].field.len(), MAX_NAME_CHARS);
    }
}
