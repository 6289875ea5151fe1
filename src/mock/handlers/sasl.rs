//! SaslHandshake, SaslAuthenticate and the SCRAM credential APIs, handed
//! to [`crate::mock::auth`].

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

/// DescribeUserScramCredentials on the cluster's SCRAM store (any broker
/// answers: Kafka forwards it to the controller).
pub(crate) async fn describe_user_scram_credentials(
    conn: &mut Conn,
    _h: &Header,
    req: DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    auth::scram_admin::describe(&conn.shared.settings.security, &req)
}

/// AlterUserScramCredentials: the changed credentials apply to the next
/// SCRAM login on any broker.
pub(crate) async fn alter_user_scram_credentials(
    conn: &mut Conn,
    _h: &Header,
    req: AlterUserScramCredentialsRequest,
) -> AlterUserScramCredentialsResponse {
    auth::scram_admin::alter(&conn.shared.settings.security, &req)
}
