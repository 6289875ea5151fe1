//! Configuration from Java-style properties: the `key=value` files that
//! Kafka's tools take with `--command-config`, `--producer.config` or
//! `--consumer.config`, or a map built in code.
//!
//! [`Properties`] is the parsed map. Each layer takes the keys it knows:
//! [`ClientBuilder::from_properties`](crate::ClientBuilder::from_properties)
//! the connection settings, `ProducerBuilder::properties` and
//! `ConsumerBuilder::properties` their own. One file can hold them all: a
//! layer ignores the keys another layer knows, refuses keys the Java client
//! has but kafkit does not implement (TLS, SASL, interceptors: "not
//! supported"), ignores a few harmless Java-only keys (serializer classes,
//! metric reporters) with a `debug!`, and refuses any other key by name.
//! Values are checked and a bad one is refused naming its key.
//!
//! ```
//! # async fn demo() -> kafkit::Result<()> {
//! use kafkit::{Client, ClientBuilder, Properties};
//! use kafkit::producer::Producer;
//!
//! let props = Properties::parse(
//!     "bootstrap.servers=PLAINTEXT://localhost:9092\n\
//!      client.id=demo\n\
//!      acks=all\n\
//!      linger.ms=10\n",
//! )?;
//! let client = ClientBuilder::from_properties(&props)?.build().await?;
//! let producer = Producer::<String, String>::builder(&client)
//!     .properties(&props)?
//!     .build()?;
//! # let _ = producer; Ok(()) }
//! ```

mod apply;

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};

/// A parsed set of Java-style configuration properties (`key=value`).
///
/// Read one with [`Properties::from_file`] or [`Properties::parse`], or
/// collect it from pairs:
///
/// ```
/// let props: kafkit::Properties =
///     [("bootstrap.servers", "localhost:9092"), ("group.id", "g")].into_iter().collect();
/// assert_eq!(props.get("group.id"), Some("g"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    entries: BTreeMap<String, String>,
}

impl Properties {
    /// An empty set.
    pub fn new() -> Properties {
        Properties::default()
    }

    /// Reads a `.properties` file (see [`Properties::parse`] for the format).
    /// An unreadable file is a config error naming its path.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Properties> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Config(format!(
                "cannot read properties file {}: {e}",
                path.display()
            ))
        })?;
        Properties::parse(&text)
            .map_err(|e| Error::Config(format!("properties file {}: {e}", path.display())))
    }

    /// Parses the text of a `.properties` file, as `java.util.Properties`
    /// does for what Kafka configs use: one `key=value` or `key: value` (or
    /// `key value`) per line, keys and values trimmed; lines starting with
    /// `#` or `!` are comments; a line ending in an odd number of `\`
    /// continues on the next line; escapes `\t \n \r \f \\ \= \: \# \!`,
    /// `\ ` and `\uXXXX`. A later key replaces an earlier one.
    pub fn parse(text: &str) -> Result<Properties> {
        let mut props = Properties::new();
        let mut lines = text.lines().enumerate();
        while let Some((number, first)) = lines.next() {
            let first = first.trim_start();
            if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
                continue;
            }
            // Join continuation lines (the next line's leading blanks go).
            let mut logical = String::from(first);
            while ends_with_odd_backslashes(&logical) {
                logical.pop();
                match lines.next() {
                    Some((_, next)) => logical.push_str(next.trim_start()),
                    None => break,
                }
            }
            let (key, value) = split_key_value(&logical);
            let key = unescape(key).map_err(|e| line_error(number, &e))?;
            let value = unescape(value).map_err(|e| line_error(number, &e))?;
            props.set(key.trim(), value.trim());
        }
        Ok(props)
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// Sets `key` to `value`, replacing an earlier value.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.entries.insert(key.into(), value.into());
        self
    }

    /// Removes `key`; returns its value, if it was set.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.entries.remove(key)
    }

    /// The entries, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many keys are set.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Properties {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Properties {
        let mut props = Properties::new();
        props.extend(iter);
        props
    }
}

impl<K: Into<String>, V: Into<String>> Extend<(K, V)> for Properties {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.set(k, v);
        }
    }
}

fn line_error(index: usize, why: &str) -> Error {
    Error::Config(format!("line {}: {why}", index + 1))
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.bytes().rev().take_while(|b| *b == b'\\').count() % 2 == 1
}

/// Splits a logical line at the first unescaped `=`, `:` or blank (blanks
/// around the separator belong to it). Both halves are still escaped.
fn split_key_value(line: &str) -> (&str, &str) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' | b':' | b' ' | b'\t' | b'\x0c' => break,
            _ => i += 1,
        }
    }
    let i = i.min(bytes.len());
    let key = &line[..i];
    let rest = line[i..].trim_start_matches([' ', '\t', '\x0c']);
    let rest = rest
        .strip_prefix('=')
        .or_else(|| rest.strip_prefix(':'))
        .unwrap_or(rest);
    (key, rest.trim_start_matches([' ', '\t', '\x0c']))
}

fn unescape(s: &str) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4)
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("malformed \\u escape \"\\u{hex}\""))?;
                out.push(code);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_java_format() {
        let text = "# a comment\n\
                    ! another\n\
                    \n\
                    bootstrap.servers = a:1, b:2\n\
                    client.id:my-app  \n\
                    \x20\x20linger.ms 5\n\
                    sasl.jaas.config=org.Foo required \\\n\
                    \x20\x20\x20\x20username=\"u\";\n\
                    key\\=with\\:seps=v\\tx\\u0041\n\
                    empty=\n\
                    only.key\n\
                    client.id=replaced\n";
        let p = Properties::parse(text).unwrap();
        assert_eq!(p.get("bootstrap.servers"), Some("a:1, b:2"));
        assert_eq!(p.get("client.id"), Some("replaced"));
        assert_eq!(p.get("linger.ms"), Some("5"));
        assert_eq!(
            p.get("sasl.jaas.config"),
            Some("org.Foo required username=\"u\";")
        );
        assert_eq!(p.get("key=with:seps"), Some("v\txA"));
        assert_eq!(p.get("empty"), Some(""));
        assert_eq!(p.get("only.key"), Some(""));
        assert_eq!(p.len(), 7);
    }

    #[test]
    fn a_bad_escape_names_its_line() {
        let err = Properties::parse("a=1\nb=\\u12\n").unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn collects_from_pairs_and_reads_files() {
        let p: Properties = [("a", "1"), ("b", "2")].into_iter().collect();
        assert_eq!(p.iter().collect::<Vec<_>>(), [("a", "1"), ("b", "2")]);
        let dir = std::env::temp_dir().join(format!("kafkit-props-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("client.properties");
        std::fs::write(&file, "a=1\nb: 2\n").unwrap();
        assert_eq!(Properties::from_file(&file).unwrap(), p);
        let missing = dir.join("missing.properties");
        let err = Properties::from_file(&missing).unwrap_err().to_string();
        assert!(err.contains("missing.properties"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
