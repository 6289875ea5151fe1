//! `PLAIN` (RFC 4616): one client message, `authzid NUL authcid NUL
//! passwd`, with an empty authorization id (as the Java client sends).

use super::{Credentials, Exchange, Step};
use crate::error::{Error, Result};

/// The PLAIN exchange: the message, then nothing but the broker's verdict.
pub(crate) struct Plain {
    message: Option<Vec<u8>>,
}

impl Plain {
    /// Refuses a username or password holding NUL, which RFC 4616 forbids
    /// (the broker would split the message elsewhere).
    pub(crate) fn new(credentials: &Credentials) -> Result<Plain> {
        let (user, password) = (credentials.username(), credentials.password());
        if user.is_empty() || user.contains('\0') || password.contains('\0') {
            return Err(Error::Config(
                "SASL PLAIN: the username must be non-empty and neither it nor the \
                 password may contain NUL"
                    .into(),
            ));
        }
        let mut message = Vec::with_capacity(user.len() + password.len() + 2);
        message.push(0);
        message.extend_from_slice(user.as_bytes());
        message.push(0);
        message.extend_from_slice(password.as_bytes());
        Ok(Plain {
            message: Some(message),
        })
    }
}

impl Exchange for Plain {
    fn step(&mut self, _server: Option<&[u8]>) -> Result<Step> {
        // The broker answers an accepted PLAIN message with empty bytes;
        // whatever it sends, the exchange is over after one message.
        Ok(match self.message.take() {
            Some(m) => Step::Send(m),
            None => Step::Done,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_is_rfc_4616_with_empty_authzid() {
        let mut p = Plain::new(&Credentials::new("tim", "tanstaaftanstaaf")).unwrap();
        // RFC 4616 section 4's example, without an authzid.
        assert_eq!(
            p.step(None).unwrap(),
            Step::Send(b"\0tim\0tanstaaftanstaaf".to_vec())
        );
        assert_eq!(p.step(Some(b"")).unwrap(), Step::Done);
    }

    #[test]
    fn utf8_credentials_are_sent_as_utf8() {
        let mut p = Plain::new(&Credentials::new("Ursel", "kurt\u{e4}")).unwrap();
        assert_eq!(
            p.step(None).unwrap(),
            Step::Send("\0Ursel\0kurt\u{e4}".as_bytes().to_vec())
        );
    }

    #[test]
    fn nul_or_empty_username_is_refused() {
        for (u, p) in [("", "x"), ("a\0b", "x"), ("a", "x\0y")] {
            let err = Plain::new(&Credentials::new(u, p)).err().unwrap();
            assert!(err.is_fatal(), "{err}");
            assert!(!err.to_string().contains("x\0y"));
        }
    }
}
