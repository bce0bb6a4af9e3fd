//! `syslog`: each record one RFC 5424 message, `<PRI>1 TIMESTAMP HOSTNAME fdwatch PID
//! TYPE - RECORD`, the record (a JSON object, or a text record) as MSG without a BOM
//! (RFC 5424 6.4 allows MSG-ANY), MSGID the record type, so a pipeline can route alerts
//! without parsing. PRI is the facility (default daemon) times 8 plus the severity: an
//! alert's (critical 2, warning 4, info 6), loss 4, repeat/resolved/reload 5, ready/
//! resync/stats 6, event/fd 7 (outputs/record.rs).
//! - `syslog` (/dev/log) and `syslog:unix:PATH`: one datagram per message, as syslog(3)
//!   sends them (journald's and rsyslog's imuxsock sockets are SOCK_DGRAM).
//! - `syslog:udp:HOST:PORT`: one datagram per message (RFC 5426); a message larger than
//!   a datagram is refused by the kernel (EMSGSIZE) and counted as not delivered.
//! - `syslog:tcp:HOST:PORT`: RFC 6587 octet counting (`LEN SP MSG`, section 3.4.1), so a
//!   message may hold any byte, newlines in a text alert included.
//!
//! Receivers limit message size (rsyslog's `maxMessageSize` is 8 KiB by default; an
//! alert with its evidence can be larger): raise it (README, *Running as a service*).
use std::{
    io::{self, Write},
    net::{ToSocketAddrs, UdpSocket},
    os::{fd::AsRawFd, unix::net::UnixDatagram},
    time::SystemTime,
};

use super::{
    Backoff, Chunk, Health, Queue, Writer,
    spec::SyslogTo,
    stream::{WRITE_TIMEOUT, peer_closed, tcp_connect},
};
use crate::outputs::record::RecordType;

enum Conn {
    Dgram(UnixDatagram),
    Udp(UdpSocket),
    Tcp(std::net::TcpStream),
}

pub struct SyslogWriter {
    to: SyslogTo,
    conn: Option<Conn>,
    facility: u8,
    /// RFC 5424 HOSTNAME: printable US-ASCII, at most 255, else NILVALUE.
    host: String,
    pid: u32,
    msg: Vec<u8>,
    health: Health,
    backoff: Backoff,
}

impl SyslogWriter {
    pub fn new(to: SyslogTo, facility: u8, host: &str, health: Health) -> Self {
        let printable = !host.is_empty() && host.len() <= 255 && host.bytes().all(|b| (33..=126).contains(&b));
        Self {
            to,
            conn: None,
            facility,
            host: if printable { host.to_owned() } else { "-".into() },
            pid: std::process::id(),
            msg: Vec::new(),
            health,
            backoff: Backoff::new(),
        }
    }

