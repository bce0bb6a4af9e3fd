//! Allow rules: programs that put sockets on stdio, or relay shells, by design. A rule
//! is one or more `key=value` conditions joined by commas, all of which must hold:
//!
//! - `comm=NAME`: the process's name (/proc/PID/comm), e.g. `comm=spawn-fcgi`;
//! - `exe=PATH`: its executable, e.g. `exe=/usr/sbin/xinetd`;
//! - `parent_comm=NAME`, `parent_exe=PATH`: the same of its parent, e.g.
//!   `parent_exe=/usr/sbin/inetd` (the services inetd starts);
//! - `peer=ADDR`: the socket's peer, e.g. `peer=10.0.0.5`, `peer=10.0.0.0/8`,
//!   `peer=10.0.0.5:9000`, `peer=:9000` (any address, that port), `peer=[::1]:53`,
//!   `peer=/run/app.sock`, `peer=@abstract`.
//!
//! A word without `=` is the rule of earlier versions: a comm, or an executable path if
//! it contains `/`. `comm=python3,peer=127.0.0.1:8000` allows a CGI server's python on
//! its local port, not every python reverse shell.
use std::net::IpAddr;

/// Built in: inetd-style launchers put the connection on a service's stdio by design
/// (inetd and xinetd; systemd socket activation with StandardInput=socket;
/// spawn-fcgi, FCGI_LISTENSOCK_FILENO = 0 of the FastCGI spec; daemontools' tcpserver).
/// Each is allowed as the process doing it and, once it has started the service, as
/// that service's parent.
pub const DEFAULT_ALLOW: &[&str] = &["inetd", "xinetd", "systemd", "systemd-executor", "spawn-fcgi", "tcpserver"];

/// Relays of a shell's stdio that do it by design (relayed_shell): a name, or a prefix
/// ending in `*`, matched on the relay's comm and executable name.
/// - sshd, sshd-session, sshd-auth (OpenSSH 9.8 split sshd into these), dropbear: remote
///   login is their purpose; they hold the connection and the session's pty or pipes.
/// - mosh-server: the same over UDP.
/// - tmux, screen: multiplexers hold ptys (and only unix sockets, so they do not match
///   anyway); listed for clients attached over an SSH-forwarded socket.
/// - containerd-shim*, conmon, runc, crun: container runtimes relay `exec -it` streams
///   between a container's shell and the API's connection.
/// - script, expect: record or drive sessions through a pty (expect often over telnet or
///   ssh connections it holds).
/// - login, agetty, getty: terminal logins.
pub const DEFAULT_RELAYS: &[&str] = &[
    "sshd",
    "sshd-session",
    "sshd-auth",
    "dropbear",
    "mosh-server",
    "tmux",
    "tmux: server",
    "screen",
    "SCREEN",
    "containerd-shim*",
    "conmon",
    "runc",
    "crun",
    "script",
    "expect",
    "login",
    "agetty",
    "getty",
];

/// Launchers the built-in list also allows as a parent. systemd is not among them: it is
/// every daemon's parent (PID 1), including a reverse shell that daemonized.
const DEFAULT_PARENTS: &[&str] = &["inetd", "xinetd", "spawn-fcgi", "tcpserver"];

