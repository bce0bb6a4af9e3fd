//! Empty on purpose: the programs are the binary (main.rs). This library lets fdwatch
//! name the crate as a build-dependency (aya-template's layout), so cargo rebuilds
//! fdwatch, and with it the embedded eBPF object, when the probes change.
#![no_std]
