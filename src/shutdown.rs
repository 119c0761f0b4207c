//! The process's shutdown signal: begun once, when `serve` receives
//! SIGTERM or SIGINT, and never reset.
//!
//! Whatever runs for long subscribes to it and stops taking work once it
//! has begun: open live streams end at once (a client resumes with
//! `Last-Event-ID`, missing nothing), the retention task stops, and the
//! scheduler starts no new run (it finishes the one in hand). Anything new
//! that holds a connection or loops in the background (a pool of provider
//! calls, a delivery worker) should do the same: take
//! `state.shutdown.subscribe()` (a `tokio::sync::watch::Receiver<bool>`,
//! `true` once shutdown has begun) or await [`Shutdown::begun`], and
//! abandon what can be retried later rather than hold the process.
//!
//! In-process tests begin it by hand with [`Shutdown::begin`].

use std::sync::Arc;

use tokio::sync::watch;

/// A cheap handle on the one shutdown signal of a process (clones share it).
#[derive(Clone, Debug)]
pub struct Shutdown {
    sender: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            sender: Arc::new(watch::Sender::new(false)),
        }
    }
}

impl Shutdown {
    /// Begins shutdown: every subscriber sees `true`. Idempotent.
    pub fn begin(&self) {
        self.sender.send_replace(true);
    }

    /// Whether shutdown has begun.
    pub fn has_begun(&self) -> bool {
        *self.sender.borrow()
    }

    /// A receiver that reads `true` once shutdown has begun.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.sender.subscribe()
    }

    /// Resolves once shutdown has begun (at once if it already has).
    pub async fn begun(&self) {
        let mut receiver = self.subscribe();
        // The sender lives as long as `self`, so this cannot fail.
        let _ = receiver.wait_for(|begun| *begun).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn subscribers_see_it_begin_once_and_stay_begun() {
        let shutdown = Shutdown::default();
        let mut receiver = shutdown.subscribe();
        assert!(!shutdown.has_begun());
        let clone = shutdown.clone();
        clone.begin();
        receiver.wait_for(|b| *b).await.unwrap();
        shutdown.begun().await;
        shutdown.begin();
        assert!(shutdown.has_begun());
    }
}
