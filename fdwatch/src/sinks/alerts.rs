//! `alert`, `repeat`, `resolved` and `symptom` records. JSON: the contract in DESIGN.md, evidence
//! as an ordered list of events, symptoms and facts. Text: one block per alert, the
//! message first, then the evidence one line each.
use std::{borrow::Cow, io::Write as _};

use bytes::BytesMut;

use super::{Format, Render, Sink, record::RecordType, text};
use crate::escape;
use crate::{
    clock::Clock,
    decode::{Event, args, names::errno::errno_name},
    detect::{
        Output,
        alert::{Alert, Evidence},
    },
    value::Value,
};

fn s(text: impl Into<Cow<'static, str>>) -> Value {
    Value::Str(text.into())
}

/// An event of the evidence, with the fields of an `event` record.
fn event_value(what: &'static str, event: &Event, clock: &Clock) -> Value {
    let h = &event.header;
    let mut f = vec![
        ("what", s(what)),
        ("ts", s(clock.rfc3339(h.ts_ns))),
        ("pid", Value::Int(h.pid as i64)),
        ("comm", s(event.comm().into_owned())),
        ("syscall", s(event.kind.name())),
        ("args", Value::Object(args::describe(event).into_vec())),
    ];
    if let Some(ret) = event.ret() {
        f.push(("ret", Value::Int(ret)));
        if let Some(errno) = event.errno() {
            f.push(("errno", s(errno_name(errno))));
        }
    }
    Value::Object(f)
}

fn evidence_value(e: &Evidence, clock: &Clock) -> Value {
    match e {
        Evidence::Event(ev) => event_value("event", ev, clock),
        Evidence::Symptom(ev) => event_value("symptom", ev, clock),
        Evidence::Fact(f) => {
            let mut fields = vec![
                ("what", s("fact")),
                ("ts", s(clock.rfc3339(f.ts_ns))),
                ("pid", Value::Int(f.pid as i64)),
                ("fact", s(f.text.clone())),
            ];
            fields.extend(f.fields.iter().cloned());
            Value::Object(fields)
        }
    }
}

impl Sink {
    pub fn output(&mut self, output: &Output) {
        match output {
            Output::Alert(a) => self.emit(RecordType::Alert, Some(a.severity), |r, format, buf| match format {
                Format::Json => alert_json(r, buf, a),
                Format::Text => alert_text(r, buf, a),
            }),
            Output::Repeat { id, kind, pid, comm, count, ts_ns } => {
                self.emit(RecordType::Repeat, None, |r, format, buf| match format {
                    Format::Json => {
                        r.record(buf, "repeat", *ts_ns)
                            .int("id", *id as i64)
                            .str("kind", kind.name())
                            .int("pid", *pid as i64)
                            .str("comm", comm)
                            .int("count", *count as i64)
                            .end();
                    }
                    Format::Text => {
                        r.line.clear();
                        let _ = write!(
                            r.line,
                            "!! {} alert #{id} on pid {pid} ({comm}) happened {count} more times",
                            kind.name()
                        );
                        escape::line(buf, &r.line);
                    }
                })
            }
            Output::Resolved { id, kind, pid, comm, message, waited_ns, ts_ns } => {
                self.emit(RecordType::Resolved, None, |r, format, buf| match format {
                    Format::Json => {
                        r.record(buf, "resolved", *ts_ns)
                            .int("id", *id as i64)
                            .str("kind", kind.name())
                            .int("pid", *pid as i64)
                            .str("comm", comm)
                            .str("message", message)
                            .int("waited_ns", *waited_ns as i64)
                            .end();
                    }
                    Format::Text => {
                        let ts = r.clock.rfc3339(*ts_ns);
                        r.line.clear();
                        let _ = write!(
                            r.line,
                            "{} RESOLVED {} alert #{id}: {message}",
                            text::time_of_day(&ts),
                            kind.name()
                        );
                        escape::line(buf, &r.line);
                        escape::line(buf, b"");
                    }
                })
            }
            Output::Symptom { id, kind, pid, comm, event } => {
                self.emit(RecordType::Symptom, None, |r, format, buf| match format {
                    Format::Json => {
                        let clock = r.clock;
                        let Value::Object(fields) = event_value("symptom", event, &clock) else { return };
                        let mut obj = r.record(buf, "symptom", event.header.ts_ns);
                        obj.int("id", *id as i64).str("kind", kind.name()).int("pid", *pid as i64).str("comm", comm);
                        // The event's own fields, as in an evidence item (its ts is the record's).
                        for (k, v) in fields.iter().filter(|(k, _)| !matches!(*k, "what" | "ts" | "pid" | "comm")) {
                            obj.value(k, v);
                        }
                        obj.end();
                    }
                    Format::Text => {
                        let ts = r.clock.rfc3339(event.header.ts_ns);
                        r.line.clear();
                        let _ = write!(r.line, "{} SYMPTOM {} alert #{id}: ", text::time_of_day(&ts), kind.name());
                        text::event_call(&mut r.line, event, &args::describe(event));
                        escape::line(buf, &r.line);
                    }
                })
            }
        }
    }
}

