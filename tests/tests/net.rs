//! connect(2), accept(2), accept4(2), sendto(2), sendmsg(2), sendmmsg(2): socket
//! addresses as text ("127.0.0.1:9", "[::1]:53", "/run/x.sock", "@abstract").
use fdwatch_tests::*;

/// A socket client under fdwatch: fdops makes a server (`listen_tcp ADDR`, `bound_tcp
/// ADDR`, `udp ADDR`, `listen_unix PATH`), then a socket (`DOMAIN TYPE`, protocol 0),
/// then the `call` ops (connect, sendto, ...) on it. The lines of the server, the
/// socket and the first call are read.
struct Client {
    fw: Fdwatch,
    child: Fdops,
    pid: i64,
    server: OpLine,
    /// The socket's fd.
    fd: i64,
    /// The line of the first op of `call`.
    call: OpLine,
}

impl Client {
    #[track_caller]
    fn run(server: &str, socket: &str, call: &[&str]) -> Client {
        let mut ops: Vec<&str> = server.split(' ').collect();
        ops.push("socket");
        ops.extend(socket.split(' '));
        ops.push("0");
        ops.extend_from_slice(call);
        let (fw, mut child) = run_watched(&ops, &[]);
        let server = child.op(ops[0]);
        let fd = child.op("socket").ok();
        let call = child.op(call[0]);
        Client { fw, pid: child.pid(), child, server, fd, call }
    }

    /// The server's port.
    #[track_caller]
    fn port(&self) -> i64 {
        self.server.int("port")
    }
}

#[test]
fn connect_to_a_listening_loopback_port() {
    let c = Client::run(
        "listen_tcp 127.0.0.1:0",
        "AF_INET SOCK_STREAM",
        &["connect", "%socket.ret", "127.0.0.1:%listen_tcp.port"],
    );
    c.call.ok();
    let addr = format!("127.0.0.1:{}", c.port());
    c.fw.expect_exact(&expected(c.pid, "connect", json!({"sockfd": c.fd, "addr": addr, "addrlen": 16, "ret": 0})));
}

#[test]
fn connect_to_a_closed_loopback_port_is_refused() {
    // A socket bound but not listening: the port stays ours, and connects get a RST.
    let c = Client::run(
        "bound_tcp 127.0.0.1:0",
        "AF_INET SOCK_STREAM",
        &["connect", "%socket.ret", "127.0.0.1:%bound_tcp.port"],
    );
    assert_eq!(c.call.get("errno"), "ECONNREFUSED");
    let addr = format!("127.0.0.1:{}", c.port());
    c.fw.expect_exact(&expected(
        c.pid,
        "connect",
        json!({"sockfd": c.fd, "addr": addr, "addrlen": 16, "ret": -libc::ECONNREFUSED, "errno": "ECONNREFUSED"}),
    ));
}

#[test]
fn connect_to_ipv6_loopback() {
    let c = Client::run(
        "listen_tcp [::1]:0",
        "AF_INET6 SOCK_STREAM",
        &["connect", "%socket.ret", "[::1]:%listen_tcp.port"],
    );
    c.call.ok();
    let addr = format!("[::1]:{}", c.port());
    c.fw.expect_exact(&expected(c.pid, "connect", json!({"sockfd": c.fd, "addr": addr, "addrlen": 28, "ret": 0})));
}

#[test]
fn connect_to_a_unix_path() {
    let path = TempPath::new("sock");
    let c = Client::run(
        &format!("listen_unix {}", path.as_str()),
        "AF_UNIX SOCK_STREAM",
        &["connect", "%socket.ret", path.as_str()],
    );
    let addrlen = c.call.int("addrlen");
    assert_eq!(addrlen as usize, 2 + path.as_str().len() + 1);
    c.fw.expect_exact(&expected(
        c.pid,
        "connect",
        json!({"sockfd": c.fd, "addr": path.as_str(), "addrlen": addrlen, "ret": 0}),
    ));
}

