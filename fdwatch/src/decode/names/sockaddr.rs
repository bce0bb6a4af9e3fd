//! `struct sockaddr` bytes (as copied from the traced process) -> text:
//! "127.0.0.1:9", "[::1]:53", "/run/foo.sock", "@abstract", ...
//!
//! The input is whatever the program passed (bind/connect/sendto) or got
//! back (accept/getsockname), cut to the addrlen it gave, so it may be
//! short or garbage; every field is bounds-checked and a short buffer gives
//! "<FAMILY>(truncated)" instead of a panic.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Formats a socket address; `None` only for an empty buffer (no address
/// was passed, e.g. accept(fd, NULL, NULL) or addrlen 0).
pub fn format_sockaddr(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() {
        return None;
    }
    // sa_family_t is a native-endian u16 at offset 0 (sys/socket.h).
    let Some(family) = u16_ne(bytes, 0) else {
        return Some("sockaddr(truncated)".to_string());
    };
    // Each decoder returns None when the buffer is too short for it.
    let (name, text) = match i32::from(family) {
        libc::AF_INET => ("AF_INET", inet(bytes)),
        libc::AF_INET6 => ("AF_INET6", inet6(bytes)),
        libc::AF_UNIX => ("AF_UNIX", unix(bytes)),
        libc::AF_NETLINK => ("AF_NETLINK", netlink(bytes)),
        // connect(2): "connecting to an address with sa_family AF_UNSPEC"
        // dissolves a datagram socket's association; there is no address.
        libc::AF_UNSPEC => return Some("AF_UNSPEC".to_string()),
        _ => return Some(format!("family={family}")),
    };
    Some(text.unwrap_or_else(|| format!("{name}(truncated)")))
}

fn u16_ne(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_ne(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// Port numbers (sin_port / sin6_port) are in network byte order.
fn port(bytes: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?))
}

/// `struct sockaddr_in` (ip(7)): family, port, 4-byte address, then 8
/// bytes of padding we do not need.
fn inet(bytes: &[u8]) -> Option<String> {
    let port = port(bytes)?;
    let addr: [u8; 4] = bytes.get(4..8)?.try_into().ok()?;
    Some(format!("{}:{port}", Ipv4Addr::from(addr)))
}

/// `struct sockaddr_in6` (ipv6(7)): family, port, flowinfo (4..8),
/// address (8..24), scope id (24..28). The kernel accepts the 24-byte
/// RFC 2133 layout without sin6_scope_id (SIN6_LEN_RFC2133), so a missing
/// scope id is not "truncated".
fn inet6(bytes: &[u8]) -> Option<String> {
    let port = port(bytes)?;
    let addr: [u8; 16] = bytes.get(8..24)?.try_into().ok()?;
    let addr = Ipv6Addr::from(addr);
    match u32_ne(bytes, 24) {
        Some(scope) if scope != 0 => Some(format!("[{addr}%{scope}]:{port}")),
        _ => Some(format!("[{addr}]:{port}")),
    }
}

/// `struct sockaddr_un` (unix(7)) has three kinds of address, told apart
/// by the length and the first byte of sun_path.
fn unix(bytes: &[u8]) -> Option<String> {
    let path = bytes.get(2..)?;
    let Some((&first, rest)) = path.split_first() else {
        // unix(7) "unnamed": addrlen == sizeof(sa_family_t); e.g. a
        // socketpair(2) end or an unbound client as accept(2) reports it.
        return Some("(unnamed)".to_string());
    };
    if first == 0 {
        // unix(7) "abstract": sun_path[0] == '\0', and the name is the
        // remaining addrlen bytes exactly; NULs carry no special meaning.
        // Shown like ss(8) does: "@" prefix and "@" for each NUL.
        let mut out = String::from("@");
        for &b in rest {
            match b {
                0 => out.push('@'),
                b'\\' => out.push_str("\\\\"),
                0x20..=0x7e => out.push(char::from(b)),
                _ => {
                    let _ = write!(out, "\\x{b:02x}");
                }
            }
        }
        Some(out)
    } else {
        Some(String::from_utf8_lossy(pathname(path)).into_owned())
    }
}

/// unix(7) "pathname": NUL-terminated, but the terminator may be missing when addrlen
/// covers exactly the path.
fn pathname(sun_path: &[u8]) -> &[u8] {
    let end = sun_path.iter().position(|&b| b == 0).unwrap_or(sun_path.len());
    &sun_path[..end]
}

/// The path of an AF_UNIX "pathname" address as raw bytes (a file name need not be
/// UTF-8), None for any other address. [`format_sockaddr`] gives the same as text.
pub fn unix_path(bytes: &[u8]) -> Option<&[u8]> {
    if i32::from(u16_ne(bytes, 0)?) != libc::AF_UNIX {
        return None;
    }
    let sun_path = bytes.get(2..)?;
    // Empty: unnamed; a leading NUL: abstract.
    if sun_path.first().is_none_or(|&b| b == 0) {
        return None;
    }
    Some(pathname(sun_path))
}

