//! `OAUTHBEARER` (RFC 7628, KIP-255 and KIP-342): a bearer token from a
//! [`TokenProvider`], asked at every authentication.
//!
//! The client's one message is
//! `n,,\x01auth=Bearer <token>\x01[key=value\x01]*\x01` (no authorization
//! id; SASL extensions as extra key/value pairs). A broker that refuses
//! the token answers with a JSON error challenge; the client replies with
//! a single `\x01` and the broker then fails the exchange with its message
//! (RFC 7628 section 3.2.3).

use std::fmt;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;

use super::{BoxFuture, Exchange, Secret, Step, auth_failed};
use crate::error::{Error, Result};

/// A bearer token for OAUTHBEARER: its value, when it expires, and
/// optionally the principal it names and SASL extensions to send with it
/// (KIP-342). `Debug` never shows the value.
#[derive(Clone)]
pub struct OAuthBearerToken {
    value: Secret,
    expires_at: SystemTime,
    principal: Option<String>,
    extensions: Vec<(String, String)>,
}

impl OAuthBearerToken {
    /// A token with value `value` (an RFC 6750 `b64token`, e.g. a JWT)
    /// valid until `expires_at`. An expired token is not sent: the
    /// authentication fails with `SASL_AUTHENTICATION_FAILED`.
    pub fn new(value: impl Into<String>, expires_at: SystemTime) -> OAuthBearerToken {
        OAuthBearerToken {
            value: Secret(value.into()),
            expires_at,
            principal: None,
            extensions: Vec::new(),
        }
    }

    /// The principal the token names (informational: the broker takes the
    /// principal from the token itself).
    pub fn with_principal(mut self, principal: impl Into<String>) -> Self {
        self.principal = Some(principal.into());
        self
    }

    /// Adds a SASL extension (KIP-342) sent with the token: `key` is
    /// letters only and not `auth`; `value` printable ASCII, space, tab,
    /// CR or LF. Checked when the token is used.
    pub fn with_extension(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extensions.push((key.into(), value.into()));
        self
    }

    /// When the token expires.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// The principal, if the provider named one.
    pub fn principal(&self) -> Option<&str> {
        self.principal.as_deref()
    }

    /// The SASL extensions.
    pub fn extensions(&self) -> &[(String, String)] {
        &self.extensions
    }
}

impl fmt::Debug for OAuthBearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthBearerToken")
            .field("value", &self.value)
            .field("expires_at", &self.expires_at)
            .field("principal", &self.principal)
            .field("extensions", &self.extensions)
            .finish()
    }
}

/// Where OAUTHBEARER tokens come from: asked at every authentication (each
/// new connection and each re-authentication), so the provider decides
/// when to fetch a new token (e.g. from an identity provider) and when to
/// hand out a cached one that is still valid.
///
/// Implemented by [`UnsecuredJwt`] and by every
/// `Fn() -> impl Future<Output = Result<OAuthBearerToken>>` closure.
pub trait TokenProvider: Send + Sync + 'static {
    /// A token to authenticate with now.
    fn token(&self) -> BoxFuture<'_, Result<OAuthBearerToken>>;
}

impl<F, Fut> TokenProvider for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<OAuthBearerToken>> + Send + 'static,
{
    fn token(&self) -> BoxFuture<'_, Result<OAuthBearerToken>> {
        Box::pin(self())
    }
}

/// Unsigned JWTs (`"alg":"none"`) for tests and development, like Java's
/// `OAuthBearerUnsecuredLoginCallbackHandler`: each token names
/// `principal` in its `sub` claim, is issued now and expires after the
/// lifetime (1 hour by default, Java's `unsecuredLoginLifetimeSeconds`).
/// A broker accepts them only when configured with Kafka's unsecured
/// validator; never use them in production.
///
/// ```
/// use kafkit::sasl::{Sasl, UnsecuredJwt};
/// let sasl = Sasl::oauthbearer(UnsecuredJwt::new("alice").with_extension("traceId", "123"));
/// ```
#[derive(Debug, Clone)]
pub struct UnsecuredJwt {
    principal: String,
    lifetime: Duration,
    scope: Vec<String>,
    extensions: Vec<(String, String)>,
}