#[derive(Clone, Debug, PartialEq, Eq)]
enum Peer {
    /// An IP network (a single address is a /32 or /128) and maybe a port.
    Ip { addr: IpAddr, prefix: u8, port: Option<u16> },
    /// Any address, this port.
    Port(u16),
    /// A unix socket path or abstract name, as fdwatch writes it.
    Unix(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rule {
    comm: Option<String>,
    exe: Option<String>,
    parent_comm: Option<String>,
    parent_exe: Option<String>,
    peer: Option<Peer>,
}

/// What a rule is matched against.
#[derive(Clone, Copy, Debug, Default)]
pub struct Subject<'a> {
    pub comm: &'a str,
    pub exe: Option<&'a str>,
    pub parent_comm: Option<&'a str>,
    pub parent_exe: Option<&'a str>,
    /// The socket's peer as fdwatch shows it (`127.0.0.1:80`, `[::1]:53`, `/run/x.sock`).
    pub peer: Option<&'a str>,
}

impl Rule {
    /// Parse one rule (see the module documentation); the error names what is wrong.
    pub fn parse(text: &str) -> Result<Rule, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("an empty allow rule".into());
        }
        if !text.contains('=') {
            return Ok(if text.contains('/') {
                Rule { exe: Some(text.into()), ..Rule::default() }
            } else {
                Rule { comm: Some(text.into()), ..Rule::default() }
            });
        }
        let mut rule = Rule::default();
        for part in text.split(',') {
            let (key, value) =
                part.split_once('=').ok_or_else(|| format!("allow rule {text:?}: {part:?} is not key=value"))?;
            let (key, value) = (key.trim(), value.trim());
            if value.is_empty() {
                return Err(format!("allow rule {text:?}: {key}= has no value"));
            }
            let slot = match key {
                "comm" => &mut rule.comm,
                "exe" => &mut rule.exe,
                "parent_comm" => &mut rule.parent_comm,
                "parent_exe" => &mut rule.parent_exe,
                "peer" => {
                    if rule.peer.is_some() {
                        return Err(format!("allow rule {text:?}: peer= given twice"));
                    }
                    rule.peer = Some(parse_peer(value).map_err(|e| format!("allow rule {text:?}: {e}"))?);
                    continue;
                }
                other => {
                    return Err(format!(
                        "allow rule {text:?}: unknown key {other:?} (comm, exe, parent_comm, parent_exe, peer)"
                    ));
                }
            };
            if slot.replace(value.to_owned()).is_some() {
                return Err(format!("allow rule {text:?}: {key}= given twice"));
            }
        }
        Ok(rule)
    }

    pub fn matches(&self, s: &Subject) -> bool {
        let same = |want: &Option<String>, have: Option<&str>| want.as_deref().is_none_or(|w| have == Some(w));
        same(&self.comm, Some(s.comm))
            && same(&self.exe, s.exe)
            && same(&self.parent_comm, s.parent_comm)
            && same(&self.parent_exe, s.parent_exe)
            && self.peer.as_ref().is_none_or(|p| s.peer.is_some_and(|have| peer_matches(p, have)))
    }
}

/// The rules of `texts` after the built-in ones; the first bad one is the error.
pub fn rules(texts: &[String]) -> Result<Vec<Rule>, String> {
    let mut out: Vec<Rule> = Vec::new();
    for name in DEFAULT_ALLOW {
        out.push(Rule { comm: Some((*name).into()), ..Rule::default() });
    }
    for name in DEFAULT_PARENTS {
        out.push(Rule { parent_comm: Some((*name).into()), ..Rule::default() });
    }
    for text in texts {
        let rule = Rule::parse(text)?;
        if !out.contains(&rule) {
            out.push(rule);
        }
    }
    Ok(out)
}