/// `struct sockaddr_nl` (netlink(7)): family, pad, nl_pid, nl_groups, all
/// native-endian. Groups printed as 8 hex digits like strace's nl_groups.
fn netlink(bytes: &[u8]) -> Option<String> {
    let pid = u32_ne(bytes, 4)?;
    let groups = u32_ne(bytes, 8)?;
    Some(format!("netlink:pid={pid},groups={groups:08x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family(f: i32) -> [u8; 2] {
        (f as u16).to_ne_bytes()
    }

    fn sockaddr_in(addr: [u8; 4], port: u16) -> Vec<u8> {
        let mut v = family(libc::AF_INET).to_vec();
        v.extend_from_slice(&port.to_be_bytes());
        v.extend_from_slice(&addr);
        v.extend_from_slice(&[0; 8]);
        v
    }

    fn sockaddr_in6(addr: Ipv6Addr, port: u16, scope: u32) -> Vec<u8> {
        let mut v = family(libc::AF_INET6).to_vec();
        v.extend_from_slice(&port.to_be_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        v.extend_from_slice(&addr.octets());
        v.extend_from_slice(&scope.to_ne_bytes());
        v
    }

    fn sockaddr_un(path: &[u8]) -> Vec<u8> {
        let mut v = family(libc::AF_UNIX).to_vec();
        v.extend_from_slice(path);
        v
    }

    #[test]
    fn empty_is_none() {
        assert_eq!(format_sockaddr(&[]), None);
    }

    #[test]
    fn one_byte_is_truncated() {
        assert_eq!(format_sockaddr(&[2]).as_deref(), Some("sockaddr(truncated)"));
    }

    #[test]
    fn ipv4() {
        let b = sockaddr_in([127, 0, 0, 1], 9);
        assert_eq!(b.len(), 16);
        assert_eq!(format_sockaddr(&b).as_deref(), Some("127.0.0.1:9"));
        let b = sockaddr_in([10, 1, 2, 3], 443);
        assert_eq!(format_sockaddr(&b).as_deref(), Some("10.1.2.3:443"));
        let b = sockaddr_in([0, 0, 0, 0], 0);
        assert_eq!(format_sockaddr(&b).as_deref(), Some("0.0.0.0:0"));
        // Exactly the 8 meaningful bytes is enough.
        assert_eq!(format_sockaddr(&b[..8]).as_deref(), Some("0.0.0.0:0"));
    }

    #[test]
    fn ipv4_matches_libc_layout() {
        let sin = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 8080u16.to_be(),
            sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes([192, 168, 0, 1]) },
            sin_zero: [0; 8],
        };
        // SAFETY: sockaddr_in is plain old data without padding.
        let bytes = unsafe {
            std::slice::from_raw_parts((&sin as *const libc::sockaddr_in).cast::<u8>(), size_of::<libc::sockaddr_in>())
        };
        assert_eq!(format_sockaddr(bytes).as_deref(), Some("192.168.0.1:8080"));
    }

    #[test]
    fn ipv4_truncated() {
        let b = sockaddr_in([127, 0, 0, 1], 9);
        for len in 2..8 {
            assert_eq!(format_sockaddr(&b[..len]).as_deref(), Some("AF_INET(truncated)"), "len {len}");
        }
    }

    #[test]
    fn ipv6_loopback() {
        let b = sockaddr_in6(Ipv6Addr::LOCALHOST, 53, 0);
        assert_eq!(b.len(), 28);
        assert_eq!(format_sockaddr(&b).as_deref(), Some("[::1]:53"));
        // RFC 2133 length without sin6_scope_id.
        assert_eq!(format_sockaddr(&b[..24]).as_deref(), Some("[::1]:53"));
    }

    #[test]
    fn ipv6_scoped_link_local() {
        let addr: Ipv6Addr = "fe80::1ff:fe23:4567:890a".parse().unwrap();
        let b = sockaddr_in6(addr, 8080, 2);
        assert_eq!(format_sockaddr(&b).as_deref(), Some("[fe80::1ff:fe23:4567:890a%2]:8080"));
    }

    #[test]
    fn ipv6_other_forms() {
        let b = sockaddr_in6(Ipv6Addr::UNSPECIFIED, 0, 0);
        assert_eq!(format_sockaddr(&b).as_deref(), Some("[::]:0"));
        let mapped = Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped();
        let b = sockaddr_in6(mapped, 80, 0);
        assert_eq!(format_sockaddr(&b).as_deref(), Some("[::ffff:127.0.0.1]:80"));
    }

    #[test]
    fn ipv6_truncated() {
        let b = sockaddr_in6(Ipv6Addr::LOCALHOST, 53, 0);
        for len in [2, 3, 4, 8, 16, 23] {
            assert_eq!(format_sockaddr(&b[..len]).as_deref(), Some("AF_INET6(truncated)"), "len {len}");
        }
        // A partial scope id is ignored, not an error.
        assert_eq!(format_sockaddr(&b[..26]).as_deref(), Some("[::1]:53"));
    }

    #[test]
    fn unix_path() {
        let b = sockaddr_un(b"/run/dbus/system_bus_socket\0");
        assert_eq!(format_sockaddr(&b).as_deref(), Some("/run/dbus/system_bus_socket"));
        // No terminator inside addrlen.
        let b = sockaddr_un(b"/tmp/s");
        assert_eq!(format_sockaddr(&b).as_deref(), Some("/tmp/s"));
        // Full sizeof(sockaddr_un): stops at the first NUL.
        let mut b = sockaddr_un(b"rel.sock\0junk");
        b.resize(110, 0);
        assert_eq!(format_sockaddr(&b).as_deref(), Some("rel.sock"));
        // Invalid UTF-8 is replaced, not a failure.
        let b = sockaddr_un(b"/tmp/\xff\0");
        assert_eq!(format_sockaddr(&b).as_deref(), Some("/tmp/\u{fffd}"));
    }

    #[test]
    fn unix_path_bytes_only_for_pathname_addresses() {
        assert_eq!(super::unix_path(&sockaddr_un(b"/tmp/\xff\n\0junk")), Some(&b"/tmp/\xff\n"[..]));
        assert_eq!(super::unix_path(&sockaddr_un(b"/tmp/s")), Some(&b"/tmp/s"[..]));
        assert_eq!(super::unix_path(&sockaddr_un(b"\0abstract")), None);
        assert_eq!(super::unix_path(&sockaddr_un(b"")), None);
        assert_eq!(super::unix_path(&sockaddr_in([127, 0, 0, 1], 9)), None);
        assert_eq!(super::unix_path(&[1]), None);
    }

    #[test]
    fn unix_unnamed() {
        let b = sockaddr_un(b"");
        assert_eq!(b.len(), 2);
        assert_eq!(format_sockaddr(&b).as_deref(), Some("(unnamed)"));
    }

    #[test]
    fn unix_abstract() {
        let b = sockaddr_un(b"\0/tmp/.X11-unix/X0");
        assert_eq!(format_sockaddr(&b).as_deref(), Some("@/tmp/.X11-unix/X0"));
        // The name is exactly addrlen bytes: trailing NULs are part of it.
        let b = sockaddr_un(b"\0name\0\0");
        assert_eq!(format_sockaddr(&b).as_deref(), Some("@name@@"));
        // Autobind names are 5 hex digits.
        let b = sockaddr_un(b"\x0000a1f");
        assert_eq!(format_sockaddr(&b).as_deref(), Some("@00a1f"));
        // Only the leading NUL: an empty abstract name.
        let b = sockaddr_un(b"\0");
        assert_eq!(format_sockaddr(&b).as_deref(), Some("@"));
    }

    #[test]
    fn unix_abstract_embedded_nul_and_escapes() {
        let b = sockaddr_un(b"\0a\0b");
        assert_eq!(format_sockaddr(&b).as_deref(), Some("@a@b"));
        let b = sockaddr_un(b"\0x\n\x7f\xc3\xa9\\y");
        assert_eq!(format_sockaddr(&b).as_deref(), Some("@x\\x0a\\x7f\\xc3\\xa9\\\\y"));
    }

    #[test]
    fn netlink() {
        let mut b = family(libc::AF_NETLINK).to_vec();
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&1234u32.to_ne_bytes());
        b.extend_from_slice(&0x11u32.to_ne_bytes());
        assert_eq!(format_sockaddr(&b).as_deref(), Some("netlink:pid=1234,groups=00000011"));
        assert_eq!(format_sockaddr(&b[..11]).as_deref(), Some("AF_NETLINK(truncated)"));
        assert_eq!(format_sockaddr(&b[..2]).as_deref(), Some("AF_NETLINK(truncated)"));
    }

    #[test]
    fn unspec_and_unknown_families() {
        let mut b = family(libc::AF_UNSPEC).to_vec();
        assert_eq!(format_sockaddr(&b).as_deref(), Some("AF_UNSPEC"));
        b.extend_from_slice(&[0; 14]);
        assert_eq!(format_sockaddr(&b).as_deref(), Some("AF_UNSPEC"));
        let b = family(libc::AF_PACKET);
        assert_eq!(format_sockaddr(&b).as_deref(), Some("family=17"));
        let b = 0xffffu16.to_ne_bytes();
        assert_eq!(format_sockaddr(&b).as_deref(), Some("family=65535"));
    }

    #[test]
    fn never_panics_on_any_short_prefix() {
        let mut big = sockaddr_in6(Ipv6Addr::LOCALHOST, 1, 7);
        big.resize(128, 0xaa);
        for fam in [libc::AF_INET, libc::AF_INET6, libc::AF_UNIX, libc::AF_NETLINK, 99] {
            big[..2].copy_from_slice(&family(fam));
            for len in 0..=big.len() {
                let _ = format_sockaddr(&big[..len]);
            }
        }
    }
}