impl UnsecuredJwt {
    /// Tokens for `principal` (the `sub` claim).
    pub fn new(principal: impl Into<String>) -> UnsecuredJwt {
        UnsecuredJwt {
            principal: principal.into(),
            lifetime: Duration::from_secs(3600),
            scope: Vec::new(),
            extensions: Vec::new(),
        }
    }

    /// How long each token is valid (Java's
    /// `unsecuredLoginLifetimeSeconds`). Default 1 hour.
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The `scope` claim (Java's `unsecuredLoginListClaim_scope`).
    pub fn with_scope(mut self, scope: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.scope = scope.into_iter().map(Into::into).collect();
        self
    }

    /// A SASL extension sent with every token (Java's
    /// `unsecuredLoginExtension_<key>`).
    pub fn with_extension(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extensions.push((key.into(), value.into()));
        self
    }

    /// A token issued at `now`.
    fn token_at(&self, now: SystemTime) -> OAuthBearerToken {
        let issued = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let expires = issued.saturating_add(self.lifetime.as_secs());
        let mut claims = format!(
            "{{\"iat\":{issued},\"exp\":{expires},\"sub\":{}",
            json_string(&self.principal)
        );
        if !self.scope.is_empty() {
            let scope: Vec<String> = self.scope.iter().map(|s| json_string(s)).collect();
            claims.push_str(&format!(",\"scope\":[{}]", scope.join(",")));
        }
        claims.push('}');
        let value = format!(
            "{}.{}.",
            B64URL.encode(br#"{"alg":"none"}"#),
            B64URL.encode(claims.as_bytes())
        );
        let mut token = OAuthBearerToken::new(value, now + self.lifetime)
            .with_principal(self.principal.clone());
        token.extensions = self.extensions.clone();
        token
    }
}

impl TokenProvider for UnsecuredJwt {
    fn token(&self) -> BoxFuture<'_, Result<OAuthBearerToken>> {
        let token = self.token_at(SystemTime::now());
        Box::pin(async move { Ok(token) })
    }
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// RFC 7628's key/value separator.
const KVSEP: u8 = 0x01;

/// Where the exchange is.
enum State {
    Start(Vec<u8>),
    Sent,
    /// The broker sent an error challenge; we answered `\x01`.
    Refused(String),
    Done,
}

/// One OAUTHBEARER exchange.
pub(crate) struct OAuthBearer {
    state: State,
}

impl OAuthBearer {
    /// The exchange for `token`, checked: a valid `b64token` and valid
    /// extensions (config errors that never show the token).
    pub(crate) fn new(token: &OAuthBearerToken) -> Result<OAuthBearer> {
        Ok(OAuthBearer {
            state: State::Start(client_first(token)?),
        })
    }
}

/// The client's first (and only) message for `token`.
fn client_first(token: &OAuthBearerToken) -> Result<Vec<u8>> {
    let value = token.value.expose();
    if !is_b64token(value) {
        return Err(Error::Config(
            "OAUTHBEARER: the token is not a valid bearer token (RFC 6750 b64token: \
             letters, digits, - . _ ~ + / and trailing =)"
                .into(),
        ));
    }
    let mut message = format!("n,,\x01auth=Bearer {value}\x01").into_bytes();
    for (key, val) in &token.extensions {
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphabetic()) || key == "auth" {
            return Err(Error::Config(format!(
                "OAUTHBEARER: extension name {key:?} must be letters only and not \"auth\""
            )));
        }
        if val.is_empty()
            || !val
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) || b" \t\r\n".contains(&b))
        {
            return Err(Error::Config(format!(
                "OAUTHBEARER: the value of extension {key:?} must be printable ASCII, \
                 space, tab, CR or LF"
            )));
        }
        message.extend_from_slice(format!("{key}={val}").as_bytes());
        message.push(KVSEP);
    }
    message.push(KVSEP);
    Ok(message)
}

/// RFC 6750: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

