//! Who the client is: the one place that turns a request into the address
//! the rate limits, the stream cap and `auth_sessions` record.
//!
//! With `TRUSTED_PROXIES` empty (the default) the client is the socket
//! peer and forwarded headers are ignored, since a client writes them as it
//! likes. When the peer is a trusted proxy, `X-Forwarded-For` is read from
//! its right end (each proxy appends the address it saw): trusted entries
//! are skipped, and the first one that is not trusted is the client. What a
//! client put further left is never believed, so a spoofed leftmost entry
//! changes nothing. Only `X-Forwarded-For` is read (not `Forwarded`), and
//! only behind a trusted peer.
//!
//! IPv6 clients commonly hold a whole /64, so limits count an IPv6 address
//! by its /64 ([`ClientAddr::limit_key`]); the full address is still what
//! is recorded.

use std::future::{ready, Ready};
use std::net::IpAddr;

use actix_web::dev::{Payload, ServiceRequest};
use actix_web::http::header::HeaderMap;
use actix_web::{web, FromRequest, HttpRequest};
use ipnet::{IpNet, Ipv6Net};

use crate::error::AppError;
use crate::state::AppState;

/// The header a trusted proxy appends the address it saw to.
const FORWARDED_FOR: &str = "x-forwarded-for";

/// The client's address as this service judges it. An extractor: a
/// handler takes `ClientAddr` like any other argument; it is `None` inside
/// only when the request came over no socket with an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

impl ClientAddr {
    /// The client of `req`, behind the proxies the app's settings trust.
    pub fn of(req: &HttpRequest) -> ClientAddr {
        let trusted = req
            .app_data::<web::Data<AppState>>()
            .map(|state| state.settings.trusted_proxies.as_slice())
            .unwrap_or_default();
        ClientAddr(resolve(
            req.peer_addr().map(|a| a.ip()),
            req.headers(),
            trusted,
        ))
    }

    /// The same, for middleware (the access log).
    pub fn of_service_request(req: &ServiceRequest) -> ClientAddr {
        Self::of(req.request())
    }

    /// The full address as text, as `auth_sessions` stores it.
    pub fn to_text(self) -> Option<String> {
        self.0.map(|ip| ip.to_string())
    }

    /// What a per-address limit counts by: an IPv4 address itself, an
    /// IPv6 address's /64 network (`2001:db8:1:2::/64`). Requests with no
    /// address share one key.
    pub fn limit_key(self) -> String {
        match self.0 {
            Some(IpAddr::V4(v4)) => v4.to_string(),
            Some(IpAddr::V6(v6)) => Ipv6Net::new(v6, 64)
                .map(|net| net.trunc().to_string())
                .unwrap_or_else(|_| v6.to_string()),
            None => "unknown".to_string(),
        }
    }
}

impl FromRequest for ClientAddr {
    type Error = AppError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(ClientAddr::of(req)))
    }
}

/// The client behind `peer`: the peer itself unless it is trusted; then
/// the rightmost `X-Forwarded-For` entry that is not trusted. An entry
/// that is no address stops the walk at the last trusted hop (we cannot
/// tell who wrote it); a chain of trusted hops only ends at its leftmost.
pub fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer.map(|ip| ip.to_canonical())?;
    if !is_trusted(peer, trusted) {
        return Some(peer);
    }
    // Several header lines read as one list, in order.
    let entries: Vec<&str> = headers
        .get_all(FORWARDED_FOR)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(hop) = parse_entry(entry) else {
            break;
        };
        client = hop;
        if !is_trusted(hop, trusted) {
            break;
        }
    }
    Some(client)
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// An `X-Forwarded-For` entry: an address, possibly with a port
/// (`192.0.2.1:443`, `[2001:db8::1]:443`) or in brackets.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let ip = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .and_then(|e| e.parse::<IpAddr>().ok())
        })?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(
                HeaderName::from_static(FORWARDED_FOR),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn nets(list: &str) -> Vec<IpNet> {
        crate::config::trusted_proxies(Some(list)).unwrap()
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let forwarded = headers(&["203.0.113.9"]);
        assert_eq!(
            resolve(ip("198.51.100.1"), &forwarded, &[]),
            ip("198.51.100.1")
        );
        let trusted = nets("10.0.0.0/8");
        assert_eq!(
            resolve(ip("198.51.100.1"), &forwarded, &trusted),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_entry_is_the_client() {
        let trusted = nets("127.0.0.1/32, 10.0.0.0/8");
        let chain = headers(&["1.1.1.1, 203.0.113.9", "10.0.0.7"]);
        assert_eq!(
            resolve(ip("127.0.0.1"), &chain, &trusted),
            ip("203.0.113.9")
        );
        // No header: the proxy itself.
        assert_eq!(
            resolve(ip("127.0.0.1"), &HeaderMap::new(), &trusted),
            ip("127.0.0.1")
        );
        // Every hop trusted: the leftmost.
        let internal = headers(&["10.0.0.9, 10.0.0.8"]);
        assert_eq!(
            resolve(ip("127.0.0.1"), &internal, &trusted),
            ip("10.0.0.9")
        );
        // Garbage where the client should be: the last trusted hop.
        let garbage = headers(&["1.1.1.1, nonsense, 10.0.0.8"]);
        assert_eq!(resolve(ip("127.0.0.1"), &garbage, &trusted), ip("10.0.0.8"));
    }

    #[test]
    fn entries_with_ports_brackets_and_mapped_addresses_parse() {
        let trusted = nets("127.0.0.1");
        for (entry, expected) in [
            ("192.0.2.1:443", "192.0.2.1"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("::ffff:192.0.2.5", "192.0.2.5"),
        ] {
            assert_eq!(
                resolve(ip("127.0.0.1"), &headers(&[entry]), &trusted),
                ip(expected),
                "{entry}"
            );
        }
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        let a = ClientAddr(ip("2001:db8:1:2:aaaa::1"));
        let b = ClientAddr(ip("2001:db8:1:2:bbbb::2"));
        let c = ClientAddr(ip("2001:db8:1:3::1"));
        assert_eq!(a.limit_key(), "2001:db8:1:2::/64");
        assert_eq!(a.limit_key(), b.limit_key());
        assert_ne!(a.limit_key(), c.limit_key());
        assert_eq!(ClientAddr(ip("192.0.2.1")).limit_key(), "192.0.2.1");
        assert_eq!(a.to_text().unwrap(), "2001:db8:1:2:aaaa::1");
    }

    #[test]
    fn bad_trusted_proxies_name_the_variable() {
        let err = crate::config::trusted_proxies(Some("10.0.0.0/8, nope")).unwrap_err();
        assert!(
            err.contains("TRUSTED_PROXIES") && err.contains("nope"),
            "{err}"
        );
        assert!(crate::config::trusted_proxies(Some("10.0.0.0/33")).is_err());
        assert_eq!(nets("10.1.2.3/8")[0].to_string(), "10.0.0.0/8");
    }
}