#[test]
fn connect_to_a_missing_unix_path_is_enoent() {
    let path = TempPath::new("nosock");
    let (fw, mut child) =
        run_watched(&["socket", "AF_UNIX", "SOCK_STREAM", "0", "connect", "%socket.ret", path.as_str()], &[]);
    let pid = child.pid();
    let fd = child.op("socket").ok();
    let op = child.op("connect");
    assert_eq!(op.get("errno"), "ENOENT");
    fw.expect_exact(&expected(
        pid,
        "connect",
        json!({"sockfd": fd, "addr": path.as_str(), "addrlen": op.int("addrlen"), "ret": -2, "errno": "ENOENT"}),
    ));
}

#[test]
fn connect_to_an_abstract_unix_name() {
    let name = abstract_name("abs");
    let c = Client::run(&format!("listen_unix {name}"), "AF_UNIX SOCK_STREAM", &["connect", "%socket.ret", &name]);
    let addrlen = c.call.int("addrlen");
    assert_eq!(addrlen as usize, 2 + name.len(), "abstract: no terminating NUL");
    c.fw.expect_exact(&expected(c.pid, "connect", json!({"sockfd": c.fd, "addr": name, "addrlen": addrlen, "ret": 0})));
}

#[test]
fn accept_reports_the_peer_and_the_new_socket() {
    let mut c = Client::run(
        "listen_tcp 127.0.0.1:0",
        "AF_INET SOCK_STREAM",
        &["connect", "%socket.ret", "127.0.0.1:%listen_tcp.port", "accept", "%listen_tcp.fd"],
    );
    let lfd = c.server.ok();
    let local = c.call.get("local").to_string();
    let op = c.child.op("accept");
    let fd = op.ok();
    assert_eq!(op.get("peer"), local);
    c.fw.expect_exact(&expected(
        c.pid,
        "accept",
        json!({"sockfd": lfd, "addr": local, "object": object_of(&op, "socket", ""), "ret": fd}),
    ));
}

#[test]
fn accept4_with_flags_from_an_unnamed_unix_peer() {
    let name = abstract_name("acc4");
    let mut c = Client::run(
        &format!("listen_unix {name}"),
        "AF_UNIX SOCK_STREAM",
        &["connect", "%socket.ret", &name, "accept4", "%listen_unix.fd", "SOCK_NONBLOCK|SOCK_CLOEXEC"],
    );
    let lfd = c.server.ok();
    let op = c.child.op("accept4");
    let fd = op.ok();
    assert_eq!(op.get("peer"), "(unnamed)");
    c.fw.expect_exact(&expected(
        c.pid,
        "accept4",
        json!({"sockfd": lfd, "addr": "(unnamed)", "flags": "SOCK_NONBLOCK|SOCK_CLOEXEC",
               "object": object_of(&op, "socket", ""), "ret": fd}),
    ));
}

#[test]
fn accept_on_a_non_listening_socket_fails_without_address() {
    let (fw, mut child) = run_watched(&["socket", "AF_INET", "SOCK_STREAM", "0", "accept4", "%socket.ret", "0"], &[]);
    let pid = child.pid();
    let fd = child.op("socket").ok();
    assert_eq!(child.op("accept4").get("errno"), "EINVAL");
    fw.expect_exact(&expected(
        pid,
        "accept4",
        json!({"sockfd": fd, "addr": null, "flags": "0", "object": null, "ret": -22, "errno": "EINVAL"}),
    ));
}

