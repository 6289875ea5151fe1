//! `SCRAM-SHA-256` and `SCRAM-SHA-512` (RFC 5802, RFC 7677), client side,
//! without channel binding (`n,,`), as Kafka speaks them.
//!
//! ```text
//!  client-first  n,,n=<user>,r=<client nonce>
//!  server-first  r=<client nonce + server nonce>,s=<salt b64>,i=<iterations>
//!  client-final  c=biws,r=<nonce>,p=<ClientKey XOR HMAC(StoredKey, AuthMessage) b64>
//!  server-final  v=<HMAC(ServerKey, AuthMessage) b64>   or   e=<error>
//! ```
//!
//! SaltedPassword = PBKDF2-HMAC(password, salt, iterations). The password
//! is used as its UTF-8 bytes, without SASLprep, as Kafka's own client and
//! broker do (so non-ASCII passwords match what the broker stored).
//!
//! Checked on the broker's answers: the nonce must extend ours; at least
//! 4096 iterations (Kafka's minimum for both mechanisms) and at most
//! [`MAX_ITERATIONS`] (a broker cannot make us spin); no mandatory
//! extension we do not know; an `e=` answer and a server signature that
//! does not match are authentication failures.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use super::{Credentials, Exchange, Secret, Step, auth_failed};
use crate::error::{Context, Error, Result};

/// Kafka's minimum iteration count for SCRAM-SHA-256 and -512.
pub(crate) const MIN_ITERATIONS: u32 = 4096;

/// The most iterations we accept from a broker: several times Kafka's
/// largest allowed (16384, KIP-554), small enough that a hostile broker
/// cannot keep a thread hashing for long.
pub(crate) const MAX_ITERATIONS: u32 = 100_000;

/// The hash of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScramHash {
    Sha256,
    Sha512,
}

impl ScramHash {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ScramHash::Sha256 => "SCRAM-SHA-256",
            ScramHash::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// HMAC(key, data). HMAC takes keys of any length, so this does not
    /// fail; the `Result` only spares a panic path.
    pub(crate) fn hmac(self, key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
            let mut mac = <M as Mac>::new_from_slice(key)
                .map_err(|_| auth_failed("SCRAM: HMAC refused the key"))?;
            mac.update(data);
            Ok(mac.finalize().into_bytes().to_vec())
        }
        match self {
            ScramHash::Sha256 => run::<Hmac<Sha256>>(key, data),
            ScramHash::Sha512 => run::<Hmac<Sha512>>(key, data),
        }
    }

    pub(crate) fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    pub(crate) fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => {
                let mut out = vec![0; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out
            }
            ScramHash::Sha512 => {
                let mut out = vec![0; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out
            }
        }
    }
}

/// Where the exchange is.
enum State {
    Start,
    /// client-first sent; waiting for server-first.
    SentFirst,
    /// client-final sent; waiting for server-final, which must carry this
    /// server signature.
    SentFinal {
        server_signature: Vec<u8>,
    },
    Done,
}

/// One SCRAM exchange (a new one per authentication: fresh nonce).
pub(crate) struct Scram {
    hash: ScramHash,
    password: Secret,
    client_nonce: String,
    client_first_bare: String,
    state: State,
}

impl Scram {
    /// An exchange for `credentials` with a random nonce (24 bytes from
    /// the OS, base64: 32 printable characters, no comma).
    pub(crate) fn new(hash: ScramHash, credentials: &Credentials) -> Result<Scram> {
        let mut raw = [0u8; 24];
        getrandom::fill(&mut raw).map_err(|e| {
            Error::io(
                std::io::Error::other(format!("no random bytes for the SCRAM nonce: {e}")),
                Context::api("SaslAuthenticate"),
            )
        })?;
        Scram::with_nonce(hash, credentials, &B64.encode(raw))
    }

    /// An exchange with a given nonce (the RFC examples; tests).
    pub(crate) fn with_nonce(
        hash: ScramHash,
        credentials: &Credentials,
        nonce: &str,
    ) -> Result<Scram> {
        if credentials.username().is_empty() {
            return Err(Error::Config(format!(
                "SASL {}: the username is empty",
                hash.name()
            )));
        }
        Ok(Scram {
            hash,
            password: Secret(credentials.password().to_owned()),
            client_nonce: nonce.to_owned(),
            client_first_bare: format!("n={},r={nonce}", escape_username(credentials.username())),
            state: State::Start,
        })
    }

    fn failed(&self, why: impl std::fmt::Display) -> Error {
        auth_failed(format!("{}: {why}", self.hash.name()))
    }

