//! `bootstrap.servers` in the forms the Java client accepts: a comma list
//! (spaces around entries allowed) of `host:port`, `[ipv6]:port`, each
//! optionally prefixed with a listener scheme such as `PLAINTEXT://`.

use crate::error::{Error, Result};
use crate::net::transport::SecurityProtocol;

/// Parses a `bootstrap.servers` list into addresses to connect to
/// (`host:port`, or `[ipv6]:port`). Empty entries (`a:1,,b:2`, a trailing
/// comma) are skipped as Java does; a bad entry is a config error naming it.
pub(crate) fn parse_list(list: &[String]) -> Result<Vec<String>> {
    let entries: Vec<&str> = list
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if entries.is_empty() {
        return Err(Error::Config("bootstrap.servers is empty".into()));
    }
    entries.into_iter().map(parse_entry).collect()
}

/// Checks that no entry's scheme (`SSL://h:9093`) contradicts
/// `security.protocol`: Java ignores the scheme, but a mismatch is almost
/// always a forgotten `security.protocol`, which would otherwise show as
/// a plaintext client hanging on a TLS port.
pub(crate) fn check_schemes(list: &[String], protocol: SecurityProtocol) -> Result<()> {
    for entry in list.iter().flat_map(|s| s.split(',')).map(str::trim) {
        if let Some((scheme, _)) = entry.split_once("://") {
            if let Ok(given) = scheme.parse::<SecurityProtocol>() {
                if given != protocol {
                    return Err(Error::Config(format!(
                        "bootstrap.servers entry {entry:?} says {given} but security.protocol is {protocol}"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// One entry: `[SCHEME://]host:port` or `[SCHEME://][ipv6]:port`.
pub(crate) fn parse_entry(entry: &str) -> Result<String> {
    let bad = |why: &str| Error::Config(format!("bootstrap.servers entry {entry:?}: {why}"));
    let address = match entry.split_once("://") {
        None => entry,
        Some((scheme, rest)) => {
            if scheme.parse::<SecurityProtocol>().is_err() {
                return Err(bad(&format!("unknown security protocol {scheme:?}")));
            }
            rest
        }
    };
    let (host, port) = if let Some(bracketed) = address.strip_prefix('[') {
        let (host, rest) = bracketed
            .split_once(']')
            .ok_or_else(|| bad("missing ']' after an IPv6 address"))?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad("not an IPv6 address between '[' and ']'"));
        }
        let port = rest
            .strip_prefix(':')
            .ok_or_else(|| bad("expected ':port' after ']'"))?;
        (host, port)
    } else {
        let (host, port) = address
            .rsplit_once(':')
            .ok_or_else(|| bad("expected host:port"))?;
        if host.contains(':') {
            return Err(bad("an IPv6 address must be in brackets: [addr]:port"));
        }
        (host, port)
    };
    if host.is_empty() {
        return Err(bad("the host is empty"));
    }
    if host.contains(|c: char| c.is_whitespace() || c == '/') {
        return Err(bad("the host contains a space or '/'"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(host_port(host, p)),
        _ => Err(bad("the port is not a number from 1 to 65535")),
    }
}

/// `host:port`, with an IPv6 host in brackets (`[::1]:9092`), as both the
/// resolver and people read it. Brokers advertise IPv6 hosts without
/// brackets in metadata.
pub(crate) fn host_port(host: &str, port: impl std::fmt::Display) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Vec<String>> {
        parse_list(&[s.to_owned()])
    }

    #[test]
    fn java_forms_are_accepted() {
        assert_eq!(
            parse(" PLAINTEXT://a:1 , b:2,,plaintext://[::1]:9092, [fe80::1]:3 ,").unwrap(),
            ["a:1", "b:2", "[::1]:9092", "[fe80::1]:3"]
        );
        assert_eq!(parse("localhost:9092").unwrap(), ["localhost:9092"]);
        assert_eq!(parse("10.0.0.1:9092").unwrap(), ["10.0.0.1:9092"]);
    }

    #[test]
    fn bad_entries_are_config_errors_naming_the_entry() {
        for bad in [
            "nohost",
            "h:notaport",
            ":9092",
            "h:70000",
            "h:0",
            "::1:9092",
            "[::1]9092",
            "[::1:9092",
            "[nothex]:1",
            "FOO://h:1",
            "h x:1",
        ] {
            let err = parse(&format!("ok:1, {bad}")).unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{bad}: {err}");
            assert!(
                err.to_string().contains(&format!("{bad:?}")),
                "{bad}: {err}"
            );
        }
        assert!(parse(" , ").unwrap_err().to_string().contains("empty"));
    }

    #[test]
    fn secured_schemes_are_accepted_and_must_match_the_protocol() {
        for scheme in ["SSL", "SASL_SSL", "SASL_PLAINTEXT", "sasl_ssl", "PLAINTEXT"] {
            let entry = format!("{scheme}://h:9093");
            assert_eq!(parse(&entry).unwrap(), ["h:9093"]);
            let protocol: SecurityProtocol = scheme.parse().unwrap();
            assert!(check_schemes(std::slice::from_ref(&entry), protocol).is_ok());
            let other = if protocol == SecurityProtocol::Ssl {
                SecurityProtocol::Plaintext
            } else {
                SecurityProtocol::Ssl
            };
            let err = check_schemes(&[format!("a:1, {entry}")], other)
                .unwrap_err()
                .to_string();
            assert!(err.contains(&entry), "{err}");
            assert!(
                err.contains(&format!("security.protocol is {other}")),
                "{err}"
            );
        }
        assert!(check_schemes(&["a:1,b:2".into()], SecurityProtocol::Ssl).is_ok());
    }

    #[test]
    fn ipv6_hosts_get_brackets() {
        assert_eq!(host_port("::1", 9092), "[::1]:9092");
        assert_eq!(host_port("h", 1), "h:1");
        assert_eq!(host_port("[::1]", 1), "[::1]:1");
    }
}
