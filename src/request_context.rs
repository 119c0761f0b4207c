//! Where an activity row comes from: the request being served (its id, the
//! client's address and `User-Agent`, the caller's session), recorded in the
//! row's context columns by `ActivityLogService::log`.
//!
//! The request-id middleware opens a [`RequestContext`] for each request,
//! held in a task-local for the request's future; the authentication
//! middleware adds the session once it knows it. Database work runs on
//! other threads (actix's blocking pool, the Spotify pool), where no
//! task-local reaches: `db::run`, `db::run_in` and `db::run_on` take the
//! calling task's context and install it in a thread-local while their
//! closure runs ([`enter`]). So every row written while serving a request
//! carries its context without any of the services that write rows passing
//! it along, and rows written anywhere else (the scheduler's threads, the
//! CLI) carry none, by construction.

use std::cell::RefCell;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use crate::validate::truncate_chars;

/// The longest `User-Agent` kept, in characters.
pub const MAX_USER_AGENT_CHARS: usize = 256;

/// One request's context, shared by everything that serves it.
#[derive(Debug)]
pub struct RequestContext {
    /// The request's `X-Request-Id` (the client's, when it sent a sane one).
    pub request_id: String,
    /// The client's full address, behind trusted proxies what they
    /// forwarded (`ClientAddr`).
    pub ip_address: Option<String>,
    /// The `User-Agent` header, at most [`MAX_USER_AGENT_CHARS`].
    pub user_agent: Option<String>,
    /// The `auth_sessions` id of the caller's token, once authenticated.
    session_id: OnceLock<i64>,
}

impl RequestContext {
    pub fn new(request_id: String, ip_address: Option<String>, user_agent: Option<&str>) -> Self {
        RequestContext {
            request_id,
            ip_address,
            user_agent: user_agent
                .filter(|ua| !ua.is_empty())
                .map(|ua| truncate_chars(ua, MAX_USER_AGENT_CHARS).to_string()),
            session_id: OnceLock::new(),
        }
    }

    /// The context with its session already known.
    pub fn with_session(self, session_id: i64) -> Self {
        let _ = self.session_id.set(session_id);
        self
    }

    pub fn session_id(&self) -> Option<i64> {
        self.session_id.get().copied()
    }
}

tokio::task_local! {
    static TASK: Arc<RequestContext>;
}

thread_local! {
    static THREAD: RefCell<Option<Arc<RequestContext>>> = const { RefCell::new(None) };
}

/// Runs `future` with `context` as its request's context.
pub fn scope<F: Future>(
    context: Arc<RequestContext>,
    future: F,
) -> tokio::task::futures::TaskLocalFuture<Arc<RequestContext>, F> {
    TASK.scope(context, future)
}

/// The context of the request this task or thread serves, if any.
pub fn current() -> Option<Arc<RequestContext>> {
    TASK.try_with(Arc::clone)
        .ok()
        .or_else(|| THREAD.with(|c| c.borrow().clone()))
}

/// Records the authenticated session in the current request's context
/// (the first one named wins: a request authenticates once).
pub fn set_session(session_id: i64) {
    if let Some(context) = current() {
        let _ = context.session_id.set(session_id);
    }
}

/// Installs `context` as this thread's until the guard drops, then puts
/// back what was there: for a closure that serves a request on another
/// thread.
#[must_use = "the context is installed only while the guard lives"]
pub fn enter(context: Option<Arc<RequestContext>>) -> Entered {
    Entered(THREAD.with(|c| c.replace(context)))
}

/// The guard of [`enter`].
pub struct Entered(Option<Arc<RequestContext>>);

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.0.take();
        THREAD.with(|c| *c.borrow_mut() = previous);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_holds_a_context_only_while_entered() {
        assert!(current().is_none());
        let context = Arc::new(RequestContext::new("r1".into(), None, Some("UA")));
        {
            let _entered = enter(Some(context.clone()));
            set_session(7);
            assert_eq!(current().unwrap().request_id, "r1");
        }
        assert!(current().is_none());
        assert_eq!(context.session_id(), Some(7));
    }

    #[test]
    fn a_long_user_agent_is_cut_and_an_empty_one_dropped() {
        let long = "a".repeat(300);
        let context = RequestContext::new("r".into(), None, Some(&long));
        assert_eq!(context.user_agent.unwrap().len(), MAX_USER_AGENT_CHARS);
        assert!(RequestContext::new("r".into(), None, Some(""))
            .user_agent
            .is_none());
    }
}