fn alert_json(r: &mut Render, buf: &mut BytesMut, a: &Alert) {
    let clock = r.clock;
    let evidence = Value::List(a.evidence.iter().map(|e| evidence_value(e, &clock)).collect());
    let mut obj = r.record(buf, "alert", a.ts_ns);
    obj.int("id", a.id as i64)
        .str("kind", a.kind.name())
        .str("severity", a.severity.name())
        .int("pid", a.pid as i64)
        .str("comm", &a.comm)
        .value("exe", &a.exe.as_ref().map_or(Value::Null, |e| s(e.clone())))
        .str("message", &a.message);
    for (k, v) in &a.fields {
        obj.value(k, v);
    }
    obj.value("evidence", &evidence).end();
}

/// ```text
/// 18:32:32.123456 CRITICAL stdio_hijack #3 pid 4242 (bash)
///   pid 4242 (bash) put an AF_INET SOCK_STREAM socket ... on its stdin ...
///   evidence:
///     18:32:32.120001 fact   fd 3 of pid 4242 (bash) is ..., created by socket() ...
///     18:32:32.120100 event  bash[4242/4242] dup2(oldfd=3, newfd=1) = 1
///     18:32:32.130000 symptom ...
/// ```
/// Every line of the block, each escaped on its own: the line ends and the
/// indentation are the only structure, and no value can add a line.
fn alert_text(r: &mut Render, buf: &mut BytesMut, a: &Alert) {
    let ts = r.clock.rfc3339(a.ts_ns);
    let line = &mut r.line;
    line.clear();
    let _ = write!(
        line,
        "{} {} {} #{} pid {} ({})",
        text::time_of_day(&ts),
        a.severity.name().to_uppercase(),
        a.kind.name(),
        a.id,
        a.pid,
        a.comm
    );
    escape::line(buf, line);
    line.clear();
    let _ = write!(line, "  {}", a.message);
    escape::line(buf, line);
    escape::line(buf, b"  evidence:");
    for e in &a.evidence {
        let ts = r.clock.rfc3339(e.ts_ns());
        line.clear();
        let _ = write!(line, "    {} ", text::time_of_day(&ts));
        match e {
            Evidence::Event(ev) | Evidence::Symptom(ev) => {
                line.extend_from_slice(if matches!(e, Evidence::Symptom(_)) { b"symptom " } else { b"event   " });
                text::event_call(line, ev, &args::describe(ev));
            }
            Evidence::Fact(f) => {
                line.extend_from_slice(b"fact    ");
                line.extend_from_slice(f.text.as_bytes());
            }
        }
        escape::line(buf, line);
    }
    escape::line(buf, b"");
}
