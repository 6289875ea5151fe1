//! SASL settings from Java-style properties: Java's `sasl.mechanism` and
//! `sasl.jaas.config`, librdkafka's `sasl.mechanisms`, `sasl.username`,
//! `sasl.password`, `sasl.oauthbearer.config` and
//! `enable.sasl.oauthbearer.unsecure.jwt`.
//!
//! `sasl.jaas.config` is read in the forms Kafka documents:
//!
//! ```text
//! org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="secret";
//! org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="secret";
//! org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="alice";
//! ```
//!
//! Error messages name keys and options, never their values.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Credentials, Mechanism, Sasl, Secret, UnsecuredJwt};
use crate::error::{Error, Result};

/// The SASL keys of one set of properties, collected before they are
/// turned into a [`Sasl`] (they only make sense together).
#[derive(Debug, Default)]
pub(crate) struct SaslSettings {
    mechanism: Option<String>,
    username: Option<String>,
    password: Option<Secret>,
    jaas: Option<Secret>,
    oauthbearer_config: Option<String>,
}

/// The keys [`SaslSettings::set`] takes.
#[cfg(test)]
pub(crate) const SASL_KEYS: &[&str] = &[
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
    "sasl.jaas.config",
    "sasl.oauthbearer.config",
    "enable.sasl.oauthbearer.unsecure.jwt",
];

impl SaslSettings {
    /// Takes `key` if it is a SASL key; says whether it did.
    pub(crate) fn set(&mut self, key: &str, value: &str) -> bool {
        match key {
            "sasl.mechanism" | "sasl.mechanisms" => self.mechanism = Some(value.trim().into()),
            "sasl.username" => self.username = Some(value.into()),
            "sasl.password" => self.password = Some(Secret(value.into())),
            "sasl.jaas.config" => self.jaas = Some(Secret(value.into())),
            "sasl.oauthbearer.config" => self.oauthbearer_config = Some(value.into()),
            // librdkafka's switch for the unsecured JWT that
            // `sasl.oauthbearer.config` describes: that config is enough here.
            "enable.sasl.oauthbearer.unsecure.jwt" => {}
            _ => return false,
        }
        true
    }

    /// Whether any key that configures SASL was given.
    pub(crate) fn is_empty(&self) -> bool {
        self.mechanism.is_none()
            && self.username.is_none()
            && self.password.is_none()
            && self.jaas.is_none()
            && self.oauthbearer_config.is_none()
    }

    /// The SASL settings these keys describe.
    pub(crate) fn build(&self) -> Result<Sasl> {
        let jaas = self
            .jaas
            .as_ref()
            .map(|j| parse_jaas(j.expose()))
            .transpose()?;
        let mechanism = match (&self.mechanism, &jaas) {
            (Some(m), _) => m.parse::<Mechanism>().map_err(|_| {
                Error::Config(format!(
                    "sasl.mechanism={m:?}: expected PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or \
                     OAUTHBEARER (GSSAPI is not supported)"
                ))
            })?,
            (None, Some(j)) => match j.module {
                Module::Plain => Mechanism::Plain,
                Module::OAuthBearer => Mechanism::OAuthBearer,
                Module::Scram => {
                    return Err(Error::Config(
                        "sasl.mechanism is required with ScramLoginModule: \
                         SCRAM-SHA-256 or SCRAM-SHA-512"
                            .into(),
                    ));
                }
            },
            (None, None) => {
                return Err(Error::Config(
                    "sasl.mechanism is required (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or \
                     OAUTHBEARER; Java's default GSSAPI is not supported)"
                        .into(),
                ));
            }
        };
        if let Some(j) = &jaas {
            let expected = match mechanism {
                Mechanism::Plain => Module::Plain,
                Mechanism::ScramSha256 | Mechanism::ScramSha512 => Module::Scram,
                Mechanism::OAuthBearer => Module::OAuthBearer,
            };
            if j.module != expected {
                return Err(Error::Config(format!(
                    "sasl.jaas.config: {} does not go with sasl.mechanism={mechanism} \
                     (expected {})",
                    j.module.class(),
                    expected.class()
                )));
            }
        }
        match mechanism {
            Mechanism::OAuthBearer => Ok(Sasl::oauthbearer(self.unsecured_jwt(jaas.as_ref())?)),
            _ => {
                let option = |name: &str| jaas.as_ref().and_then(|j| j.options.get(name).cloned());
                let username = option("username").or_else(|| self.username.clone());
                let password =
                    option("password").or_else(|| self.password.as_ref().map(|p| p.0.clone()));
                let (Some(username), Some(password)) = (username, password) else {
                    return Err(Error::Config(format!(
                        "sasl.mechanism={mechanism} needs a username and a password \
                         (sasl.jaas.config, or sasl.username and sasl.password)"
                    )));
                };
                Sasl::with_credentials(mechanism, Credentials::new(username, password))
            }
        }
    }