fn parse_peer(value: &str) -> Result<Peer, String> {
    if value.starts_with('/') || value.starts_with('@') {
        return Ok(Peer::Unix(value.to_owned()));
    }
    let bad = || {
        format!(
            "peer={value} is not an address (10.0.0.5, 10.0.0.0/8, 10.0.0.5:9000, :9000, [::1]:53, /run/x.sock, @name)"
        )
    };
    if let Some(port) = value.strip_prefix(':') {
        return port.parse().map(Peer::Port).map_err(|_| bad());
    }
    // [v6]:port, [v6], v4:port, or an address/prefix.
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse::<u16>().map_err(|_| bad())?),
            None if after.is_empty() => None,
            None => return Err(bad()),
        };
        (host, port)
    } else if value.matches(':').count() == 1 {
        let (host, port) = value.split_once(':').ok_or_else(bad)?;
        (host, Some(port.parse::<u16>().map_err(|_| bad())?))
    } else {
        (value, None)
    };
    let (addr, prefix) = match host.split_once('/') {
        Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
        None => (host, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(max);
    if prefix > max {
        return Err(bad());
    }
    Ok(Peer::Ip { addr, prefix, port })
}

/// `127.0.0.1:80` / `[::1]:53` as fdwatch writes socket peers (decode/names/sockaddr.rs).
fn split_peer(peer: &str) -> Option<(IpAddr, u16)> {
    let (host, port) = peer.rsplit_once(':')?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    Some((host.parse().ok()?, port.parse().ok()?))
}

fn peer_matches(rule: &Peer, have: &str) -> bool {
    match rule {
        Peer::Unix(path) => have == path,
        Peer::Port(port) => split_peer(have).is_some_and(|(_, p)| p == *port),
        Peer::Ip { addr, prefix, port } => {
            split_peer(have).is_some_and(|(a, p)| port.is_none_or(|want| want == p) && in_network(a, *addr, *prefix))
        }
    }
}

fn in_network(a: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (a, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        // An IPv4 peer of a dual-stack socket shows as ::ffff:a.b.c.d.
        (IpAddr::V6(a), IpAddr::V4(_)) => a.to_ipv4_mapped().is_some_and(|a| in_network(IpAddr::V4(a), net, prefix)),
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject<'a>(comm: &'a str, peer: Option<&'a str>) -> Subject<'a> {
        Subject { comm, exe: Some("/usr/bin/python3"), peer, ..Subject::default() }
    }

    #[test]
    fn a_bare_word_is_a_comm_or_an_executable() {
        assert!(Rule::parse("mydaemon").unwrap().matches(&subject("mydaemon", None)));
        assert!(Rule::parse("/usr/bin/python3").unwrap().matches(&subject("anything", None)));
        assert!(!Rule::parse("/usr/bin/perl").unwrap().matches(&subject("perl", None)));
    }

    #[test]
    fn scoped_rules_need_every_condition() {
        let cgi = Rule::parse("comm=python3,peer=127.0.0.1:8000").unwrap();
        assert!(cgi.matches(&subject("python3", Some("127.0.0.1:8000"))));
        assert!(!cgi.matches(&subject("python3", Some("203.0.113.7:4444"))), "a reverse shell elsewhere");
        assert!(!cgi.matches(&subject("python3", None)), "no peer known");
        assert!(!cgi.matches(&subject("perl", Some("127.0.0.1:8000"))));
        let net = Rule::parse("peer=10.0.0.0/8").unwrap();
        assert!(net.matches(&subject("x", Some("10.1.2.3:5"))));
        assert!(net.matches(&subject("x", Some("[::ffff:10.1.2.3]:5"))), "IPv4-mapped");
        assert!(!net.matches(&subject("x", Some("11.0.0.1:5"))));
        let port = Rule::parse("peer=:9000").unwrap();
        assert!(port.matches(&subject("x", Some("[2001:db8::1]:9000"))));
        assert!(!port.matches(&subject("x", Some("/run/x.sock"))));
        let v6 = Rule::parse("peer=[::1]:53").unwrap();
        assert!(v6.matches(&subject("x", Some("[::1]:53"))) && !v6.matches(&subject("x", Some("[::1]:54"))));
        let unix = Rule::parse("peer=/run/app.sock,parent_exe=/usr/sbin/inetd").unwrap();
        let s = Subject { parent_exe: Some("/usr/sbin/inetd"), ..subject("sh", Some("/run/app.sock")) };
        assert!(unix.matches(&s));
        assert!(!unix.matches(&subject("sh", Some("/run/app.sock"))));
    }

    #[test]
    fn bad_rules_say_why() {
        for (text, why) in [
            ("", "empty"),
            ("comm=", "has no value"),
            ("user=root", "unknown key \"user\""),
            ("comm=a,comm=b", "given twice"),
            ("peer=10.0.0.300", "not an address"),
            ("peer=10.0.0.0/33", "not an address"),
            ("peer=host:http", "not an address"),
            ("comm=x,oops", "not key=value"),
        ] {
            let err = Rule::parse(text).unwrap_err();
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn the_built_in_launchers_are_allowed_as_processes_and_parents_but_systemd_only_itself() {
        let rules = rules(&[]).unwrap();
        let allowed = |s: &Subject| rules.iter().any(|r| r.matches(s));
        assert!(allowed(&subject("xinetd", None)));
        assert!(allowed(&Subject { parent_comm: Some("inetd"), ..subject("sh", None) }));
        assert!(!allowed(&Subject { parent_comm: Some("systemd"), ..subject("sh", None) }));
        assert!(!allowed(&subject("sh", None)));
    }
}
