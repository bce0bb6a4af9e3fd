//! NDJSON records (the output contract in DESIGN.md): one object per line, written
//! straight into the output buffer without building a tree per event.
use crate::{out::Out, value::Value};

/// Writes one JSON object; `end()` closes it and the line.
pub struct Obj<'a, O: Out + ?Sized = Vec<u8>> {
    out: &'a mut O,
    first: bool,
}

impl<'a, O: Out + ?Sized> Obj<'a, O> {
    pub fn new(out: &'a mut O) -> Self {
        out.push(b'{');
        Self { out, first: true }
    }

    /// Continue an object whose opening and first fields the caller wrote.
    pub fn after_fields(out: &'a mut O) -> Self {
        Self { out, first: false }
    }

    /// Keys are fdwatch's own identifiers (`pid`, `oldfd`, ...): nothing to escape.
    fn key(&mut self, key: &str) {
        self.out.reserve(key.len() + 4);
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        plain_key(self.out, key);
    }

    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        string(self.out, value);
        self
    }

    /// Bytes from a traced program or /proc (a comm): see [`bytes_string`].
    pub fn bytes(&mut self, key: &str, value: &[u8]) -> &mut Self {
        self.key(key);
        bytes_string(self.out, value);
        self
    }

    pub fn int(&mut self, key: &str, value: i64) -> &mut Self {
        self.key(key);
        int(self.out, value);
        self
    }

    pub fn value(&mut self, key: &str, value: &Value) -> &mut Self {
        self.key(key);
        write_value(self.out, value);
        self
    }

    /// Close the object and the line.
    pub fn end(&mut self) {
        self.out.extend_from_slice(b"}\n");
    }
}

