//! One client connection: frames in, requests handled one at a time,
//! responses out in request order.
//!
//! Like a Kafka broker (which mutes a connection while one of its requests
//! is in flight), a connection handles its requests strictly in order, one
//! at a time: a long-poll Fetch delays the requests behind it on the same
//! connection, which is why clients use separate connections for fetches.
//! This also keeps pipelined Produce requests of one producer in order.
//!
//! Untrusted input: a frame larger than [`MAX_REQUEST_SIZE`], a header that
//! does not decode, an unknown API key, an unsupported version (other than
//! ApiVersions', answered per KIP-511) or a body the allocation guard
//! refuses closes the connection, as Kafka does. The buffer for a frame
//! grows with the bytes that actually arrive, so a size prefix alone
//! reserves nothing.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::mock::auth::ConnectionSecurity;
use crate::mock::dispatch::{self, Outcome};
use crate::mock::state::Shared;

/// Largest request frame accepted (Kafka's `socket.request.max.bytes`).
pub const MAX_REQUEST_SIZE: usize = 100 * 1024 * 1024;

/// How much the frame buffer grows per read at most.
const READ_CHUNK: usize = 64 * 1024;

/// What a handler knows about the connection a request came on.
#[derive(Debug)]
pub(crate) struct Conn {
    pub shared: Arc<Shared>,
    /// The broker this connection reached.
    pub broker_id: i32,
    /// The client's address.
    pub peer: SocketAddr,
    /// Authentication state (SASL) of this connection.
    pub security: ConnectionSecurity,
}

/// Serves one connection until the client closes it, it misbehaves, or the
/// task is aborted (broker stopped).
pub(crate) async fn serve<S>(mut stream: S, mut conn: Conn)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut buf = BytesMut::with_capacity(8 * 1024);
    loop {
        let frame = match read_frame(&mut stream, &mut buf).await {
            Ok(Some(frame)) => frame,
            Ok(None) => return,
            Err(reason) => {
                tracing::debug!(peer = %conn.peer, broker = conn.broker_id, "mock: closing connection: {reason}");
                return;
            }
        };
        match dispatch::handle(&mut conn, frame).await {
            Outcome::Respond(bytes) => {
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
                if conn.security.failed() {
                    // Kafka closes a connection whose authentication failed
                    // once the error is sent.
                    let _ = stream.shutdown().await;
                    return;
                }
            }
            Outcome::NoResponse => {}
            Outcome::Close(reason) => {
                tracing::debug!(peer = %conn.peer, broker = conn.broker_id, "mock: closing connection: {reason}");
                let _ = stream.shutdown().await;
                return;
            }
        }
    }
}

/// Reads one size-prefixed frame (without its prefix). `Ok(None)` when the
/// client closed the connection between frames.
async fn read_frame<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
) -> Result<Option<Bytes>, String> {
    while buf.len() < 4 {
        if read_more(stream, buf, 4).await? == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err("closed mid-frame".into())
            };
        }
    }
    let declared = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let size = usize::try_from(declared).map_err(|_| format!("negative frame size {declared}"))?;
    if size > MAX_REQUEST_SIZE {
        return Err(format!(
            "frame size {size} exceeds the limit of {MAX_REQUEST_SIZE} bytes"
        ));
    }
    while buf.len() < 4 + size {
        let want = (4 + size - buf.len()).min(READ_CHUNK);
        if read_more(stream, buf, want).await? == 0 {
            return Err("closed mid-frame".into());
        }
    }
    buf.advance(4);
    Ok(Some(buf.split_to(size).freeze()))
}

/// Reads what is available (at least one byte) into `buf`, reserving no
/// more than `want` bytes ahead. Returns 0 at end of stream.
async fn read_more<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    want: usize,
) -> Result<usize, String> {
    if buf.capacity() - buf.len() < want {
        buf.reserve(want);
    }
    stream.read_buf(buf).await.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_are_split_and_sizes_capped() {
        let mut data = Vec::new();
        data.extend_from_slice(&3i32.to_be_bytes());
        data.extend_from_slice(b"abc");
        data.extend_from_slice(&1i32.to_be_bytes());
        data.extend_from_slice(b"z");
        let mut r = &data[..];
        let mut buf = BytesMut::new();
        assert_eq!(read_frame(&mut r, &mut buf).await.unwrap().unwrap(), "abc");
        assert_eq!(read_frame(&mut r, &mut buf).await.unwrap().unwrap(), "z");
        assert_eq!(read_frame(&mut r, &mut buf).await.unwrap(), None);

        let huge = (i32::MAX).to_be_bytes();
        let mut r = &huge[..];
        let mut buf = BytesMut::new();
        assert!(read_frame(&mut r, &mut buf).await.is_err());
        assert!(
            buf.capacity() < 1 << 20,
            "nothing reserved for the claimed size"
        );

        let neg = (-5i32).to_be_bytes();
        let mut r = &neg[..];
        assert!(read_frame(&mut r, &mut BytesMut::new()).await.is_err());

        // A frame cut short.
        let mut cut = 10i32.to_be_bytes().to_vec();
        cut.extend_from_slice(b"abc");
        let mut r = &cut[..];
        assert!(read_frame(&mut r, &mut BytesMut::new()).await.is_err());
    }
}
