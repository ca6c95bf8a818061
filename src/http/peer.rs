//! Who the client is: the TCP peer, unless that peer is one of our own reverse
//! proxies, in which case the proxies' `X-Forwarded-For` says.

use std::net::IpAddr;

use ipnet::IpNet;

/// The header a reverse proxy appends the address it received a request from to.
pub const FORWARDED_FOR: &str = "x-forwarded-for";

/// The client's address. From an untrusted peer, the peer itself (its
/// `X-Forwarded-For` may say anything and is ignored). From a trusted proxy, the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy: each proxy
/// appends what it saw, so entries left of the first untrusted one could be forged.
/// `forwarded_for` holds each `X-Forwarded-For` header's value, in order.
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let peer = peer.to_canonical();
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let hops = forwarded_for.rev().flat_map(|v| v.rsplit(','));
    let mut nearest = peer;
    for hop in hops {
        let Some(ip) = parse_hop(hop) else {
            // Garbage where an address should be: trust no further than the proxy
            // that passed it on.
            return nearest;
        };
        if !is_trusted(ip, trusted) {
            return ip;
        }
        nearest = ip;
    }
    // Only proxies all the way: the left-most is the best we know.
    nearest
}

/// Is `ip` one of the configured proxies?
pub fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = ip.to_canonical();
    trusted.iter().any(|net| net.contains(&ip))
}

/// One `X-Forwarded-For` entry: an address, perhaps with a port (`1.2.3.4:5678`,
/// `[::1]:5678`), as some proxies write it.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    hop.parse::<std::net::SocketAddr>()
        .ok()
        .map(|s| s.ip().to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(s: &[&str]) -> Vec<IpNet> {
        s.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = nets(&["10.0.0.0/8"]);
        let xff = ["1.2.3.4"];
        assert_eq!(
            client_ip(ip("203.0.113.9"), xff.into_iter(), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_ip(ip("127.0.0.1"), xff.into_iter(), &[]),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_right_most_untrusted_hop() {
        let trusted = nets(&["10.0.0.0/8", "192.168.1.1/32"]);
        // The client forged "6.6.6.6"; the first proxy appended the real address.
        let one = ["6.6.6.6, 198.51.100.7, 192.168.1.1"];
        assert_eq!(
            client_ip(ip("10.1.1.1"), one.into_iter(), &trusted),
            ip("198.51.100.7")
        );
        // The same, split over two headers.
        let two = ["6.6.6.6", "198.51.100.7,192.168.1.1"];
        assert_eq!(
            client_ip(ip("10.1.1.1"), two.into_iter(), &trusted),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_trusted_proxy_without_a_usable_header_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(ip("10.1.1.1"), [].into_iter(), &trusted),
            ip("10.1.1.1")
        );
        let garbage = ["not-an-address"];
        assert_eq!(
            client_ip(ip("10.1.1.1"), garbage.into_iter(), &trusted),
            ip("10.1.1.1")
        );
        // Only proxies listed: the left-most one.
        let proxies = ["10.2.2.2, 10.3.3.3"];
        assert_eq!(
            client_ip(ip("10.1.1.1"), proxies.into_iter(), &trusted),
            ip("10.2.2.2")
        );
    }

    #[test]
    fn ports_and_mapped_addresses_are_understood() {
        let trusted = nets(&["127.0.0.1/32"]);
        let xff = ["[2001:db8::1]:443, 198.51.100.7:5678"];
        assert_eq!(
            client_ip(ip("::ffff:127.0.0.1"), xff.into_iter(), &trusted),
            ip("198.51.100.7")
        );
        assert!(is_trusted(ip("::ffff:127.0.0.1"), &trusted));
    }
}
