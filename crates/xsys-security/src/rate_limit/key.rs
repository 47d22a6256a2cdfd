//! express-rate-limit's default key: `ipKeyGenerator(req.ip, ipv6Subnet)`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Whose hits a counter holds: the client's address, its IPv6 network, or a key given as text
/// (an address text kept as is, or a key from a JS `keyGenerator`).
///
/// `Display` writes the key as express-rate-limit spells it (`1.2.3.4`, `2001:db8:ab00::/56`),
/// which is what `req.rateLimit.key` and draft-8's partition key are made from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientKey {
    V4(Ipv4Addr),
    /// An IPv6 address masked to its first `prefix` bits.
    V6Net(Ipv6Addr, u8),
    Text(Box<str>),
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientKey::V4(ip) => write!(f, "{ip}"),
            // Masked to at most /128 of a non-mapped address: std writes RFC 5952 text, as
            // ip-address's networkForm() does (fixture-checked).
            ClientKey::V6Net(ip, prefix) => write!(f, "{ip}/{prefix}"),
            ClientKey::Text(text) => f.write_str(text),
        }
    }
}

impl ClientKey {
    /// `ipKeyGenerator(ip, ipv6Subnet)` for `req.ip` as text. `subnet` `None` is `false` (and
    /// `0`): IPv6 addresses are then used as written.
    pub fn from_ip_text(ip: &str, subnet: Option<u8>) -> ClientKey {
        match parse_node_ipv6(ip) {
            Some((address, dotted)) => {
                v6_key(address, dotted, subnet).unwrap_or_else(|| ClientKey::Text(ip.into()))
            }
            None => match parse_node_ipv4(ip) {
                // Node's IPv4 text is canonical, so the address writes back the same.
                Some(v4) => ClientKey::V4(v4),
                None => ClientKey::Text(ip.into()),
            },
        }
    }

    /// A key given as text (a store's `increment(key)`, `limiter.resetKey(key)`, a JS
    /// `keyGenerator`'s result). express-rate-limit keys its stores by strings, so the text an
    /// address key is written as (`1.2.3.4`, `2001:db8:ab00::/56`) names that same key;
    /// any other text is a key of its own.
    pub fn from_key_text(text: &str) -> ClientKey {
        if let Some(v4) = parse_node_ipv4(text) {
            return ClientKey::V4(v4);
        }
        if let Some((address, prefix)) = text.split_once('/') {
            if let (Ok(address), Ok(prefix)) = (Ipv6Addr::from_str(address), prefix.parse::<u8>()) {
                let key = ClientKey::V6Net(address, prefix);
                // Only a prefix a subnet can have, in the exact spelling `Display` gives (no
                // leading zeros, no upper case), maps back.
                if (1..=128).contains(&prefix) && key.to_string() == text {
                    return key;
                }
            }
        }
        ClientKey::Text(text.into())
    }

    /// `ipKeyGenerator(req.ip, ipv6Subnet)` where `req.ip` is the socket's address, written
    /// as Node writes `remoteAddress` (libuv's inet_ntop).
    pub fn from_ip(ip: IpAddr, subnet: Option<u8>) -> ClientKey {
        match ip {
            IpAddr::V4(v4) => ClientKey::V4(v4),
            IpAddr::V6(v6) => {
                // libuv writes `::a.b.c.d` when exactly the first six groups are zero.
                let s = v6.segments();
                let dotted = s[..6].iter().all(|w| *w == 0) && s[6] != 0;
                v6_key(v6, dotted, subnet)
                    .unwrap_or_else(|| ClientKey::Text(node_ipv6_text(v6).into()))
            }
        }
    }
}

/// ip-address's reading: IPv4-mapped, or IPv4-compatible written dotted, keys as the IPv4
/// address; otherwise the network of `subnet` bits; `None` keeps the text.
fn v6_key(address: Ipv6Addr, dotted: bool, subnet: Option<u8>) -> Option<ClientKey> {
    let bits = u128::from(address);
    let mapped = bits >> 32 == 0xffff;
    let compatible = dotted && bits >> 32 == 0;
    if mapped || compatible {
        return Some(ClientKey::V4(Ipv4Addr::from(bits as u32)));
    }
    let prefix = subnet.filter(|p| *p > 0)?.min(128);
    let mask = if prefix == 128 {
        u128::MAX
    } else {
        !(u128::MAX >> prefix)
    };
    Some(ClientKey::V6Net(Ipv6Addr::from(bits & mask), prefix))
}

