//! Human-readable lines, strace-like: `time comm[pid/tid] syscall(args) = ret ERRNO`.
use std::fmt::Write as _;

use crate::decode::{Body, Event, args::Value, names::errno::errno_name};

pub fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Str(s) => out.push_str(s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Null => out.push_str("NULL"),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(fields) => {
            out.push('{');
            write_fields(out, fields);
            out.push('}');
        }
    }
}

pub fn write_fields(out: &mut String, fields: &[(&'static str, Value)]) {
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(k);
        out.push('=');
        write_value(out, v);
    }
}

/// `18:32:32.123456 comm[pid/tid] syscall(args) = ret` (or `= -1 ERRNO`), no newline.
pub fn event_line(out: &mut String, event: &Event, fields: &[(&'static str, Value)], rfc3339: &str) {
    let h = &event.header;
    let _ = write!(out, "{} {}[{}/{}] {}(", time_of_day(rfc3339), event.comm(), h.pid, h.tid, event.kind.name());
    write_fields(out, fields);
    out.push(')');
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
        let mut out = String::new();
        write_fields(
            &mut out,
            &[
                ("oldfd", Value::Int(3)),
                ("pipefd", Value::List(vec![Value::Int(4), Value::Int(5)])),
                ("addr", Value::Null),
            ],
        );
        assert_eq!(out, "oldfd=3, pipefd=[4, 5], addr=NULL");
        assert_eq!(time_of_day("2026-11-21T18:32:32.123456789Z"), "18:32:32.123456");
    }
}
