//! Human-readable lines, strace-like: `time comm[pid/tid] syscall(args) = ret ERRNO`.
//! Lines are assembled raw here (values as the kernel or /proc gave them, bytes and
//! all) and written out only through [`escape::line`](crate::escape::line).
use std::io::Write as _;

use crate::{
    containers::Container,
    decode::{Body, Event, names::errno::errno_name},
    value::Value,
};

pub fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Str(s) => out.extend_from_slice(s.as_bytes()),
        Value::Bytes(b) => out.extend_from_slice(b),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Null => out.extend_from_slice(b"NULL"),
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(fields) => {
            out.push(b'{');
            write_fields(out, fields);
            out.push(b'}');
        }
    }
}

pub fn write_fields(out: &mut Vec<u8>, fields: &[(&'static str, Value)]) {
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        write_value(out, v);
    }
}

/// `18:32:32.123456 comm[pid/tid] syscall(args) = ret` (or `= -1 ERRNO`), no newline;
/// in a container `comm[pid/tid @3f2a9c1e0b7d]`.
pub fn event_line(
    out: &mut Vec<u8>,
    event: &Event,
    container: Option<&Container>,
    fields: &[(&'static str, Value)],
    rfc3339: &str,
) {
    out.extend_from_slice(time_of_day(rfc3339).as_bytes());
    out.push(b' ');
    event_call(out, event, container, fields);
}

/// `comm[pid/tid] syscall(args) = ret`: an event line without its time. The comm as
/// the kernel gave it (task->comm need not be UTF-8). A process in a container has the
/// container's short id after its thread id (`[pid/tid @id]`).
pub fn event_call(out: &mut Vec<u8>, event: &Event, container: Option<&Container>, fields: &[(&'static str, Value)]) {
    let h = &event.header;
    out.extend_from_slice(event.comm_bytes());
    let _ = write!(out, "[{}/{}", h.pid, h.tid);
    if let Some(c) = container {
        let _ = write!(out, " @{}", c.short_id());
    }
    let _ = write!(out, "] {}(", event.kind.name());
    write_fields(out, fields);
    out.push(b')');
    if let Body::Syscall { ret, .. } = event.body {
        match event.errno() {
            Some(errno) => {
                let _ = write!(out, " = -1 {}", errno_name(errno));
            }
            None => {
                let _ = write!(out, " = {ret}");
            }
        }
    }
}

/// The time of day part of an RFC 3339 timestamp, with microseconds.
pub fn time_of_day(rfc3339: &str) -> &str {
    rfc3339.get(11..26).unwrap_or(rfc3339)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_fields_like_strace() {
        let mut out = Vec::new();
        write_fields(
            &mut out,
            &[
                ("oldfd", Value::Int(3)),
                ("pipefd", Value::List(vec![Value::Int(4), Value::Int(5)])),
                ("addr", Value::Null),
                ("pathname", Value::Bytes(b"/tmp/a".to_vec())),
            ],
        );
        assert_eq!(out, b"oldfd=3, pipefd=[4, 5], addr=NULL, pathname=/tmp/a");
        assert_eq!(time_of_day("2026-11-21T18:32:32.123456789Z"), "18:32:32.123456");
    }
}