impl Exchange for OAuthBearer {
    fn step(&mut self, server: Option<&[u8]>) -> Result<Step> {
        match (std::mem::replace(&mut self.state, State::Done), server) {
            (State::Start(message), _) => {
                self.state = State::Sent;
                Ok(Step::Send(message))
            }
            // Accepted: the broker answers with nothing.
            (State::Sent, Some([])) => Ok(Step::Done),
            (State::Sent, Some(challenge)) => {
                // An error challenge (JSON): answer with `\x01` so that
                // the broker ends the exchange with its error.
                self.state = State::Refused(String::from_utf8_lossy(challenge).into_owned());
                Ok(Step::Send(vec![KVSEP]))
            }
            (State::Refused(challenge), _) => Err(auth_failed(format!(
                "OAUTHBEARER: the broker refused the token: {challenge}"
            ))),
            _ => Err(auth_failed("OAUTHBEARER: unexpected step in the exchange")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(value: &str) -> OAuthBearerToken {
        OAuthBearerToken::new(value, SystemTime::now() + Duration::from_secs(60))
    }

    #[test]
    fn client_message_is_rfc_7628() {
        // RFC 7628 section 4.1's example token, without authzid, host or port.
        let mut e = OAuthBearer::new(&token("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==")).unwrap();
        assert_eq!(
            e.step(None).unwrap(),
            Step::Send(
                b"n,,\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01".to_vec()
            )
        );
        assert_eq!(e.step(Some(b"")).unwrap(), Step::Done);
    }

    #[test]
    fn extensions_follow_the_token() {
        let t = token("abc")
            .with_extension("traceId", "123")
            .with_extension("logicalCluster", "lkc-1 2");
        let mut e = OAuthBearer::new(&t).unwrap();
        assert_eq!(
            e.step(None).unwrap(),
            Step::Send(
                b"n,,\x01auth=Bearer abc\x01traceId=123\x01logicalCluster=lkc-1 2\x01\x01".to_vec()
            )
        );
    }

    #[test]
    fn an_error_challenge_is_answered_with_kvsep_then_fails_with_its_text() {
        let mut e = OAuthBearer::new(&token("abc")).unwrap();
        e.step(None).unwrap();
        let challenge = br#"{"status":"invalid_token"}"#;
        assert_eq!(e.step(Some(challenge)).unwrap(), Step::Send(vec![1]));
        // A broker that then reports success anyway is not believed.
        let err = e.step(Some(b"")).unwrap_err();
        assert_eq!(
            err.code(),
            Some(crate::ErrorCode::SASL_AUTHENTICATION_FAILED)
        );
        assert!(err.to_string().contains("invalid_token"), "{err}");
    }

    #[test]
    fn bad_tokens_and_extensions_are_refused_without_showing_the_token() {
        for bad in ["", "has space", "a,b", "=="] {
            let err = OAuthBearer::new(&token(bad)).err().unwrap();
            assert!(matches!(err, Error::Config(_)), "{bad:?}: {err}");
        }
        let err = OAuthBearer::new(&token("secret-token value"))
            .err()
            .unwrap();
        assert!(!err.to_string().contains("secret-token"), "{err}");
        for (k, v) in [
            ("auth", "x"),
            ("a1", "x"),
            ("", "x"),
            ("k", ""),
            ("k", "\u{1}"),
        ] {
            assert!(
                OAuthBearer::new(&token("abc").with_extension(k, v)).is_err(),
                "{k:?}={v:?}"
            );
        }
    }

    #[test]
    fn unsecured_jwt_has_alg_none_sub_iat_exp_and_empty_signature() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let jwt = UnsecuredJwt::new("alice \"the\" admin")
            .with_lifetime(Duration::from_secs(120))
            .with_scope(["read", "write"])
            .with_extension("traceId", "1");
        let t = jwt.token_at(now);
        assert_eq!(t.expires_at(), now + Duration::from_secs(120));
        assert_eq!(t.principal(), Some("alice \"the\" admin"));
        assert_eq!(t.extensions(), [("traceId".to_string(), "1".to_string())]);
        let value = t.value.expose();
        assert!(is_b64token(value), "{value}");
        let parts: Vec<&str> = value.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2], "", "unsigned");
        assert_eq!(B64URL.decode(parts[0]).unwrap(), br#"{"alg":"none"}"#);
        let claims = String::from_utf8(B64URL.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(
            claims,
            r#"{"iat":1700000000,"exp":1700000120,"sub":"alice \"the\" admin","scope":["read","write"]}"#
        );
        // It makes a valid client message.
        OAuthBearer::new(&t).unwrap();
    }
}
