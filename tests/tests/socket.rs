//! socket(2) and socketpair(2): names of domain/type/protocol, and the object created
//! (its inode is the N of /proc/PID/fd/FD -> socket:[N]).
use fdwatch_tests::*;

/// Where fdwatch puts socket(2)'s `type` argument: the man-page name collides with the
/// record's own "type" (ready|event|...), see `socket_record_has_one_type_key`.
const SOCK_TYPE_KEY: &str = "socket_type";

fn socket_args(domain: &str, ty: &str, protocol: &str, object: Value, ret: i64) -> Value {
    let mut args = json!({"domain": domain, "protocol": protocol, "object": object, "ret": ret});
    args[SOCK_TYPE_KEY] = json!(ty);
    args
}

#[test]
fn socket_record_has_one_type_key() {
    let (fw, mut child) = run_watched(&["socket", "AF_INET", "SOCK_STREAM", "0"], &[]);
    let pid = child.pid();
    child.op("socket").ok();
    let ev = fw.expect_event(pid, "socket", |_| true);
    assert_eq!(ev["type"], "event");
    assert!(
        ev.get(check::DUPLICATES).is_none(),
        "the socket event repeats a key (socket(2)'s `type` argument is written as a second \"type\" \
         next to the record type \"event\", so JSON readers see type=\"SOCK_STREAM\"): {ev}"
    );
}

/// `socket DOMAIN TYPE PROTOCOL` (fdops' words) under fdwatch: the event names them
/// (`protocol` as fdwatch writes it) and carries the new socket.
#[track_caller]
fn socket_is_reported(domain: &str, ty: &str, protocol: &str, protocol_name: &str) {
    let (fw, mut child) = run_watched(&["socket", domain, ty, protocol], &[]);
    let pid = child.pid();
    let op = child.op("socket");
    let fd = op.ok();
    let object = object_of(&op, "socket", "");
    fw.expect_exact(&expected(pid, "socket", socket_args(domain, ty, protocol_name, object, fd)));
}

#[test]
fn socket_inet_stream_cloexec() {
    socket_is_reported("AF_INET", "SOCK_STREAM|SOCK_CLOEXEC", "0", "IPPROTO_IP");
}

#[test]
fn socket_inet6_dgram_nonblock_udp() {
    socket_is_reported("AF_INET6", "SOCK_DGRAM|SOCK_NONBLOCK", "17", "IPPROTO_UDP");
}

#[test]
fn socket_unix_seqpacket() {
    // Outside AF_INET/AF_INET6 the protocol is a number.
    socket_is_reported("AF_UNIX", "SOCK_SEQPACKET", "0", "0");
}

#[test]
fn socket_of_an_unknown_family_fails_without_object() {
    let (fw, mut child) = run_watched(&["socket", "46", "SOCK_STREAM", "0"], &[]);
    let pid = child.pid();
    assert_eq!(child.op("socket").get("errno"), "EAFNOSUPPORT");
    let mut args = socket_args("46", "SOCK_STREAM", "0", Value::Null, -97);
    args["errno"] = json!("EAFNOSUPPORT");
    fw.expect_exact(&expected(pid, "socket", args));
}

#[test]
fn socketpair_reports_both_fds_and_objects() {
    let (fw, mut child) = run_watched(&["socketpair", "AF_UNIX", "SOCK_STREAM|SOCK_CLOEXEC", "0"], &[]);
    let pid = child.pid();
    let op = child.op("socketpair");
    op.ok();
    let (a, b) = (op.int("fd0"), op.int("fd1"));
    let mut args = json!({
        "domain": "AF_UNIX", "protocol": "0", "sv": [a, b],
        "objects": [object_of(&op, "socket", "0"), object_of(&op, "socket", "1")], "ret": 0,
    });
    args[SOCK_TYPE_KEY] = json!("SOCK_STREAM|SOCK_CLOEXEC");
    fw.expect_exact(&expected(pid, "socketpair", args));
    assert_ne!(op.int("ino0"), op.int("ino1"), "two sockets, two inodes");
}

#[test]
fn socketpair_failure_has_no_fds() {
    // AF_INET has no socketpair: EOPNOTSUPP.
    let (fw, mut child) = run_watched(&["socketpair", "AF_INET", "SOCK_STREAM", "0"], &[]);
    let pid = child.pid();
    assert_eq!(child.op("socketpair").get("errno"), "EOPNOTSUPP");
    let mut args = json!({
        "domain": "AF_INET", "protocol": "IPPROTO_IP", "sv": null, "objects": [null, null],
        "ret": -95, "errno": "EOPNOTSUPP",
    });
    args[SOCK_TYPE_KEY] = json!("SOCK_STREAM");
    fw.expect_exact(&expected(pid, "socketpair", args));
}
