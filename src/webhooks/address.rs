//! Where a webhook may point. A URL is `https`, or `http` to a loopback
//! address only with `WEBHOOK_ALLOW_PRIVATE=true`; it carries no user
//! name or password (they would be secrets in every log and listing); its
//! host is one of `WEBHOOK_ALLOWED_HOSTS` when that is set (checked before
//! any DNS lookup); and every address it resolves to is public (not
//! private, loopback, link-local, multicast, unspecified or otherwise
//! reserved, in IPv4, IPv6 and IPv4 inside IPv6) unless private addresses
//! are allowed.
//!
//! The rules are applied at creation (every address the host resolves to,
//! within [`RESOLVE_TIMEOUT`]) and again at every attempt, by
//! [`CheckedResolver`]: the HTTP client connects only to the addresses it
//! returns, which are the ones it checked, so a host that resolves to a
//! public address at creation and to a private one later (DNS rebinding)
//! is never reached there.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use url::{Host, Url};

use super::MAX_URL_CHARS;

/// How long a lookup at creation may take before the URL is refused.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

/// The address rules of one process, from `Settings`.
#[derive(Debug, Clone, Default)]
pub struct AddressRules {
    pub allow_private: bool,
    /// Lower-case host names or IPs; empty allows any host.
    pub allowed_hosts: Vec<String>,
}

impl AddressRules {
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        AddressRules {
            allow_private: settings.webhook_allow_private,
            allowed_hosts: settings.webhook_allowed_hosts.clone(),
        }
    }

    /// Whether a URL of this scheme may reach `ip`: plain `http` only a
    /// loopback address (and only when private addresses are allowed);
    /// `https` a public address, or any when private ones are allowed.
    pub fn allows(&self, plain_http: bool, ip: IpAddr) -> bool {
        if plain_http {
            self.allow_private && is_loopback(ip)
        } else {
            self.allow_private || is_public(ip)
        }
    }

    /// The URL's syntax, scheme, credentials and host, with no lookup.
    /// The message says what is wrong, for the `url` field of a 400.
    pub fn parse(&self, text: &str) -> Result<Url, String> {
        if text.chars().count() > MAX_URL_CHARS {
            return Err(format!("must be at most {MAX_URL_CHARS} characters"));
        }
        let url = Url::parse(text.trim()).map_err(|e| format!("is not an absolute URL ({e})"))?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_private => {}
            "http" => return Err("must use https".into()),
            other => return Err(format!("must use https, not {other:?}")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry a user name or password".into());
        }
        let host = host_of(&url).ok_or("must name a host")?;
        if !self.allowed_hosts.is_empty() && !self.allowed_hosts.contains(&host) {
            return Err(format!(
                "host {host:?} is not one of the hosts this service may call"
            ));
        }
        if let Some(ip) = literal_ip(&url) {
            if !self.allows(url.scheme() == "http", ip) {
                return Err(refused(url.scheme() == "http"));
            }
        }
        Ok(url)
    }

    /// [`Self::parse`], then every address the host resolves to (within
    /// [`RESOLVE_TIMEOUT`]) must be allowed.
    pub async fn check(&self, text: &str) -> Result<Url, String> {
        let url = self.parse(text)?;
        if literal_ip(&url).is_some() {
            return Ok(url);
        }
        let host = host_of(&url).ok_or("must name a host")?;
        let port = url.port_or_known_default().unwrap_or(443);
        let lookup = tokio::net::lookup_host((host.clone(), port));
        let addresses: Vec<SocketAddr> = match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
            Err(_) => return Err(format!("host {host:?} did not resolve within 2 s")),
            Ok(Err(_)) => return Err(format!("host {host:?} does not resolve")),
            Ok(Ok(found)) => found.collect(),
        };
        if addresses.is_empty() {
            return Err(format!("host {host:?} does not resolve"));
        }
        let plain_http = url.scheme() == "http";
        if addresses.iter().any(|a| !self.allows(plain_http, a.ip())) {
            return Err(refused(plain_http));
        }
        Ok(url)
    }
}

