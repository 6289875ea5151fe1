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
    auth::sasl_authenticate(&mut conn.security, req, h.version)
}