    /// server-first → client-final (and the server signature to expect).
    fn client_final(&self, server_first: &[u8]) -> Result<(String, Vec<u8>)> {
        let server_first = std::str::from_utf8(server_first)
            .map_err(|_| self.failed("the server-first message is not UTF-8"))?;
        let mut attrs = server_first.split(',');
        let nonce = match attrs.next().and_then(|a| a.split_once('=')) {
            Some(("r", nonce)) => nonce,
            Some(("m", _)) => {
                return Err(self.failed("the broker requires an extension we do not know"));
            }
            Some(("e", error)) => return Err(self.failed(format!("the broker refused: {error}"))),
            _ => return Err(self.failed("malformed server-first message (no nonce)")),
        };
        if !nonce.starts_with(&self.client_nonce) || nonce.len() <= self.client_nonce.len() {
            return Err(self.failed("the server nonce does not extend the client nonce"));
        }
        let salt = match attrs.next().and_then(|a| a.split_once('=')) {
            Some(("s", salt)) => B64
                .decode(salt)
                .ok()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| self.failed("malformed salt"))?,
            _ => return Err(self.failed("malformed server-first message (no salt)")),
        };
        let iterations: u32 = match attrs.next().and_then(|a| a.split_once('=')) {
            Some(("i", i)) => i
                .parse()
                .map_err(|_| self.failed("malformed iteration count"))?,
            _ => {
                return Err(self.failed("malformed server-first message (no iteration count)"));
            }
        };
        if iterations < MIN_ITERATIONS {
            return Err(self.failed(format!(
                "iteration count {iterations} is below the minimum {MIN_ITERATIONS}"
            )));
        }
        if iterations > MAX_ITERATIONS {
            return Err(self.failed(format!(
                "iteration count {iterations} is above the maximum {MAX_ITERATIONS} we accept"
            )));
        }

        let h = self.hash;
        let salted = h.salted_password(self.password.expose().as_bytes(), &salt, iterations);
        let client_key = h.hmac(&salted, b"Client Key")?;
        let stored_key = h.hash(&client_key);
        // "biws" is base64("n,,"): no channel binding, no authzid.
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let client_signature = h.hmac(&stored_key, auth_message.as_bytes())?;
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = h.hmac(&salted, b"Server Key")?;
        let server_signature = h.hmac(&server_key, auth_message.as_bytes())?;
        Ok((
            format!("{without_proof},p={}", B64.encode(proof)),
            server_signature,
        ))
    }

    /// Checks server-final against the expected signature.
    fn verify(&self, server_final: &[u8], expected: &[u8]) -> Result<()> {
        let server_final = std::str::from_utf8(server_final)
            .map_err(|_| self.failed("the server-final message is not UTF-8"))?;
        let first = server_final.split(',').next().unwrap_or_default();
        match first.split_once('=') {
            Some(("e", error)) => Err(self.failed(format!("the broker refused: {error}"))),
            Some(("v", signature)) => {
                let got = B64
                    .decode(signature)
                    .map_err(|_| self.failed("malformed server signature"))?;
                if constant_time_eq(&got, expected) {
                    Ok(())
                } else {
                    Err(self.failed(
                        "the server signature does not match: the broker does not know \
                         this password (or is not the broker)",
                    ))
                }
            }
            _ => Err(self.failed("malformed server-final message")),
        }
    }
}

impl Exchange for Scram {
    fn step(&mut self, server: Option<&[u8]>) -> Result<Step> {
        match (std::mem::replace(&mut self.state, State::Done), server) {
            (State::Start, _) => {
                self.state = State::SentFirst;
                Ok(Step::Send(
                    format!("n,,{}", self.client_first_bare).into_bytes(),
                ))
            }
            (State::SentFirst, Some(server_first)) => {
                let (client_final, server_signature) = self.client_final(server_first)?;
                self.state = State::SentFinal { server_signature };
                Ok(Step::Send(client_final.into_bytes()))
            }
            (State::SentFinal { server_signature }, Some(server_final)) => {
                self.verify(server_final, &server_signature)?;
                Ok(Step::Done)
            }
            _ => Err(self.failed("unexpected step in the exchange")),
        }
    }
}

