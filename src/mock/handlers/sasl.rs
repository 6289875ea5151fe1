//! SaslHandshake and SaslAuthenticate, handed to [`crate::mock::auth`].

use kafka_protocol::messages::*;

use crate::mock::auth;
use crate::mock::connection::Conn;
use crate::mock::dispatch::Header;

pub(crate) async fn handshake(
    conn: &mut Conn,
    h: &Header,
    req: SaslHandshakeRequest,
) -> SaslHandshakeResponse {
    auth::sasl_handshake(&mut conn.security, req, h.version)
}

pub(crate) async fn authenticate(
    conn: &mut Conn,
    h: &Header,
    req: SaslAuthenticateRequest,
) -> SaslAuthenticateResponse {
    let resp = auth::sasl_authenticate(&mut conn.security, req, h.version);
    if conn.security.principal().is_some() && resp.error_code == 0 {
        conn.shared
            .authentications
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    resp
}
