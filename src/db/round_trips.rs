//! How many statements each request sends to the database (docs/performance.md).
//!
//! Every pooled connection carries [`Counter`], a diesel instrumentation
//! that bumps a thread-local count on each statement it starts (queries,
//! `BEGIN`/`COMMIT`, savepoints: on PostgreSQL each is a round trip).
//! [`super::run`] reads the count before and after its closure on the
//! blocking thread and adds the difference to the request's tally, a
//! task-local that the request middleware opens with [`count`]; the
//! middleware logs the total at debug level and leaves it in the
//! response's extensions as [`RoundTrips`], where tests read it.
//!
//! The same tally counts the request's trips to the blocking pool (each
//! `db::run`, `run_in` or `run_on`), left beside it as [`BlockingTrips`]:
//! a trip costs more than a statement on SQLite.
//!
//! Work outside a request (the scheduler, an export's body after its
//! handler returned) runs outside any tally and is not counted.

use std::cell::Cell;
use std::future::Future;

use diesel::connection::{Instrumentation, InstrumentationEvent};

thread_local! {
    static ON_THIS_THREAD: Cell<u64> = const { Cell::new(0) };
}

tokio::task_local! {
    static REQUEST: Tally;
}

/// What one request has sent so far.
#[derive(Default)]
struct Tally {
    statements: Cell<u32>,
    trips: Cell<u32>,
}

/// The statements one request sent, in its response's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundTrips(pub u32);

/// The trips one request made to the blocking pool, in its response's
/// extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockingTrips(pub u32);

/// The instrumentation every pooled connection carries.
pub(crate) struct Counter;

impl Instrumentation for Counter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { .. } = event {
            ON_THIS_THREAD.with(|n| n.set(n.get() + 1));
        }
    }
}

/// Statements started on this thread so far.
pub(crate) fn on_this_thread() -> u64 {
    ON_THIS_THREAD.with(Cell::get)
}

/// Adds one trip to the blocking pool and its `n` statements to the
/// current request's tally, if there is one.
pub(crate) fn add(n: u64) {
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    let _ = REQUEST.try_with(|tally| {
        tally
            .statements
            .set(tally.statements.get().saturating_add(n));
        tally.trips.set(tally.trips.get().saturating_add(1));
    });
}

/// Runs `fut` with a tally of its own, and hands back the tally with its
/// output.
pub async fn count<F: Future>(fut: F) -> (F::Output, RoundTrips, BlockingTrips) {
    REQUEST
        .scope(Tally::default(), async move {
            let output = fut.await;
            let (statements, trips) =
                REQUEST.with(|tally| (tally.statements.get(), tally.trips.get()));
            (output, RoundTrips(statements), BlockingTrips(trips))
        })
        .await
}
