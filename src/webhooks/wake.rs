//! Wakes this process's delivery workers when an activity row is written,
//! so a delivery starts as soon as the row commits rather than at the next
//! poll. A process-wide watch channel: `ActivityLogService::log` bumps it
//! (one uncontended lock, nothing else on the logging path), and every
//! worker subscribed sees the change even if it was busy when it came.
//! The bump happens just before the row's transaction commits, so a worker
//! looks again shortly after a wake-up; its regular poll catches anything
//! slower.

use std::sync::OnceLock;

use tokio::sync::watch;

fn channel() -> &'static watch::Sender<u64> {
    static CHANNEL: OnceLock<watch::Sender<u64>> = OnceLock::new();
    CHANNEL.get_or_init(|| watch::Sender::new(0))
}

/// Called for each row written in this process.
pub fn row_written() {
    channel().send_modify(|n| *n = n.wrapping_add(1));
}

/// A receiver that sees a change after each [`row_written`].
pub fn subscribe() -> watch::Receiver<u64> {
    channel().subscribe()
}
