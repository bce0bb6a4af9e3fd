//! docs/schema.json, the JSON Schema of every record: the harness checks each record
//! it reads against it (collector.rs), so every integration test validates its output
//! for free.
use std::sync::OnceLock;

use serde_json::Value;

use crate::workspace_root;

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let path = workspace_root().join("docs/schema.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let schema: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        jsonschema::validator_for(&schema)
            .unwrap_or_else(|e| panic!("{} is not a valid JSON Schema: {e}", path.display()))
    })
}

/// What is wrong with `record` by docs/schema.json, every error with where it is.
pub fn violations(record: &Value) -> Option<String> {
    let errors: Vec<String> =
        validator().iter_errors(record).map(|e| format!("at {:?}: {e}", e.instance_path().to_string())).collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TS: &str = "2026-11-21T18:40:41.887515443Z";

    #[test]
    fn records_of_every_type_validate_and_broken_ones_do_not() {
        let good = [
            json!({"type":"ready","ts":TS,"host":"vm","v":1,"probes":4,"collector_pid":9,"watched":[],"follow":false,"processes":3,"fds":9,"scan_ns":5}),
            json!({"type":"event","ts":TS,"host":"vm","v":1,"pid":1,"tid":1,"ppid":0,"comm":"x","syscall":"dup2","oldfd":1,"newfd":100,"ret":100}),
            json!({"type":"loss","ts":TS,"host":"vm","v":1,"where":"kernel_ring_buffer","count":3,"by_kind":{"close":3}}),
            json!({"type":"loss","ts":TS,"host":"vm","v":1,"where":"output","output":"tcp:127.0.0.1:9","count":3,"by_type":{"event":3}}),
            json!({"type":"reload","ts":TS,"host":"vm","v":1,"ok":false,"config":"/etc/x","error":"bad","applied":[],"needs_restart":[],"reopened":1}),
            json!({"type":"resync","ts":TS,"host":"vm","v":1,"scope":"all","reason":"r","processes":3,"fds_changed":0}),
            json!({"type":"symptom","ts":TS,"host":"vm","v":1,"id":2,"kind":"stdio_hijack","pid":7,"comm":"x","syscall":"sendto","args":{"sockfd":0},"ret":-106,"errno":"EISCONN"}),
            // Kernel-internal codes seen at syscall exit (include/linux/errno.h) have an underscore.
            json!({"type":"event","ts":TS,"host":"vm","v":1,"pid":1,"tid":1,"ppid":0,"comm":"x","syscall":"poll","nfds":0,"timeout":5000,"fds":[],"ret":-516,"errno":"ERESTART_RESTARTBLOCK"}),
            json!({"type":"alert","ts":TS,"host":"vm","v":1,"id":1,"kind":"interrupted_wait","severity":"critical","pid":7,"comm":"x","exe":null,"message":"m","evidence":[],
                   "syscall":"poll","timeout_ns":5,"waited_ns":null,"stopped_by":{"pid":6,"comm":"t","how":"PTRACE_ATTACH"},"restart":"restart_syscall","errno":"EPERM","seccomp_mode":"filter","seccomp_filters":1}),
            json!({"type":"alert","ts":TS,"host":"vm","v":1,"id":1,"kind":"stdio_hijack","severity":"critical","pid":7,"comm":"sh","exe":"/bin/sh","message":"m","evidence":[],
                   "shape":"relayed_shell","fds":[0,1],"object":{"type":"socket"},"relays":[{"pid":6,"comm":"ncat","exe":null,"socket_pid":6,"socket_fd":3}]}),
            json!({"type":"end","ts":TS,"host":"vm","v":1,"query":"holders","object":"pipe:[5]","source":"agent","records":2,"truncated":false}),
            json!({"type":"end","ts":TS,"host":"vm","v":1,"source":"agent","records":0,"truncated":false,"error":"refused: uid 65534 is not root"}),
        ];
        for g in &good {
            assert_eq!(violations(g), None, "{g}");
        }
        let bad = [
            json!({"type":"event","ts":TS,"host":"vm","pid":1,"tid":1,"ppid":0,"comm":"x","syscall":"dup2"}),
            json!({"type":"event","ts":TS,"host":"vm","v":2,"pid":1,"tid":1,"ppid":0,"comm":"x","syscall":"dup2"}),
            json!({"type":"nope","ts":TS,"host":"vm","v":1}),
            json!({"type":"loss","ts":TS,"host":"vm","v":1,"where":"output","count":3,"by_kind":{}}),
            json!({"type":"ready","ts":TS,"host":"vm","v":1,"probes":4}),
            json!({"type":"reload","ts":TS,"host":"vm","v":1,"ok":true,"config":null,"error":"x","applied":[],"needs_restart":[],"reopened":0}),
            json!({"type":"end","ts":TS,"host":"vm","v":1,"query":"fds","pid":1,"source":"cache","records":0,"truncated":false}),
            json!({"type":"end","ts":TS,"host":"vm","v":1,"query":"fds","pid":1,"source":"agent","records":0}),
            json!({"type":"resync","ts":"yesterday","host":"vm","v":1,"scope":"all","reason":"r","processes":3,"fds_changed":0}),
            json!({"type":"symptom","ts":TS,"host":"vm","v":1,"kind":"stdio_hijack","pid":7,"comm":"x","syscall":"sendto","args":{},"ret":-106,"errno":"EISCONN"}),
            json!({"type":"alert","ts":TS,"host":"vm","v":1,"id":1,"kind":"stdio_hijack","severity":"critical","pid":7,"comm":"sh","exe":"/bin/sh","message":"m","evidence":[],
                   "shape":"relayed_shell","fds":[0,1],"object":{"type":"socket"}}),
        ];
        for b in &bad {
            assert!(violations(b).is_some(), "{b} should not validate");
        }
    }
}