/// `remoteAddress` text for an IPv6 address (mapped and compatible ones never get here).
fn node_ipv6_text(address: Ipv6Addr) -> String {
    address.to_string()
}

/// Node's `isIPv4`: four decimal octets without leading zeros.
fn parse_node_ipv4(text: &str) -> Option<Ipv4Addr> {
    let mut parts = text.split('.');
    let mut octets = [0u8; 4];
    for octet in &mut octets {
        let part = parts.next()?;
        let valid = !part.is_empty()
            && part.len() <= 3
            && part.bytes().all(|b| b.is_ascii_digit())
            && !(part.len() > 1 && part.starts_with('0'));
        if !valid {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    parts.next().is_none().then(|| Ipv4Addr::from(octets))
}

/// Node's `isIPv6` (zone suffix `%[0-9a-zA-Z-.:]+` allowed), returning the address and
/// whether it ended in dotted IPv4 form.
fn parse_node_ipv6(text: &str) -> Option<(Ipv6Addr, bool)> {
    let (address, zone) = match text.split_once('%') {
        Some((a, z)) => (a, Some(z)),
        None => (text, None),
    };
    if let Some(zone) = zone {
        let valid = !zone.is_empty()
            && zone
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':'));
        if !valid {
            return None;
        }
    }
    if !address.contains(':') {
        return None;
    }
    let dotted = address.contains('.');
    if dotted {
        // The IPv4 part must be Node's (no leading zeros), which std may not insist on.
        let tail = address.rsplit(':').next()?;
        parse_node_ipv4(tail)?;
    }
    let parsed = Ipv6Addr::from_str(address).ok()?;
    Some((parsed, dotted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_as_ip_key_generator_writes_them() {
        for (ip, subnet, key) in [
            ("1.2.3.4", Some(56), "1.2.3.4"),
            ("::1", Some(56), "::/56"),
            ("::ffff:127.0.0.1", None, "127.0.0.1"),
            ("::1.2.3.4", Some(56), "1.2.3.4"),
            ("::102:304", Some(56), "::/56"),
            ("::102:304", None, "::102:304"),
            (
                "2001:DB8:AbCd:1234:5678::1",
                Some(56),
                "2001:db8:abcd:1200::/56",
            ),
            (
                "2001:DB8:AbCd:1234:5678::1",
                None,
                "2001:DB8:AbCd:1234:5678::1",
            ),
            ("fe80::1%eth0", Some(64), "fe80::/64"),
            ("garbage", Some(56), "garbage"),
            ("01.2.3.4", Some(56), "01.2.3.4"),
        ] {
            assert_eq!(ClientKey::from_ip_text(ip, subnet).to_string(), key, "{ip}");
        }
    }

    #[test]
    fn key_text_names_the_key_it_was_written_from() {
        for (ip, subnet) in [
            ("1.2.3.4", Some(56)),
            ("2001:DB8:AbCd:1234:5678::1", Some(56)),
            ("::1", Some(64)),
            ("::1", None),
            ("fe80::1%eth0", Some(48)),
            ("garbage", Some(56)),
        ] {
            let key = ClientKey::from_ip_text(ip, subnet);
            assert_eq!(ClientKey::from_key_text(&key.to_string()), key, "{ip}");
        }
        for text in [
            "01.2.3.4",
            "2001:db8::1/56x",
            "2001:DB8::/56",
            "::/200",
            "user:42",
        ] {
            assert_eq!(
                ClientKey::from_key_text(text),
                ClientKey::Text(text.into()),
                "{text}"
            );
        }
    }

    #[test]
    fn socket_addresses_key_as_their_node_text() {
        let compat: Ipv6Addr = "::1.2.3.4".parse().expect("valid");
        assert_eq!(
            ClientKey::from_ip(compat.into(), None).to_string(),
            "1.2.3.4"
        );
        let two: Ipv6Addr = "::2".parse().expect("valid");
        assert_eq!(ClientKey::from_ip(two.into(), None).to_string(), "::2");
        assert_eq!(
            ClientKey::from_ip(two.into(), Some(56)).to_string(),
            "::/56"
        );
    }
}
