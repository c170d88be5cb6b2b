//! IP addresses: dotted IPv4 with every octet in range and no leading zeros, and IPv6 in
//! full or compressed (`::`) form, validated by the standard library's parser.

use super::{word_before, PiiKind, PiiSpan};
use std::net::Ipv6Addr;

/// Words after which a dotted number is a version, not an address (`version 1.2.3.4`).
const VERSION_WORDS: &[&str] = &["version", "ver", "v", "build", "release", "firmware", "chrome", "firefox", "os"];

/// Pushes the IPv4 and IPv6 addresses in `text`.
pub(super) fn find(text: &str, out: &mut Vec<PiiSpan>) {
    let bytes = text.as_bytes();
    let mut p = 0;
    while p < bytes.len() {
        let b = bytes[p];
        let boundary = p == 0 || !is_token_byte(bytes[p - 1]);
        if !(boundary && (b.is_ascii_hexdigit() || b == b':')) {
            p += 1;
            continue;
        }
        let mut end = p;
        while end < bytes.len() && is_token_byte(bytes[end]) {
            end += 1;
        }
        // Most tokens are words that start with a hex letter (`dear`, `face`): skip them before
        // any parsing.
        let separators = bytes[p..end].iter().filter(|&&b| b == b'.' || b == b':').count();
        if separators < 2 {
            p = end.max(p + 1);
            continue;
        }
        // A sentence's full stop or a label's colon is not part of the address.
        let mut trimmed = end;
        while trimmed > p && matches!(bytes[trimmed - 1], b'.' | b':') && !text[p..trimmed].ends_with("::") {
            trimmed -= 1;
        }
        // `10.0.0.5:8080`: an IPv4 address with its port.
        if let Some(colon) = text[p..trimmed].find(':') {
            let port = &text[p + colon + 1..trimmed];
            if is_ipv4(&text[p..p + colon]) && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
                trimmed = p + colon;
            }
        }
        let token = &text[p..trimmed];
        let followed_by_word = bytes.get(end).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
        if !followed_by_word
            && ((is_ipv4(token) && !is_mask_or_network(token, &bytes[end..])) || is_ipv6(token))
            && !VERSION_WORDS.contains(&word_before(text, p).as_str())
        {
            out.push(PiiSpan { kind: PiiKind::IpAddress, start: p, end: trimmed });
        }
        p = end.max(p + 1);
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_hexdigit() || matches!(b, b'.' | b':')
}

/// A netmask (`255.255.255.0`) or a network written with its prefix length (`10.0.0.0/8`,
/// host bits all zero): network configuration, not an address that points at anyone.
fn is_mask_or_network(token: &str, after: &[u8]) -> bool {
    let value = token.split('.').filter_map(|o| o.parse::<u32>().ok()).fold(0u32, |acc, o| (acc << 8) | o);
    let mask = value.leading_ones() + value.trailing_zeros() == 32 && value >> 24 == 255;
    let prefix = after.strip_prefix(b"/").map(|rest| {
        rest.iter()
            .take_while(|b| b.is_ascii_digit())
            .fold(0u32, |acc, &b| acc.saturating_mul(10).saturating_add(u32::from(b - b'0')))
    });
    let network = prefix.is_some_and(|len| (1..32).contains(&len) && value.checked_shl(len).unwrap_or(0) == 0);
    mask || network
}

/// Four decimal octets 0-255 without leading zeros.
fn is_ipv4(token: &str) -> bool {
    let octets: Vec<&str> = token.split('.').collect();
    octets.len() == 4
        && octets.iter().all(|o| {
            !o.is_empty()
                && o.len() <= 3
                && o.bytes().all(|b| b.is_ascii_digit())
                && (o.len() == 1 || !o.starts_with('0'))
                && o.parse::<u16>().is_ok_and(|v| v <= 255)
        })
}

/// An IPv6 address with at least two colons. Clock times (`12:30:45`) and MAC addresses
/// (`00:1A:2B:3C:4D:5E`) fail the parser: without `::` an address needs eight groups.
fn is_ipv6(token: &str) -> bool {
    token.bytes().filter(|&b| b == b':').count() >= 2
        && token.bytes().any(|b| b.is_ascii_hexdigit())
        && token.parse::<Ipv6Addr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::super::tests::found;
    use super::super::PiiKind;

    #[test]
    fn ipv4_and_ipv6_addresses() {
        for (text, ip) in [
            ("from 192.168.1.20.", "192.168.1.20"),
            ("host=10.0.0.5:8080", "10.0.0.5"),
            ("ping 2001:db8::1 now", "2001:db8::1"),
            ("link fe80::1ff:fe23:4567:890a, ok", "fe80::1ff:fe23:4567:890a"),
            ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
            ("loopback ::1", "::1"),
            ("host 192.168.1.20/32 only", "192.168.1.20"),
            ("host 10.1.2.3/8 in the big network", "10.1.2.3"),
        ] {
            assert_eq!(found(text), vec![(PiiKind::IpAddress, ip)], "{text}");
        }
        for negative in [
            "version 1.2.3",
            "v1.2.3.4",
            "version 10.4.2.1",
            "on 15.01.2024",
            "256.1.1.1",
            "01.02.03.04",
            "1.2.3.4.5",
            "at 12:30:45",
            "mac 00:1A:2B:3C:4D:5E",
            "Chrome 124.0.6367.91",
            "std::vec",
            "pi is 3.14159",
            "deadbeef",
            "netmask 255.255.255.0",
            "route 10.0.0.0/8 via the VPN",
            "mask 255.255.240.0",
        ] {
            assert_eq!(found(negative), vec![], "{negative}");
        }
    }
}