/// RFC 5802's saslname: `=` and `,` escaped as `=3D` and `=2C`.
fn escape_username(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

/// Equality whose time does not depend on where the slices differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7677 section 3: user "user", password "pencil".
    const NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn rfc_exchange() -> Scram {
        Scram::with_nonce(
            ScramHash::Sha256,
            &Credentials::new("user", "pencil"),
            NONCE,
        )
        .unwrap()
    }

    fn text(step: Step) -> String {
        match step {
            Step::Send(b) => String::from_utf8(b).unwrap(),
            Step::Done => panic!("exchange ended early"),
        }
    }

    /// The client's side of an exchange up to (and including) the message
    /// answering `server_first`.
    fn answer(server_first: &str) -> Result<(Scram, Step)> {
        let mut s = rfc_exchange();
        s.step(None)?;
        let step = s.step(Some(server_first.as_bytes()))?;
        Ok((s, step))
    }

    #[test]
    fn rfc_7677_example_exchange() {
        let mut s = rfc_exchange();
        assert_eq!(
            text(s.step(None).unwrap()),
            "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
        );
        assert_eq!(
            text(s.step(Some(SERVER_FIRST.as_bytes())).unwrap()),
            CLIENT_FINAL
        );
        assert_eq!(s.step(Some(SERVER_FINAL.as_bytes())).unwrap(), Step::Done);
    }

    #[test]
    fn a_wrong_server_signature_is_refused() {
        let (mut s, _) = answer(SERVER_FIRST).unwrap();
        // The RFC's signature with one character changed.
        let err = s
            .step(Some(b"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="))
            .unwrap_err();
        assert_eq!(
            err.code(),
            Some(crate::ErrorCode::SASL_AUTHENTICATION_FAILED)
        );
        assert!(
            err.to_string().contains("server signature does not match"),
            "{err}"
        );
        assert!(!err.is_retriable());
    }

    #[test]
    fn a_server_error_is_an_authentication_failure_with_its_text() {
        let (mut s, _) = answer(SERVER_FIRST).unwrap();
        let err = s.step(Some(b"e=invalid-proof")).unwrap_err();
        assert_eq!(
            err.code(),
            Some(crate::ErrorCode::SASL_AUTHENTICATION_FAILED)
        );
        assert!(err.to_string().contains("invalid-proof"), "{err}");
        // In server-first too.
        let err = answer("e=unknown-user").err().unwrap();
        assert!(err.to_string().contains("unknown-user"), "{err}");
    }

    #[test]
    fn a_server_nonce_not_extending_ours_is_refused() {
        for server_first in [
            // Another client's nonce.
            "r=XXprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            // Ours, not extended.
            "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            // A prefix of ours.
            "r=rOprNG,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        ] {
            let err = answer(server_first).err().unwrap();
            assert!(err.to_string().contains("does not extend"), "{err}");
        }
    }

    #[test]
    fn iteration_counts_out_of_bounds_are_refused() {
        let first = |i: &str| {
            format!(
                "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i={i}"
            )
        };
        let err = answer(&first("4095")).err().unwrap();
        assert!(err.to_string().contains("below the minimum 4096"), "{err}");
        let err = answer(&first("100001")).err().unwrap();
        assert!(err.to_string().contains("above the maximum"), "{err}");
        for bad in ["", "-1", "many", "99999999999"] {
            assert!(answer(&first(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn malformed_server_first_messages_are_refused() {
        for server_first in [
            "",
            "garbage",
            "m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "r=rOprNGfwEbeRWgbNEkqOx,i=4096",
            "r=rOprNGfwEbeRWgbNEkqOx,s=!!!,i=4096",
            "r=rOprNGfwEbeRWgbNEkqOx,s=,i=4096",
            "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==",
        ] {
            let err = answer(server_first).err().unwrap();
            assert_eq!(
                err.code(),
                Some(crate::ErrorCode::SASL_AUTHENTICATION_FAILED),
                "{server_first}: {err}"
            );
        }
        let (mut s, _) = answer(SERVER_FIRST).unwrap();
        assert!(s.step(Some(b"x=1")).is_err());
        assert!(
            s.step(Some(SERVER_FINAL.as_bytes())).is_err(),
            "no step after a failure"
        );
    }

    #[test]
    fn scram_sha_512_derives_with_sha_512() {
        // The same messages under SHA-512: the proof is 64 bytes, and the
        // exchange completes with the signature it computed.
        let mut s = Scram::with_nonce(
            ScramHash::Sha512,
            &Credentials::new("user", "pencil"),
            NONCE,
        )
        .unwrap();
        s.step(None).unwrap();
        let client_final = text(s.step(Some(SERVER_FIRST.as_bytes())).unwrap());
        let proof = client_final.rsplit_once(",p=").unwrap().1;
        assert_eq!(B64.decode(proof).unwrap().len(), 64);
        let State::SentFinal { server_signature } = &s.state else {
            panic!("not waiting for server-final")
        };
        let server_final = format!("v={}", B64.encode(server_signature));
        assert_eq!(s.step(Some(server_final.as_bytes())).unwrap(), Step::Done);
    }

    #[test]
    fn usernames_are_escaped_and_nonces_are_fresh() {
        let c = Credentials::new("a=b,c", "p");
        let mut s = Scram::new(ScramHash::Sha256, &c).unwrap();
        let first = text(s.step(None).unwrap());
        assert!(first.starts_with("n,,n=a=3Db=2Cc,r="), "{first}");
        let nonce = first.rsplit_once("r=").unwrap().1;
        assert_eq!(nonce.len(), 32);
        assert!(!nonce.contains(','));
        let other = Scram::new(ScramHash::Sha256, &c).unwrap();
        assert_ne!(other.client_nonce, s.client_nonce);
    }
}