#[test]
fn sendto_a_udp_address() {
    let c = Client::run(
        "udp 127.0.0.1:0",
        "AF_INET SOCK_DGRAM",
        &["sendto", "%socket.ret", "127.0.0.1:%udp.port", "5", "MSG_DONTWAIT|MSG_NOSIGNAL"],
    );
    assert_eq!(c.call.ok(), 5);
    c.fw.expect_exact(&expected(
        c.pid,
        "sendto",
        json!({"sockfd": c.fd, "len": 5, "flags": "MSG_DONTWAIT|MSG_NOSIGNAL",
               "addr": format!("127.0.0.1:{}", c.port()), "addrlen": 16, "ret": 5}),
    ));
}

#[test]
fn sendto_without_address_on_a_connected_socket() {
    let mut c = Client::run(
        "udp 127.0.0.1:0",
        "AF_INET SOCK_DGRAM",
        &["connect", "%socket.ret", "127.0.0.1:%udp.port", "sendto", "%socket.ret", "-", "3", "0"],
    );
    assert_eq!(c.child.op("sendto").ok(), 3);
    c.fw.expect_exact(&expected(
        c.pid,
        "sendto",
        json!({"sockfd": c.fd, "len": 3, "flags": "0", "addr": null, "addrlen": 0, "ret": 3}),
    ));
}

#[test]
fn sendto_an_address_on_a_connected_unix_stream_is_eisconn() {
    // Incident 1 of README.md's *Alerts*: sendto() with a UDP address on what is really a
    // connected unix stream socket.
    let (fw, mut child) = run_watched(
        &["socketpair", "AF_UNIX", "SOCK_STREAM", "0", "sendto", "%socketpair.fd0", "127.0.0.1:8125", "4", "0"],
        &[],
    );
    let pid = child.pid();
    let fd = child.op("socketpair").int("fd0");
    assert_eq!(child.op("sendto").get("errno"), "EISCONN");
    fw.expect_exact(&expected(
        pid,
        "sendto",
        json!({"sockfd": fd, "len": 4, "flags": "0", "addr": "127.0.0.1:8125", "addrlen": 16,
                   "ret": -libc::EISCONN, "errno": "EISCONN"}),
    ));
}

#[test]
fn sendmsg_with_msg_name() {
    let c = Client::run(
        "udp [::1]:0",
        "AF_INET6 SOCK_DGRAM",
        &["sendmsg", "%socket.ret", "[::1]:%udp.port", "MSG_DONTWAIT"],
    );
    assert_eq!(c.call.ok(), 5);
    let addr = format!("[::1]:{}", c.port());
    c.fw.expect_exact(&expected(
        c.pid,
        "sendmsg",
        json!({"sockfd": c.fd, "flags": "MSG_DONTWAIT", "addr": addr, "ret": 5}),
    ));
}

#[test]
fn sendmmsg_reports_vlen_and_the_first_address() {
    let c = Client::run(
        "udp 127.0.0.1:0",
        "AF_INET SOCK_DGRAM",
        &["sendmmsg", "%socket.ret", "127.0.0.1:%udp.port", "3", "0"],
    );
    assert_eq!(c.call.ok(), 3);
    let addr = format!("127.0.0.1:{}", c.port());
    c.fw.expect_exact(&expected(
        c.pid,
        "sendmmsg",
        json!({"sockfd": c.fd, "vlen": 3, "flags": "0", "addr": addr, "ret": 3}),
    ));
}

#[test]
fn sendto_a_unix_datagram_path() {
    let path = TempPath::new("dgram");
    let (fw, mut child) =
        run_watched(&["socket", "AF_UNIX", "SOCK_DGRAM", "0", "sendto", "%socket.ret", path.as_str(), "5", "0"], &[]);
    let pid = child.pid();
    let fd = child.op("socket").ok();
    // Nobody is bound there.
    assert_eq!(child.op("sendto").get("errno"), "ENOENT");
    fw.expect_exact(&expected(
        pid,
        "sendto",
        json!({"sockfd": fd, "len": 5, "flags": "0", "addr": path.as_str(),
                   "addrlen": 2 + path.as_str().len() + 1, "ret": -2, "errno": "ENOENT"}),
    ));
}