    /// OAUTHBEARER from properties: only unsecured JWTs (Java's
    /// `unsecuredLogin*` options, librdkafka's `sasl.oauthbearer.config`);
    /// real tokens come from a [`TokenProvider`](super::TokenProvider)
    /// given in code.
    fn unsecured_jwt(&self, jaas: Option<&Jaas>) -> Result<UnsecuredJwt> {
        let mut principal = None;
        let mut lifetime = None;
        let mut scope = Vec::new();
        let mut extensions = Vec::new();
        if let Some(j) = jaas {
            for (name, value) in &j.options {
                if name == "unsecuredLoginStringClaim_sub" {
                    principal = Some(value.clone());
                } else if name == "unsecuredLoginLifetimeSeconds" {
                    lifetime = Some(seconds("unsecuredLoginLifetimeSeconds", value)?);
                } else if name == "unsecuredLoginListClaim_scope" {
                    scope = list_claim(value);
                } else if let Some(ext) = name.strip_prefix("unsecuredLoginExtension_") {
                    extensions.push((ext.to_owned(), value.clone()));
                } else {
                    return Err(Error::Config(format!(
                        "sasl.jaas.config: OAuthBearerLoginModule option {name:?} is not \
                         supported"
                    )));
                }
            }
        }
        if let Some(config) = &self.oauthbearer_config {
            for pair in config.split_whitespace() {
                let (name, value) = pair.split_once('=').ok_or_else(|| {
                    Error::Config("sasl.oauthbearer.config: expected name=value pairs".into())
                })?;
                match name {
                    "principal" => principal = Some(value.to_owned()),
                    "lifeSeconds" => lifetime = Some(seconds("lifeSeconds", value)?),
                    "scope" => scope = value.split(',').map(str::to_owned).collect(),
                    _ => match name.strip_prefix("extension_") {
                        Some(ext) => extensions.push((ext.to_owned(), value.to_owned())),
                        None => {
                            return Err(Error::Config(format!(
                                "sasl.oauthbearer.config: {name:?} is not supported"
                            )));
                        }
                    },
                }
            }
        }
        let Some(principal) = principal else {
            return Err(Error::Config(
                "sasl.mechanism=OAUTHBEARER from properties makes unsecured test tokens only, \
                 and needs their principal (unsecuredLoginStringClaim_sub in sasl.jaas.config, \
                 or principal= in sasl.oauthbearer.config); for real tokens give a \
                 TokenProvider with ClientBuilder::sasl(Sasl::oauthbearer(..))"
                    .into(),
            ));
        };
        let mut jwt = UnsecuredJwt::new(principal).with_scope(scope);
        if let Some(lifetime) = lifetime {
            jwt = jwt.with_lifetime(lifetime);
        }
        for (k, v) in extensions {
            jwt = jwt.with_extension(k, v);
        }
        Ok(jwt)
    }
}

fn seconds(name: &str, value: &str) -> Result<Duration> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
        .ok_or_else(|| Error::Config(format!("{name}: expected a positive number of seconds")))
}

/// Java's list claim: when the first character is not a letter or digit
/// it is the delimiter (`",read,write"`), else the value is one item.
fn list_claim(value: &str) -> Vec<String> {
    match value.chars().next() {
        Some(d) if !d.is_alphanumeric() => value[d.len_utf8()..]
            .split(d)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        Some(_) => vec![value.to_owned()],
        None => Vec::new(),
    }
}

/// The login modules Kafka's client uses for the mechanisms here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Module {
    Plain,
    Scram,
    OAuthBearer,
}

