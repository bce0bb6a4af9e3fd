//! fdwatch: the collector and CLI. Data flows one way:
//! probes (kernel) -> ring buffer -> collect -> decode -> model -> detect -> sinks.

use std::process::ExitCode;

use fdwatch::{
    cli, clock, collect, detect,
    error::{self, Failure, report},
    fds_command, heap, model, privileges, probes, scope, sinks,
};

fn main() -> ExitCode {
    error::install_panic_hook();
    // How the tests prove the hook works for real: there is no other way to make a
    // correct fdwatch panic (README, "Guarantees").
    if std::env::var_os("FDWATCH_TEST_PANIC").is_some() {
        panic!("FDWATCH_TEST_PANIC is set");
    }
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let result = match &cli.command {
        Some(cli::Command::Fds { pid, json }) => fds_command::run(*pid, *json),
        None => monitor(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            report(format_args!("{failure}"));
            ExitCode::from(failure.code as u8)
        }
    }
}

fn monitor(cli: &cli::Cli) -> Result<(), Failure> {
    let resolved = scope::resolve(&cli.pids, cli.follow)?;
    for note in &resolved.notes {
        report(format_args!("{note}"));
    }
    let wakeup_bytes = cli.wakeup_bytes()?;
    privileges::check()?;
    let offsets = probes::btf::load_kernel_offsets().map_err(|e| Failure::env(e.to_string()))?;
    let settings = probes::Settings { scope: &resolved.scope, ring_bytes: cli.ring_bytes, wakeup_bytes };
    let mut loaded = probes::load(&settings, &offsets).map_err(|e| privileges::explain(&e))?;
    // A chosen process that exited before the exit probe was attached is still on the
    // kernel's watch list, where a process that reuses its pid would be watched.
    let mut watch = scope::Watch::new(&resolved.scope);
    for pinned in &resolved.pinned {
        if pinned.exited() {
            loaded.unwatch(pinned.pid);
            watch.exited(pinned.pid);
        }
    }
    if !watch.is_host() && watch.members().is_empty() {
        let pids: Vec<String> = resolved.scope.pids().iter().map(u32::to_string).collect();
        return Err(Failure::usage(format!("--pid {}: exited while fdwatch was starting", pids.join(", "))));
    }
    let format = if cli.json { sinks::Format::Json } else { sinks::Format::Text };
    let clock = clock::Clock::sample();
    let sink = sinks::Sink::new(format, clock, Box::new(sinks::stdout::Stdout::new()));
    let watched = watch.members();
    let options = collect::Options {
        show_events: cli.events,
        duration: cli.duration,
        dump_on_exit: cli.dump_on_exit,
        watch,
        stdout: Some(sinks::stdout::Stdout::new()),
    };
    let model = model::Model::new(model::Limits { max_fds: cli.max_fds });
    let detectors = detect::Detectors::new(cli.detect_config(), clock);
    let mut collector = collect::Collector::new(model, detectors, sink, clock, options);
    // Probes first, then /proc: whatever changes while we read arrives as events.
    let scan = collector.scan_at_start(&mut loaded.task_files);
    // Loading parsed the kernel's BTF (twice: aya and our offsets reader), some 17 MB
    // that glibc keeps after it is freed; an always-on agent should not carry it.
    heap::trim();
    let ready = sinks::Ready {
        probes: loaded.attached,
        watched,
        follow: resolved.scope.follow(),
        processes: scan.processes,
        fds: scan.fds,
        scan_ns: scan.elapsed_ns,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::env(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        // Handlers first: a script may signal us the moment it reads `ready`.
        let signals = collect::Signals::install()?;
        loaded.spawn_kernel_log().map_err(|e| privileges::explain(&e))?;
        match collector.sink().ready(&ready) {
            Ok(()) => collector.run(loaded, signals).await,
            // Standard output already closed: nobody to report to.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            Err(e) => Err(Failure::output(format!("cannot write to standard output: {e}"))),
        }
    })
}
