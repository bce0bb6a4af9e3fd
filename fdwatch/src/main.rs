//! fdwatch: the collector and CLI. Data flows one way:
//! probes (kernel) -> ring buffer -> collect -> decode -> model -> detect -> sinks.

use std::process::ExitCode;

use fdwatch::{cli, clock, collect, detect, error::Failure, fds_command, heap, model, probes, sinks};

fn main() -> ExitCode {
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
            eprintln!("fdwatch: {failure}");
            ExitCode::from(failure.code as u8)
        }
    }
}

fn monitor(cli: &cli::Cli) -> Result<(), Failure> {
    let watched = cli.watched()?;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(Failure::env("fdwatch must run as root to load its eBPF programs (try: sudo fdwatch ...)"));
    }
    let offsets = probes::btf::load_kernel_offsets().map_err(|e| Failure::env(e.to_string()))?;
    let settings = probes::Settings {
        watched: &watched,
        follow: cli.follow,
        ring_bytes: cli.ring_bytes,
        wakeup_bytes: cli.wakeup_bytes,
    };
    let loaded = probes::load(&settings, &offsets)?;
    let format = if cli.json { sinks::Format::Json } else { sinks::Format::Text };
    let clock = clock::Clock::sample();
    let sink = sinks::Sink::new(format, clock, Box::new(std::io::stdout()));
    let options = collect::Options {
        show_events: cli.events,
        duration: cli.duration,
        dump_on_exit: cli.dump_on_exit,
        watched: watched.clone(),
        follow: cli.follow,
    };
    let model = model::Model::new(model::Limits { max_fds: cli.max_fds });
    let detectors = detect::Detectors::new(cli.detect_config(), clock);
    let mut collector = collect::Collector::new(model, detectors, sink, clock, options);
    // Probes first, then /proc: whatever changes while we read arrives as events.
    let mut loaded = loaded;
    let scan = collector.scan_at_start(&mut loaded.task_files);
    // Loading parsed the kernel's BTF (twice: aya and our offsets reader), some 17 MB
    // that glibc keeps after it is freed; an always-on agent should not carry it.
    heap::trim();
    let ready = sinks::Ready {
        probes: loaded.attached,
        watched,
        follow: cli.follow,
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
        if collector.sink().ready(&ready).is_err() {
            return Ok(()); // stdout already closed: nobody to report to.
        }
        collector.run(loaded, signals).await
    })
}