impl Module {
    fn class(self) -> &'static str {
        match self {
            Module::Plain => "org.apache.kafka.common.security.plain.PlainLoginModule",
            Module::Scram => "org.apache.kafka.common.security.scram.ScramLoginModule",
            Module::OAuthBearer => {
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule"
            }
        }
    }
}

/// A parsed `sasl.jaas.config`.
#[derive(Debug)]
struct Jaas {
    module: Module,
    options: BTreeMap<String, String>,
}

/// Tokens of a JAAS configuration entry.
#[derive(Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Equals,
    Semicolon,
}

fn jaas_error(why: &str) -> Error {
    Error::Config(format!("sasl.jaas.config: {why}"))
}

/// Splits a JAAS entry into words (bare or double-quoted, with `\`
/// escapes), `=` and `;`.
fn tokens(text: &str) -> Result<Vec<Token>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '=' => {
                chars.next();
                out.push(Token::Equals);
            }
            ';' => {
                chars.next();
                out.push(Token::Semicolon);
            }
            '"' | '\'' => {
                let quote = c;
                chars.next();
                let mut word = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => match chars.next() {
                            Some(e) => word.push(e),
                            None => return Err(jaas_error("unterminated quoted value")),
                        },
                        Some(q) if q == quote => break,
                        Some(ch) => word.push(ch),
                        None => return Err(jaas_error("unterminated quoted value")),
                    }
                }
                out.push(Token::Word(word));
            }
            _ => {
                let mut word = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_whitespace() || matches!(ch, '=' | ';' | '"' | '\'') {
                        break;
                    }
                    word.push(ch);
                    chars.next();
                }
                out.push(Token::Word(word));
            }
        }
    }
    Ok(out)
}

