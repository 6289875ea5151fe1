//! OAUTHBEARER (RFC 7628, KIP-255) with unsecured JWTs, as Kafka's
//! `OAuthBearerUnsecuredValidatorCallbackHandler` accepts them: the client
//! message `n,[a=authzid],\x01auth=Bearer TOKEN\x01[key=value\x01]*\x01`,
//! the token `base64url(header).base64url(claims).` with `"alg":"none"`,
//! a `sub` claim (the principal) and an `exp` claim in the future.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;

/// The principal of a valid client message, or why it is refused.
pub(crate) fn verify(message: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(message).map_err(|_| "OAUTHBEARER: not UTF-8".to_owned())?;
    let (gs2, rest) = text
        .split_once('\x01')
        .ok_or_else(|| "OAUTHBEARER: invalid client message".to_owned())?;
    if !gs2.starts_with("n,") {
        return Err("OAUTHBEARER: invalid GS2 header".to_owned());
    }
    let token = rest
        .split('\x01')
        .find_map(|kv| kv.strip_prefix("auth="))
        .and_then(|auth| auth.strip_prefix("Bearer "))
        .ok_or_else(|| "OAUTHBEARER: no bearer token".to_owned())?
        .trim();
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("OAUTHBEARER: the token is not a JWT".to_owned());
    };
    let header = decode_json(header)?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("none") {
        return Err("OAUTHBEARER: only unsecured JWTs (alg none) are accepted".to_owned());
    }
    let claims = decode_json(claims)?;
    let sub = claims
        .get("sub")
        .and_then(|s| s.as_str())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| "OAUTHBEARER: the token has no sub claim".to_owned())?;
    let exp = claims
        .get("exp")
        .and_then(|e| e.as_f64())
        .ok_or_else(|| "OAUTHBEARER: the token has no exp claim".to_owned())?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    if exp <= now {
        return Err("OAUTHBEARER: the token has expired".to_owned());
    }
    Ok(format!("User:{sub}"))
}

fn decode_json(part: &str) -> Result<serde_json::Value, String> {
    let raw = B64URL
        .decode(part.trim_end_matches('='))
        .map_err(|_| "OAUTHBEARER: the token is not base64url".to_owned())?;
    serde_json::from_slice(&raw).map_err(|_| "OAUTHBEARER: the token is not JSON".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(claims: &str) -> String {
        format!(
            "{}.{}.",
            B64URL.encode(r#"{"alg":"none"}"#),
            B64URL.encode(claims)
        )
    }

    fn message(token: &str) -> Vec<u8> {
        format!("n,,\x01auth=Bearer {token}\x01\x01").into_bytes()
    }

    #[test]
    fn unsecured_jwts_are_checked() {
        let future = 4_000_000_000u64;
        let ok = token(&format!(r#"{{"sub":"alice","exp":{future}}}"#));
        assert_eq!(verify(&message(&ok)).unwrap(), "User:alice");
        let expired = token(r#"{"sub":"alice","exp":1}"#);
        assert!(verify(&message(&expired)).unwrap_err().contains("expired"));
        let no_sub = token(&format!(r#"{{"exp":{future}}}"#));
        assert!(verify(&message(&no_sub)).is_err());
        let signed = format!(
            "{}.{}.sig",
            B64URL.encode(r#"{"alg":"RS256"}"#),
            B64URL.encode(r#"{"sub":"a","exp":4000000000}"#)
        );
        assert!(verify(&message(&signed)).is_err());
        for bad in [&b""[..], b"n,,", b"n,,\x01auth=Basic x\x01\x01", b"\xff"] {
            assert!(verify(bad).is_err());
        }
    }
}
