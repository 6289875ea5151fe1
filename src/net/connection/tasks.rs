//! The two tasks that own the socket: the writer, which writes whole
//! frames in the order they were queued (coalescing what is waiting into
//! one flush), and the reader, which splits frames and routes each to the
//! request waiting on its correlation id. Either one poisons the
//! connection when the stream fails. Apart because they are the only code
//! that touches the socket.

use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::mpsc;

use super::{Outgoing, Shared, lock};
use crate::error::{Context, Error};
use crate::protocol::frame::{peek_correlation_id, split_frame};

pub(super) async fn write_loop<W>(
    shared: Arc<Shared>,
    write: W,
    mut frames: mpsc::Receiver<Outgoing>,
) where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let mut shutdown = shared.shutdown.subscribe();
    let mut out = BufWriter::with_capacity(64 * 1024, write);
    loop {
        let next = tokio::select! {
            biased;
            _ = shutdown.wait_for(|s| *s) => break,
            f = frames.recv() => f,
        };
        let Some(first) = next else {
            // Every handle is gone: nobody can send or wait any more.
            shared.poison(Error::Disconnected {
                reason: "all handles dropped".into(),
                context: Context::default(),
            });
            break;
        };
        let mut batch = vec![first];
        // Coalesce what is already queued into one flush.
        while batch.len() < 64 {
            match frames.try_recv() {
                Ok(f) => batch.push(f),
                Err(_) => break,
            }
        }
        let mut result = Ok(());
        for f in &batch {
            result = out.write_all(&f.frame).await;
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            result = out.flush().await;
        }
        if let Err(e) = result {
            shared.poison(Error::io(
                e,
                Context::default().with_broker(&shared.config.broker_label),
            ));
            break;
        }
        for f in batch {
            if let Some(w) = f.written {
                let _ = w.send(());
            }
        }
    }
    let _ = out.shutdown().await;
}

pub(super) async fn read_loop<R>(shared: Arc<Shared>, mut read: R)
where
    R: AsyncRead + Send + Unpin + 'static,
{
    let mut shutdown = shared.shutdown.subscribe();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let broker = || Context::default().with_broker(&shared.config.broker_label);
    loop {
        loop {
            match split_frame(&mut buf, shared.config.max_response_size) {
                Ok(Some(frame)) => {
                    let Some(correlation_id) = peek_correlation_id(&frame) else {
                        return shared.poison(Error::protocol("response without header", broker()));
                    };
                    let pending = lock(&shared.in_flight).remove(&correlation_id);
                    match pending {
                        Some(p) => {
                            let _ = p.reply.send(Ok(frame));
                        }
                        None => {
                            return shared.poison(Error::protocol(
                                format!("response for unknown correlation id {correlation_id}"),
                                broker(),
                            ));
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => return shared.poison(e.map_context(|_| broker())),
            }
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(64 * 1024);
        }
        let read = tokio::select! {
            biased;
            _ = shutdown.wait_for(|s| *s) => return,
            r = read.read_buf(&mut buf) => r,
        };
        match read {
            Ok(0) => {
                return shared.poison(Error::Disconnected {
                    reason: "broker closed the connection".into(),
                    context: broker(),
                });
            }
            Ok(_) => {}
            Err(e) => return shared.poison(Error::io(e, broker())),
        }
    }
}
