//! libFuzzer entry point: every input is a script of ring-buffer records and collector
//! steps, run through fdwatch's whole userspace pipeline (fdwatch_fuzz::run).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fdwatch_fuzz::run(data));