fn plain_key<O: Out + ?Sized>(out: &mut O, key: &str) {
    debug_assert!(key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "{key}");
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Bytes that JSON strings may hold as they are: printable ASCII but `"` and `\`.
const PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0x20;
    while b < 0x7f {
        t[b] = b != b'"' as usize && b != b'\\' as usize;
        b += 1;
    }
    t
};

fn int<O: Out + ?Sized>(out: &mut O, value: i64) {
    // Most numbers in events are fds and return values: one or two digits, written
    // without itoa's buffer and a memcpy call.
    match value {
        0..10 => out.push(b'0' + value as u8),
        10..100 => out.extend_from_slice(&[b'0' + (value / 10) as u8, b'0' + (value % 10) as u8]),
        _ => out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes()),
    }
}

pub fn uint<O: Out + ?Sized>(out: &mut O, value: u32) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// A string of fdwatch's own (a syscall name): nothing to escape.
pub fn plain_string<O: Out + ?Sized>(out: &mut O, s: &str) {
    debug_assert!(s.bytes().all(|b| PLAIN[b as usize]), "{s}");
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

fn string<O: Out + ?Sized>(out: &mut O, s: &str) {
    // Keys, names and numbers-as-text need no escaping: copy them (the common case,
    // every field of every event); anything else goes through serde_json, which
    // escapes exactly as JSON requires (writing into a Vec cannot fail).
    if s.bytes().all(|b| PLAIN[b as usize]) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Serializing a str cannot fail.
        let escaped = serde_json::to_string(s).unwrap_or_default();
        out.extend_from_slice(escaped.as_bytes());
    }
}

/// Bytes from the kernel (a comm) as a JSON string: copied when plain ASCII, else as
/// text with invalid UTF-8 replaced, escaped.
pub fn bytes_string<O: Out + ?Sized>(out: &mut O, bytes: &[u8]) {
    if bytes.iter().all(|&b| PLAIN[b as usize]) {
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
    } else {
        string(out, &String::from_utf8_lossy(bytes));
    }
}

/// `N,"tid":N,"ppid":N,"comm":"..."` of recent threads, kept rendered: busy threads
/// send runs of events, and rendering three numbers and a name was a fifth of an
/// event record's cost. One entry per `tid % THREAD_SLOTS`, so threads on different
/// CPUs whose events interleave in the ring buffer do not evict each other.
#[derive(Default)]
pub struct ThreadFields {
    slots: [ThreadSlot; THREAD_SLOTS],
}

const THREAD_SLOTS: usize = 8;

#[derive(Default)]
struct ThreadSlot {
    of: Option<(u32, u32, u32, [u8; 16])>,
    text: Vec<u8>,
}

impl ThreadFields {
    pub fn write<O: Out + ?Sized>(&mut self, out: &mut O, (pid, tid, ppid): (u32, u32, u32), comm: &[u8; 16]) {
        let of = (pid, tid, ppid, *comm);
        let slot = &mut self.slots[tid as usize % THREAD_SLOTS];
        if slot.of != Some(of) {
            let text = &mut slot.text;
            text.clear();
            uint(text, pid);
            text.extend_from_slice(b",\"tid\":");
            uint(text, tid);
            text.extend_from_slice(b",\"ppid\":");
            uint(text, ppid);
            text.extend_from_slice(b",\"comm\":");
            let end = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
            bytes_string(text, &comm[..end]);
            slot.of = Some(of);
        }
        out.extend_from_slice(&slot.text);
    }
}

/// `"cgroup":{...}` and `,"container":{...}` of a process in `c`, rendered the first
/// time and kept in it: every event record of its processes carries them.
pub fn cgroup_fields(c: &crate::containers::Cgroup) -> &[u8] {
    c.json.get_or_init(|| {
        let mut out = Vec::new();
        for (i, (k, v)) in c.fields().iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            plain_key(&mut out, k);
            write_value(&mut out, v);
        }
        out.into()
    })
}

pub fn write_value<O: Out + ?Sized>(out: &mut O, value: &Value) {
    match value {
        Value::Int(i) => int(out, *i),
        Value::Str(s) => string(out, s),
        Value::Bytes(b) => bytes_string(out, b),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Null => out.extend_from_slice(b"null"),
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(fields) => {
            out.push(b'{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                plain_key(out, k);
                write_value(out, v);
            }
            out.push(b'}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_valid_escaped_json_lines() {
        let mut out = Vec::new();
        Obj::new(&mut out)
            .str("type", "event")
            .int("pid", -1)
            .str("comm", "a\"b\n")
            .value("x", &Value::List(vec![Value::Null, Value::Bool(true), Value::Object(vec![("k", Value::Int(1))])]))
            .end();
        let line = String::from_utf8(out).unwrap();
        assert!(line.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(v["comm"], "a\"b\n");
        assert_eq!(v["x"][2]["k"], 1);
        assert_eq!(v["pid"], -1);
        for n in [0, 9, 10, 99, 100, -5, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            int(&mut out, n);
            assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
        }
    }

    #[test]
    fn thread_fields_follow_the_thread() {
        let mut cache = ThreadFields::default();
        let mut out = Vec::new();
        let comm = |s: &[u8]| {
            let mut c = [0u8; 16];
            c[..s.len()].copy_from_slice(s);
            c
        };
        cache.write(&mut out, (7, 8, 1), &comm(b"sh"));
        out.push(b'|');
        cache.write(&mut out, (7, 8, 1), &comm(b"sh"));
        out.push(b'|');
        cache.write(&mut out, (7, 9, 1), &comm(b"a\"b"));
        out.push(b'|');
        cache.write(&mut out, (7, 9, 1), &comm(b"python3"));
        out.push(b'|');
        cache.write(&mut out, (7, 8 + THREAD_SLOTS as u32, 1), &comm(b"sh"));
        out.push(b'|');
        cache.write(&mut out, (7, 8, 1), &comm(b"sh"));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"7,"tid":8,"ppid":1,"comm":"sh"|7,"tid":8,"ppid":1,"comm":"sh"|7,"tid":9,"ppid":1,"comm":"a\"b"|7,"tid":9,"ppid":1,"comm":"python3"|7,"tid":16,"ppid":1,"comm":"sh"|7,"tid":8,"ppid":1,"comm":"sh""#
        );
    }
}
