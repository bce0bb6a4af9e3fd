//! Checking records: exact field values, and the record contract of README.md (*Output*).
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

/// A record whose line repeated a key gets this extra field: `[[key, later value], ...]`
/// (the first value is the one kept under the key). serde_json, like most JSON readers,
/// would silently keep the last one, so `{"type":"event",...,"type":"SOCK_STREAM"}`
/// would look like a record of type "SOCK_STREAM".
pub const DUPLICATES: &str = "__duplicate_keys__";

/// Parses one NDJSON line into an object, keeping the first value of a repeated key and
/// listing the others under [`DUPLICATES`].
pub fn parse_record(line: &[u8]) -> Result<Value, serde_json::Error> {
    struct Pairs(Vec<(String, Value)>);
    impl<'de> Deserialize<'de> for Pairs {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Pairs;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Pairs, A::Error> {
                    let mut pairs = Vec::new();
                    while let Some(kv) = m.next_entry::<String, Value>()? {
                        pairs.push(kv);
                    }
                    Ok(Pairs(pairs))
                }
            }
            d.deserialize_map(V)
        }
    }
    let Pairs(pairs) = serde_json::from_slice(line)?;
    let mut map = Map::new();
    let mut dups = Vec::new();
    for (k, v) in pairs {
        if map.contains_key(&k) {
            dups.push(Value::Array(vec![Value::String(k), v]));
        } else {
            map.insert(k, v);
        }
    }
    if !dups.is_empty() {
        map.insert(DUPLICATES.to_string(), Value::Array(dups));
    }
    Ok(Value::Object(map))
}

/// In an expected record, matches any value (the field must still be present).
pub const ANY: &str = "<any>";

/// The record types the output contract lists (README.md, Output; docs/schema.json).
pub const DOCUMENTED_TYPES: [&str; 11] =
    ["ready", "event", "alert", "repeat", "resolved", "symptom", "loss", "resync", "fd", "stats", "reload"];

/// Fields every record has; not argument fields.
const ENVELOPE: [&str; 4] = ["type", "ts", "host", "v"];

/// Asserts that `actual` has exactly the fields of `expected` (an object) with exactly
/// those values, besides the envelope (`type`, `ts`, `host`, checked by the collector
/// harness for every record). A field fdwatch adds that the test does not name is a
/// failure too: the output contract is the exact set of fields. A value of [`ANY`]
/// only requires the field to be present.
#[track_caller]
pub fn assert_event(actual: &Value, expected: &Value) {
    let exp = expected.as_object().expect("expected is a JSON object");
    let Some(act) = actual.as_object() else { panic!("record is not an object: {actual}") };
    let mut problems = Vec::new();
    for (k, v) in exp {
        match act.get(k) {
            None => problems.push(format!("missing field {k:?} (expected {v})")),
            Some(_) if v.as_str() == Some(ANY) => {}
            Some(a) if a != v => problems.push(format!("field {k:?} is {a}, expected {v}")),
            Some(_) => {}
        }
    }
    if let Some(dups) = act.get(DUPLICATES) {
        for d in dups.as_array().into_iter().flatten() {
            problems.push(format!(
                "the line repeats the key {} (first value {} kept, the repeat says {}): not a valid record",
                d[0],
                act.get(d[0].as_str().unwrap_or_default()).unwrap_or(&Value::Null),
                d[1]
            ));
        }
    }
    for (k, v) in act {
        if k == DUPLICATES {
            continue;
        }
        if !exp.contains_key(k) && !ENVELOPE.contains(&k.as_str()) {
            problems.push(format!("unexpected field {k:?} = {v}"));
        }
    }
    assert!(
        problems.is_empty(),
        "record does not match:\n  - {}\nrecord:   {actual}\nexpected: {expected}",
        problems.join("\n  - ")
    );
}

/// A check's test: None if the record passes, else what it found.
type Test<'a> = Box<dyn Fn(&Value) -> Option<String> + 'a>;

/// One check of an expected record, for reports of the near miss: what it looks at,
/// the value it expects, and a test that says what it found instead (None: it passes).
pub struct Check<'a> {
    pub what: String,
    pub expected: String,
    test: Test<'a>,
}

impl<'a> Check<'a> {
    pub fn new(what: &str, expected: &str, test: impl Fn(&Value) -> Option<String> + 'a) -> Check<'a> {
        Check { what: what.into(), expected: expected.into(), test: Box::new(test) }
    }

    /// The field `key` equals `want`.
    pub fn field(key: &str, want: impl Into<Value>) -> Check<'a> {
        let want = want.into();
        let key_owned = key.to_string();
        Check::new(key, &want.to_string(), move |v| match v.get(&key_owned) {
            Some(found) if *found == want => None,
            Some(found) => Some(found.to_string()),
            None => Some("(no such field)".into()),
        })
    }
}