/// `<LoginModule class> <flag> (name=value)* ;` (the `;` may be left out).
fn parse_jaas(text: &str) -> Result<Jaas> {
    let mut tokens = tokens(text)?.into_iter();
    let module = match tokens.next() {
        Some(Token::Word(class)) => match class.rsplit('.').next().unwrap_or_default() {
            "PlainLoginModule" => Module::Plain,
            "ScramLoginModule" => Module::Scram,
            "OAuthBearerLoginModule" => Module::OAuthBearer,
            _ => {
                return Err(Error::Config(format!(
                    "sasl.jaas.config: login module {class:?} is not supported (PlainLoginModule, \
                     ScramLoginModule or OAuthBearerLoginModule)"
                )));
            }
        },
        _ => return Err(jaas_error("expected a login module class")),
    };
    match tokens.next() {
        Some(Token::Word(flag))
            if ["required", "requisite", "sufficient", "optional"].contains(&flag.as_str()) => {}
        _ => {
            return Err(jaas_error(
                "expected a flag (required) after the login module",
            ));
        }
    }
    let mut options = BTreeMap::new();
    loop {
        match tokens.next() {
            None | Some(Token::Semicolon) => break,
            Some(Token::Word(name)) => {
                if tokens.next() != Some(Token::Equals) {
                    return Err(Error::Config(format!(
                        "sasl.jaas.config: expected = after option {name:?}"
                    )));
                }
                let Some(Token::Word(value)) = tokens.next() else {
                    return Err(Error::Config(format!(
                        "sasl.jaas.config: option {name:?} has no value"
                    )));
                };
                options.insert(name, value);
            }
            Some(_) => return Err(jaas_error("expected name=value options")),
        }
    }
    if tokens.next().is_some() {
        return Err(jaas_error("one login module entry only"));
    }
    Ok(Jaas { module, options })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> SaslSettings {
        let mut s = SaslSettings::default();
        for (k, v) in pairs {
            assert!(s.set(k, v), "{k}");
        }
        s
    }

    #[tokio::test]
    async fn java_scram_jaas_with_mechanism() {
        let s = settings(&[
            ("sasl.mechanism", "SCRAM-SHA-512"),
            (
                "sasl.jaas.config",
                "org.apache.kafka.common.security.scram.ScramLoginModule required \
                 username=\"alice\" password=\"al\\\"ice-secret\";",
            ),
        ]);
        let sasl = s.build().unwrap();
        assert_eq!(sasl.mechanism(), Mechanism::ScramSha512);
        let super::super::Source::Password(p) = &sasl.source else {
            panic!("password mechanism")
        };
        let c = p.credentials().await.unwrap();
        assert_eq!((c.username(), c.password()), ("alice", "al\"ice-secret"));
    }

    #[tokio::test]
    async fn plain_jaas_alone_implies_plain_and_librdkafka_keys_work() {
        let sasl = settings(&[(
            "sasl.jaas.config",
            "org.apache.kafka.common.security.plain.PlainLoginModule required username=bob password=pw",
        )])
        .build()
        .unwrap();
        assert_eq!(sasl.mechanism(), Mechanism::Plain);

        let sasl = settings(&[
            ("sasl.mechanisms", "SCRAM-SHA-256"),
            ("sasl.username", "carol"),
            ("sasl.password", "pw"),
        ])
        .build()
        .unwrap();
        assert_eq!(sasl.mechanism(), Mechanism::ScramSha256);
        let super::super::Source::Password(p) = &sasl.source else {
            panic!("password mechanism")
        };
        assert_eq!(p.credentials().await.unwrap().username(), "carol");
    }

    #[tokio::test]
    async fn oauthbearer_unsecured_from_java_and_librdkafka_forms() {
        for s in [
            settings(&[(
                "sasl.jaas.config",
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
                 unsecuredLoginStringClaim_sub=\"alice\" unsecuredLoginLifetimeSeconds=\"60\" \
                 unsecuredLoginListClaim_scope=\",read,write\" unsecuredLoginExtension_traceId=\"7\";",
            )]),
            settings(&[
                ("sasl.mechanism", "OAUTHBEARER"),
                ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
                (
                    "sasl.oauthbearer.config",
                    "principal=alice lifeSeconds=60 scope=read,write extension_traceId=7",
                ),
            ]),
        ] {
            let sasl = s.build().unwrap();
            assert_eq!(sasl.mechanism(), Mechanism::OAuthBearer);
            let super::super::Source::Token(p) = &sasl.source else {
                panic!("token mechanism")
            };
            let t = p.token().await.unwrap();
            assert_eq!(t.principal(), Some("alice"));
            assert_eq!(t.extensions(), [("traceId".into(), "7".into())]);
            let left = t
                .expires_at()
                .duration_since(std::time::SystemTime::now())
                .unwrap();
            assert!(left <= Duration::from_secs(60) && left > Duration::from_secs(50));
        }
    }

    #[test]
    fn bad_settings_are_config_errors_that_never_show_secrets() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("sasl.username", "u")], "sasl.mechanism is required"),
            (&[("sasl.mechanism", "GSSAPI")], "GSSAPI is not supported"),
            (
                &[("sasl.mechanism", "SCRAM-SHA-256"), ("sasl.username", "u")],
                "needs a username and a password",
            ),
            (
                &[(
                    "sasl.jaas.config",
                    "org.apache.kafka.common.security.scram.ScramLoginModule required username=u password=topsecret;",
                )],
                "sasl.mechanism is required with ScramLoginModule",
            ),
            (
                &[
                    ("sasl.mechanism", "PLAIN"),
                    (
                        "sasl.jaas.config",
                        "org.apache.kafka.common.security.scram.ScramLoginModule required username=u password=topsecret;",
                    ),
                ],
                "does not go with sasl.mechanism=PLAIN",
            ),
            (
                &[(
                    "sasl.jaas.config",
                    "com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;",
                )],
                "Krb5LoginModule\" is not supported",
            ),
            (
                &[(
                    "sasl.jaas.config",
                    "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"topsecret",
                )],
                "unterminated",
            ),
            (
                &[(
                    "sasl.jaas.config",
                    "org.apache.kafka.common.security.plain.PlainLoginModule username=u password=topsecret;",
                )],
                "expected a flag",
            ),
            (
                &[(
                    "sasl.jaas.config",
                    "org.apache.kafka.common.security.plain.PlainLoginModule required username=u password topsecret;",
                )],
                "expected = after option \"password\"",
            ),
            (&[("sasl.mechanism", "OAUTHBEARER")], "give a TokenProvider"),
        ];
        for (pairs, expected) in cases {
            let err = settings(pairs).build().err().unwrap();
            let text = err.to_string();
            assert!(matches!(err, Error::Config(_)), "{text}");
            assert!(text.contains(expected), "{expected}: {text}");
            assert!(!text.contains("topsecret"), "{text}");
        }
    }
}
