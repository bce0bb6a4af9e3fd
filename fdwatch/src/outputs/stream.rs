//! `tcp:HOST:PORT` and `unix:PATH`: an NDJSON (or text) stream to a collector (Vector's
//! `socket` source, Fluent Bit's `tcp` input, Logstash's `tcp` input with json_lines).
//! Reconnects with backoff when the collector is gone. A chunk interrupted by a broken
//! connection is sent again from the start of the line the break cut, so the new
//! connection starts at a record; what the old connection's kernel buffers held when
//! the peer died is beyond any sender's knowledge without acknowledgements.
use std::{
    io::{self, Write},
    net::{TcpStream, ToSocketAddrs},
    os::{
        fd::{AsRawFd, RawFd},
        unix::net::UnixStream,
    },
    path::PathBuf,
    time::Duration,
};

use super::{Backoff, Chunk, Health, Queue, Writer};

/// A write blocked this long (a collector that stopped reading) comes back to look at
/// the queue: abandoned at exit, it gives up.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Connect to `HOST:PORT`, each resolved address in turn.
pub fn tcp_connect(addr: &str) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{addr} resolves to no address"));
    for a in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
            Ok(s) => {
                s.set_write_timeout(Some(WRITE_TIMEOUT))?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Whether the peer closed or reset the connection. Collectors never send to us, so
/// anything readable means the end: seen before a write, which the kernel would
/// otherwise accept into a connection that is already gone.
pub fn peer_closed(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN | libc::POLLRDHUP, revents: 0 };
    // SAFETY: one pollfd, valid for the call; a zero timeout never blocks.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n > 0 && pfd.revents != 0
}

enum To {
    Tcp(String),
    Unix(PathBuf),
}

enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    fn stream(&mut self) -> &mut dyn Write {
        match self {
            Conn::Tcp(s) => s,
            Conn::Unix(s) => s,
        }
    }

    fn fd(&self) -> RawFd {
        match self {
            Conn::Tcp(s) => s.as_raw_fd(),
            Conn::Unix(s) => s.as_raw_fd(),
        }
    }
}

pub struct StreamWriter {
    to: To,
    conn: Option<Conn>,
    health: Health,
    backoff: Backoff,
}

impl StreamWriter {
    pub fn tcp(addr: String, health: Health) -> Self {
        Self { to: To::Tcp(addr), conn: None, health, backoff: Backoff::new() }
    }

    pub fn unix(path: PathBuf, health: Health) -> Self {
        Self { to: To::Unix(path), conn: None, health, backoff: Backoff::new() }
    }

    fn connect(&self) -> io::Result<Conn> {
        match &self.to {
            To::Tcp(addr) => tcp_connect(addr).map(Conn::Tcp),
            To::Unix(path) => {
                let s = UnixStream::connect(path)?;
                s.set_write_timeout(Some(WRITE_TIMEOUT))?;
                Ok(Conn::Unix(s))
            }
        }
    }
}

impl Writer for StreamWriter {
    fn deliver(&mut self, chunk: &Chunk, queue: &Queue) {
        let data = &chunk.data[..];
        // Where the current connection's part starts (a line start) and how far it got.
        let mut from = 0;
        let mut pos = 0;
        while pos < data.len() {
            if self.conn.as_ref().is_some_and(|c| peer_closed(c.fd())) {
                self.conn = None;
                self.health.failed(format_args!("the collector closed the connection"));
            }
            if self.conn.is_none() {
                match self.connect() {
                    Ok(c) => self.conn = Some(c),
                    Err(e) => {
                        self.health.failed(format_args!("cannot connect: {e}"));
                        if self.backoff.wait(queue) {
                            queue.undelivered(&chunk.counts);
                            return;
                        }
                        continue;
                    }
                }
            }
            let Some(conn) = self.conn.as_mut() else { continue };
            match conn.stream().write(&data[pos..]) {
                Ok(0) => {}
                Ok(n) => {
                    pos += n;
                    self.health.ok();
                    self.backoff.reset();
                }
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    if queue.is_abandoned() {
                        queue.undelivered(&chunk.counts);
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.conn = None;
                    self.health.failed(format_args!("the connection broke: {e}"));
                    // Again from the start of the line the break cut.
                    from = from.max(data[..pos].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1));
                    pos = from;
                    if self.backoff.wait(queue) {
                        queue.undelivered(&chunk.counts);
                        return;
                    }
                }
            }
        }
    }
}