/// The near miss, as pulsar's test runner shows it: the records that pass the most of
/// `checks` (the last `most` of them), each with every check passed or failed, and
/// what a failed one found.
pub fn near_misses(records: &[Value], checks: &[Check], most: usize) -> String {
    let scored: Vec<(usize, &Value)> =
        records.iter().map(|r| (checks.iter().filter(|c| (c.test)(r).is_none()).count(), r)).collect();
    let best = scored.iter().map(|(score, _)| *score).max().unwrap_or(0);
    if best == 0 {
        return format!("no record passes any of the checks ({} records)", records.len());
    }
    let closest: Vec<&Value> = scored.iter().filter(|(score, _)| *score == best).map(|(_, r)| *r).collect();
    let mut text = format!(
        "the closest records pass {best} of {} checks; {} do, the last {} of them:",
        checks.len(),
        closest.len(),
        closest.len().min(most)
    );
    for r in &closest[closest.len().saturating_sub(most)..] {
        text.push_str(&format!("\n  {r}"));
        for c in checks {
            match (c.test)(r) {
                None => text.push_str(&format!("\n    ok   {}: {}", c.what, c.expected)),
                Some(found) => text.push_str(&format!("\n    FAIL {}: found {found}, expected {}", c.what, c.expected)),
            }
        }
    }
    text
}

/// Predicate: an `event` record of `pid` for `syscall`.
pub fn event_of(v: &Value, pid: i64, syscall: &str) -> bool {
    v["type"] == "event" && v["pid"] == pid && v["syscall"] == syscall
}

/// The record contract every line must meet (README.md, *Output*); returns
/// what is wrong.
pub fn contract_violation(v: &Value) -> Option<String> {
    let Some(obj) = v.as_object() else { return Some("not a JSON object".into()) };
    // Any string type passes here; record types outside DOCUMENTED_TYPES are the job of
    // one dedicated test (cli.rs), not a reason to stop every test.
    let ty = obj.get("type").and_then(Value::as_str);
    if ty.is_none() {
        return Some(format!("\"type\" is {:?}, not a string", obj.get("type")));
    }
    match obj.get("ts").and_then(Value::as_str) {
        Some(ts) if is_rfc3339_nanos_utc(ts) => {}
        other => return Some(format!("\"ts\" {other:?} is not RFC 3339 UTC with nanoseconds")),
    }
    if !obj.get("host").is_some_and(Value::is_string) {
        return Some("\"host\" is missing or not a string".into());
    }
    if obj.get("v") != Some(&Value::from(1)) {
        return Some(format!("\"v\" (the schema version) is {:?}, not 1", obj.get("v")));
    }
    if ty == Some("event") {
        for k in ["pid", "tid", "ppid"] {
            if !obj.get(k).is_some_and(Value::is_i64) {
                return Some(format!("event without an integer {k:?}"));
            }
        }
        for k in ["comm", "syscall"] {
            if !obj.get(k).is_some_and(Value::is_string) {
                return Some(format!("event without a string {k:?}"));
            }
        }
    }
    None
}

/// "2024-01-02T03:04:05.123456789Z"
fn is_rfc3339_nanos_utc(ts: &str) -> bool {
    let b = ts.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.clone().all(|i| b[i].is_ascii_digit());
    b.len() == 30
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..29)
        && b[29] == b'Z'
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn exact_fields() {
        let rec = json!({"type":"event","ts":"x","host":"h","pid":1,"ret":0});
        assert_event(&rec, &json!({"pid":1,"ret":0}));
        assert_event(&rec, &json!({"pid":ANY,"ret":0}));
        let extra = std::panic::catch_unwind(|| assert_event(&rec, &json!({"pid":1})));
        assert!(extra.is_err(), "an unexpected field fails");
        let wrong = std::panic::catch_unwind(|| assert_event(&rec, &json!({"pid":2,"ret":0})));
        assert!(wrong.is_err());
    }

    #[test]
    fn repeated_keys_are_kept_apart() {
        let v = parse_record(br#"{"type":"event","x":1,"type":"SOCK_STREAM"}"#).unwrap();
        assert_eq!(v["type"], "event");
        assert_eq!(v[DUPLICATES], json!([["type", "SOCK_STREAM"]]));
        let r = std::panic::catch_unwind(|| assert_event(&v, &json!({"x": 1})));
        assert!(r.is_err(), "a repeated key fails assert_event");
        assert!(parse_record(b"[1]").is_err());
    }

    #[test]
    fn near_misses_show_the_closest_records_check_by_check() {
        let records = [
            json!({"type": "event", "pid": 1, "syscall": "dup2"}),
            json!({"type": "event", "pid": 2, "syscall": "close"}),
            json!({"type": "stats"}),
        ];
        let checks = [Check::field("type", "event"), Check::field("pid", 2), Check::field("syscall", "dup2")];
        let text = near_misses(&records, &checks, 3);
        assert!(text.starts_with("the closest records pass 2 of 3 checks; 2 do"), "{text}");
        assert!(text.contains("FAIL pid: found 1, expected 2"), "{text}");
        assert!(text.contains("FAIL syscall: found \"close\", expected \"dup2\""), "{text}");
        assert!(!text.contains("stats"), "{text}");
        assert!(near_misses(&records[2..], &checks[1..], 3).starts_with("no record passes"));
    }

    #[test]
    fn contract() {
        let ok = json!({"type":"stats","ts":"2026-11-21T18:40:41.887515443Z","host":"vm","v":1});
        assert_eq!(contract_violation(&ok), None);
        assert!(contract_violation(&json!({"ts":"2026-11-21T18:40:41.887515443Z","host":"vm"})).is_some());
        let bad_ts = json!({"type":"stats","ts":"2026-11-21T18:40:41Z","host":"vm","v":1});
        assert!(contract_violation(&bad_ts).is_some());
        let event = json!({"type":"event","ts":"2026-11-21T18:40:41.887515443Z","host":"vm","pid":1});
        assert!(contract_violation(&event).is_some());
    }
}
