//! How bytes reach a broker. (STUB until the connection branch lands.)

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::error::{Context, Error, Result};

/// Opens a TCP connection with `TCP_NODELAY`, bounded by `timeout`.
pub async fn connect_tcp(addr: SocketAddr, timeout: Duration) -> Result<TcpStream> {
    let ctx = || Context::default().with_broker(addr);
    let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| Error::Timeout {
            what: "connect",
            context: ctx(),
        })?
        .map_err(|e| Error::io(e, ctx()))?;
    stream.set_nodelay(true).map_err(|e| Error::io(e, ctx()))?;
    Ok(stream)
}
