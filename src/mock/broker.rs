//! One broker's listener: a loopback `TcpListener` whose accept loop owns
//! the broker's connection tasks. Stopping the broker aborts the accept
//! task, and dropping its `JoinSet` aborts every connection with it, so a
//! stopped broker leaves no socket open, as a killed broker would.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::mock::auth::ConnectionSecurity;
use crate::mock::connection::{self, Conn};
use crate::mock::state::Shared;

/// A running broker listener; dropping it stops the broker.
#[derive(Debug)]
pub(crate) struct Listener {
    accept: JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Binds `host:port` (port 0 picks one) and serves broker `id` on it.
/// Returns the listener and the port bound.
pub(crate) async fn start(
    shared: Arc<Shared>,
    id: i32,
    host: &str,
    port: u16,
) -> std::io::Result<(Listener, u16)> {
    let listener = TcpListener::bind((host, port)).await?;
    let port = listener.local_addr()?.port();
    let accept = tokio::spawn(accept_loop(listener, shared, id));
    Ok((Listener { accept }, port))
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, id: i32) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let conn = new_conn(&shared, id, peer);
                    #[cfg(feature = "_tls")]
                    if let Some(acceptor) = shared.settings.tls.clone() {
                        connections.spawn(async move {
                            // A failed handshake (plaintext client, unknown
                            // client certificate) closes the socket.
                            match acceptor.0.accept(stream).await {
                                Ok(tls) => connection::serve(tls, conn).await,
                                Err(e) => tracing::debug!(broker = id, "mock: TLS handshake failed: {e}"),
                            }
                        });
                        continue;
                    }
                    connections.spawn(connection::serve(stream, conn));
                }
                Err(e) => {
                    // Out of file descriptors and the like: keep serving the
                    // connections there are, and try again.
                    tracing::debug!(broker = id, "mock: accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

fn new_conn(shared: &Arc<Shared>, id: i32, peer: SocketAddr) -> Conn {
    Conn {
        shared: shared.clone(),
        broker_id: id,
        peer,
        security: ConnectionSecurity::new(&shared.settings.security),
    }
}