    fn connect(&self) -> io::Result<Conn> {
        match &self.to {
            SyslogTo::Unix(path) => {
                let s = UnixDatagram::unbound()?;
                s.connect(path)?;
                s.set_write_timeout(Some(WRITE_TIMEOUT))?;
                Ok(Conn::Dgram(s))
            }
            SyslogTo::Udp(addr) => {
                let to = addr
                    .to_socket_addrs()?
                    .next()
                    .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{addr} resolves to no address")))?;
                let s = UdpSocket::bind(if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })?;
                s.connect(to)?;
                Ok(Conn::Udp(s))
            }
            SyslogTo::Tcp(addr) => tcp_connect(addr).map(Conn::Tcp),
        }
    }

    /// The message for one record (its trailing newline left out).
    fn build(&mut self, record: &[u8], ty: RecordType, severity: u8) {
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        let pri = u32::from(self.facility) * 8 + u32::from(severity);
        let ts = humantime::format_rfc3339_micros(SystemTime::now());
        let header = format!("<{pri}>1 {ts} {} fdwatch {} {} - ", self.host, self.pid, ty.name());
        self.msg.clear();
        if matches!(self.to, SyslogTo::Tcp(_)) {
            // RFC 6587 3.4.1: MSG-LEN SP SYSLOG-MSG.
            let _ = write!(self.msg, "{} ", header.len() + record.len());
        }
        self.msg.extend_from_slice(header.as_bytes());
        self.msg.extend_from_slice(record);
    }

    /// Send the built message; Ok(false): the transport refused this one message.
    fn send(&mut self) -> io::Result<bool> {
        let Some(conn) = self.conn.as_mut() else { return Err(io::ErrorKind::NotConnected.into()) };
        let result = match conn {
            Conn::Dgram(s) => s.send(&self.msg).map(drop),
            Conn::Udp(s) => s.send(&self.msg).map(drop),
            Conn::Tcp(s) => {
                if peer_closed(s.as_raw_fd()) {
                    return Err(io::ErrorKind::ConnectionReset.into());
                }
                s.write_all(&self.msg)
            }
        };
        match result {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl Writer for SyslogWriter {
    fn deliver(&mut self, chunk: &Chunk, queue: &Queue) {
        let Some(frames) = chunk.frames.as_deref() else {
            // Lanes that feed syslog always keep record ends (sinks/mod.rs).
            queue.undelivered(&chunk.counts);
            return;
        };
        let mut start = 0;
        let mut i = 0;
        while i < frames.len() {
            let f = frames[i];
            if self.conn.is_none() {
                match self.connect() {
                    Ok(c) => self.conn = Some(c),
                    Err(e) => {
                        self.health.failed(format_args!("cannot connect: {e}"));
                        if self.backoff.wait(queue) {
                            let mut left = [0; RecordType::COUNT];
                            for f in &frames[i..] {
                                left[f.ty as usize] += 1;
                            }
                            queue.undelivered(&left);
                            return;
                        }
                        continue;
                    }
                }
            }
            let end = f.end as usize;
            self.build(&chunk.data[start..end], f.ty, f.severity);
            match self.send() {
                Ok(sent) => {
                    if !sent {
                        let mut one = [0; RecordType::COUNT];
                        one[f.ty as usize] = 1;
                        queue.undelivered(&one);
                        self.health.failed(format_args!("a {}-byte message was refused as too large", self.msg.len()));
                    } else {
                        self.health.ok();
                        self.backoff.reset();
                    }
                    start = end;
                    i += 1;
                }
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    if queue.is_abandoned() {
                        let mut left = [0; RecordType::COUNT];
                        for f in &frames[i..] {
                            left[f.ty as usize] += 1;
                        }
                        queue.undelivered(&left);
                        return;
                    }
                }
                Err(e) => {
                    self.conn = None;
                    self.health.failed(format_args!("cannot send: {e}"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outputs::spec::SyslogTo;

    #[test]
    fn rfc5424_header_and_octet_counting() {
        let mut w = SyslogWriter::new(SyslogTo::Tcp("127.0.0.1:1".into()), 3, "vm", Health::new("t".into()));
        w.build(b"{\"type\":\"alert\"}\n", RecordType::Alert, 2);
        let msg = String::from_utf8(w.msg.clone()).unwrap();
        let (len, rest) = msg.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), rest.len(), "{msg}");
        assert!(rest.starts_with("<26>1 20"), "daemon (3) * 8 + critical (2): {rest}");
        assert!(
            rest.ends_with(&format!(" vm fdwatch {} alert - {{\"type\":\"alert\"}}", std::process::id())),
            "{rest}"
        );
        let mut w = SyslogWriter::new(SyslogTo::Unix("/dev/log".into()), 16, "bad host", Health::new("t".into()));
        w.build(b"x\n", RecordType::Event, 7);
        let msg = String::from_utf8(w.msg.clone()).unwrap();
        assert!(msg.starts_with("<135>1 "), "local0 * 8 + debug: {msg}");
        assert!(msg.contains(" - fdwatch "), "an unprintable host is the NILVALUE: {msg}");
    }
}
