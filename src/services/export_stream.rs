//! The body of a streamed export (the activity export, the account
//! export): a producer task feeds a small bounded channel and the response
//! reads from it.
//!
//! The producer holds the export's slot, so the slot frees whenever it
//! stops: at the end, when the client goes away, on a send timeout or on
//! an error. It holds no thread and no connection while it waits for the
//! client. The stream ends cleanly only after the producer said so;
//! otherwise its last item is an `Err` (actix then aborts the chunked
//! response, so the client sees an incomplete transfer, never a shorter
//! file that looks complete).

use std::future::Future;
use std::time::Duration;

use actix_web::web::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc::{self, error::SendTimeoutError, Sender};

use crate::services::activity_export::ExportError;
use crate::streams::StreamGuard;

/// Rendered chunks waiting for the client, at most: with the chunk the
/// producer holds, an export buffers at most three.
pub const EXPORT_CHANNEL_CHUNKS: usize = 2;

/// What the producer hands the body: data, a failure, or the explicit end.
/// A channel that closes without [`Message::End`] means the export was cut
/// short, so an early close can never pass for a complete one.
enum Message {
    Chunk(Bytes),
    Failed(ExportError),
    End,
}

/// Why a producer stopped early.
pub enum Stop {
    /// The client went away: nobody left to tell.
    ClientGone,
    /// The client took nothing for the send timeout.
    Stalled,
    Failed(ExportError),
}

/// The producer's end of the channel.
pub struct ChunkSender {
    tx: Sender<Message>,
    timeout: Duration,
}

impl ChunkSender {
    /// Offers `bytes` to the client for at most the send timeout.
    pub async fn send(&self, bytes: impl Into<Bytes>) -> Result<(), Stop> {
        self.offer(Message::Chunk(bytes.into())).await
    }

    async fn offer(&self, message: Message) -> Result<(), Stop> {
        self.tx
            .send_timeout(message, self.timeout)
            .await
            .map_err(|err| match err {
                SendTimeoutError::Timeout(_) => Stop::Stalled,
                SendTimeoutError::Closed(_) => Stop::ClientGone,
            })
    }
}

/// Starts `produce` on the current (actix) runtime and returns the body it
/// feeds. `what` names the export in the server log ("activity export for
/// user 7"). `produce` sends the chunks; the end is sent after it returns
/// `Ok`.
pub fn streamed<F, Fut>(
    what: String,
    send_timeout: Duration,
    slot: StreamGuard,
    produce: F,
) -> impl Stream<Item = Result<Bytes, ExportError>> + 'static
where
    F: FnOnce(ChunkSender) -> Fut + 'static,
    Fut: Future<Output = Result<(), Stop>> + 'static,
{
    let (tx, rx) = mpsc::channel(EXPORT_CHANNEL_CHUNKS);
    let sender = ChunkSender {
        tx: tx.clone(),
        timeout: send_timeout,
    };
    actix_web::rt::spawn(async move {
        let _slot = slot;
        let done = match produce(sender).await {
            Ok(()) => tx
                .send_timeout(Message::End, send_timeout)
                .await
                .map_err(|err| match err {
                    SendTimeoutError::Timeout(_) => Stop::Stalled,
                    SendTimeoutError::Closed(_) => Stop::ClientGone,
                }),
            Err(stop) => Err(stop),
        };
        match done {
            Ok(()) => {}
            Err(Stop::ClientGone) => log::debug!("{what}: client went away"),
            Err(Stop::Stalled) => log::warn!(
                "{what} dropped: the client took no data for {} s",
                send_timeout.as_secs()
            ),
            Err(Stop::Failed(err)) => {
                log::warn!("{what} failed, response aborted: {err}");
                // Best effort: without it the client still sees an abort,
                // only with a vaguer reason in the server log.
                let _ = tx.send_timeout(Message::Failed(err), send_timeout).await;
            }
        }
    });
    futures_util::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        match rx.recv().await {
            Some(Message::Chunk(bytes)) => Some((Ok(bytes), Some(rx))),
            Some(Message::End) => None,
            Some(Message::Failed(err)) => Some((Err(err), None)),
            None => Some((Err(ExportError::Abandoned), None)),
        }
    })
}