fn refused(plain_http: bool) -> String {
    if plain_http {
        "plain http may only reach a loopback address".into()
    } else {
        "resolves to a private, loopback, link-local or reserved address".into()
    }
}

/// The host, lower-case, without IPv6 brackets.
pub fn host_of(url: &Url) -> Option<String> {
    match url.host()? {
        Host::Domain(name) => Some(name.trim_end_matches('.').to_ascii_lowercase()),
        Host::Ipv4(ip) => Some(ip.to_string()),
        Host::Ipv6(ip) => Some(ip.to_string()),
    }
}

/// The host when it is an IP address (the client then connects to it
/// without asking a resolver).
pub fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Domain(_) => None,
        Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
    }
}

/// Loopback in IPv4, IPv6, or IPv4 inside IPv6.
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || embedded_v4(v6).is_some_and(|v4| v4.is_loopback()),
    }
}

/// Whether `ip` is an ordinary public unicast address. Hand-written
/// because the standard library's `is_global` is still unstable and
/// `ipnet` has no such test; the ranges are IANA's special-purpose
/// registries.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let [first, second, third, ..] = ip.segments();
    // Only global unicast (2000::/3) is public; everything outside it
    // (loopback, unspecified, multicast, unique local, link-local, IPv4-
    // translated forms, local-use NAT64) is refused. Inside it, ranges that
    // reach no public host or tunnel to an IPv4 address unseen:
    (first & 0xe000) == 0x2000
        && !(first == 0x2001 && second == 0x0db8) // documentation
        && !(first == 0x2001 && second == 0) // Teredo 2001::/32
        && !(first == 0x2001 && second == 0x0002 && third == 0) // benchmarking 2001:2::/48
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`) or 6to4
/// (`2002::/16`) address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        return Some(tail);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(tail);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    None
}

/// The resolver of the delivery client: it looks the host up and returns
/// only the addresses the rules allow, so the client connects to nothing
/// else; none left is an error naming no secret.
#[derive(Debug, Clone)]
pub struct CheckedResolver {
    pub rules: AddressRules,
    pub plain_http: bool,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = self.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = found
                .filter(|a| resolver.rules.allows(resolver.plain_http, a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(format!(
                    "{} at every address it resolves to",
                    refused(resolver.plain_http)
                )
                .into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn special_addresses_are_not_public() {
        for text in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "224.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "100.64.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:c0a8:101::1",
            "::ffff:0:a00:1",      // IPv4-translated 10.0.0.1
            "64:ff9b:1::a00:1",    // local-use NAT64
            "2001:0:4136:e378::1", // Teredo
            "2001:2::1",           // benchmarking
            "2001:db8::1",         // documentation
            "100::1",              // discard-only
        ] {
            assert!(!is_public(ip(text)), "{text} taken for public");
        }
        for text in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip(text)), "{text} taken for special");
        }
    }

    #[test]
    fn urls_follow_the_rules() {
        let strict = AddressRules::default();
        assert!(strict.parse("https://93.184.216.34/hook").is_ok());
        assert!(strict.parse("http://93.184.216.34/hook").is_err());
        assert!(strict.parse("https://127.0.0.1/hook").is_err());
        assert!(strict.parse("https://[::ffff:7f00:1]/hook").is_err());
        assert!(strict.parse("https://user:pw@93.184.216.34/").is_err());
        assert!(strict.parse("ftp://93.184.216.34/").is_err());
        assert!(strict
            .parse(&format!("https://a.example/{}", "x".repeat(2048)))
            .is_err());
        let local = AddressRules {
            allow_private: true,
            allowed_hosts: vec!["127.0.0.1".into(), "localhost".into()],
        };
        assert!(local.parse("http://127.0.0.1:9/hook").is_ok());
        assert!(local.parse("http://10.0.0.1/hook").is_err());
        assert!(local.parse("https://example.com/hook").is_err());
    }
}
