//! A network interface where a SYN is never answered, and accepting the connection an
//! incident's process makes.
use std::{
    net::{TcpListener, TcpStream},
    process::Command,
    time::Instant,
};

use crate::{DEADLINE, POLL};

/// Accepts one connection on `listener` within [`DEADLINE`], its reads bounded by it too.
pub fn accept(listener: &TcpListener, what: &str) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let until = Instant::now() + DEADLINE;
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(DEADLINE)).unwrap();
                return s;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < until => std::thread::sleep(POLL),
            Err(e) => panic!("{what}: no connection within {DEADLINE:?}: {e}"),
        }
    }
}

/// A network interface with `addr/24` (e.g. 10.213.0.1) where packets vanish, so a TCP
/// connect to another address of that /24 stays in SYN_SENT forever (EINPROGRESS, then
/// EALREADY). It is a tun device nobody reads (the kernels the tests run on may lack the
/// `dummy` driver; tun is there wherever /dev/net/tun is). Deleted on drop.
pub struct BlackholeNet {
    pub name: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("cannot run ip ({e}); install iproute2"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

impl BlackholeNet {
    pub fn new(name: &str, addr: &str) -> BlackholeNet {
        // A leftover of a killed run would make `add` fail.
        let _ = ip(&["link", "del", name]);
        let net = BlackholeNet { name: name.to_string() };
        let cidr = format!("{addr}/24");
        for args in [
            vec!["tuntap", "add", name, "mode", "tun"],
            vec!["addr", "add", cidr.as_str(), "dev", name],
            vec!["link", "set", name, "up"],
        ] {
            ip(&args).unwrap_or_else(|e| panic!("setting up the dummy interface {name}: {e}"));
        }
        net
    }
}

impl Drop for BlackholeNet {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.name]);
    }
}
