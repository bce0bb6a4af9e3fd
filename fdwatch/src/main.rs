//! fdwatch: the collector and CLI. Data flows one way:
//! probes (kernel) -> ring buffer -> collect -> decode -> model -> detect -> sinks.

use std::process::ExitCode;

use fdwatch::{
    cli, clock, collect, config, containers, control, decode, detect,
    error::{self, Failure, report},
    fds_command, heap, holders_command, metrics, model, outputs, privileges, probes, scope, sinks,
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
        Some(cli::Command::Fds { pid, json }) => fds_command::run(*pid, *json, query_socket(&cli).as_deref()),
        Some(cli::Command::Holders { object, json }) => {
            holders_command::run(object, *json, query_socket(&cli).as_deref())
        }
        Some(cli::Command::Config { action: cli::ConfigAction::Check { path } }) => config::check(path.clone()),
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

/// The socket the query commands ask: `--control-socket`, else the default; `off`: none.
fn query_socket(cli: &cli::Cli) -> Option<std::path::PathBuf> {
    let path = control::path_or_default(cli.control_socket.as_deref());
    (path.as_os_str() != control::OFF).then_some(path)
}

fn monitor(cli: &cli::Cli) -> Result<(), Failure> {
    let loader = config::Loader::new(cli);
    let config = loader.load()?;
    let layout = containers::layout::Layout::read();
    let resolved = match &config.container {
        Some(prefix) => scope::container(prefix, &layout)?,
        None => scope::resolve(&config.pids, config.follow)?,
    };
    for note in &resolved.notes {
        report(format_args!("{note}"));
    }
    privileges::check()?;
    let offsets = probes::btf::load_kernel_offsets().map_err(|e| Failure::env(e.to_string()))?;
    let settings = probes::Settings {
        scope: &resolved.scope,
        ring_bytes: config.ring_bytes,
        wakeup_bytes: config.wakeup_bytes,
        alerts_only: !config.events,
    };
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
    if !resolved.scope.pids().is_empty() && watch.members().is_empty() {
        let pids: Vec<String> = resolved.scope.pids().iter().map(u32::to_string).collect();
        return Err(Failure::usage(format!("--pid {}: exited while fdwatch was starting", pids.join(", "))));
    }
    // Agent mode's cheaper clock (fdwatch_common::clock), or why it is not used.
    let timebase = loaded.timebase.clone().unwrap_or_else(|why| {
        report(format_args!("{why}: agent mode stamps records with the ns clock"));
        decode::Timebase::default()
    });
    let clock = clock::Clock::sample();
    // Standard output alone is written by the collector itself, with the exit codes of
    // the command line; any other set of outputs gets writer threads (outputs/).
    let sink = if config.stdout_only() {
        sinks::Sink::direct(&config.outputs[0], clock, Box::new(outputs::stdout::Stdout::new()))
    } else {
        let outputs = outputs::Outputs::start(&config.outputs, &sinks::hostname()).map_err(Failure::env)?;
        sinks::Sink::with_outputs(clock, outputs)
    };
    let metrics = config.metrics.map(metrics::Metrics::serve).transpose()?;
    let watched = watch.members();
    let options = collect::Options {
        show_events: config.events,
        duration: config.duration,
        dump_on_exit: config.dump_on_exit,
        watch,
        layout,
        stdout: config.stdout_only().then(outputs::stdout::Stdout::new),
        timebase,
    };
    // Bound before `ready`: whoever waits for it may query at once. A socket that cannot
    // be had (another agent answers on it) is one line; monitoring goes on without it.
    let control = config.control_socket.as_deref().and_then(|path| {
        control::listen::bind(path).map_err(|why| report(format_args!("{why}; queries are not answered"))).ok()
    });
    let service = collect::Service {
        stats_interval: config.stats_interval,
        reload: Some((loader, config.clone())),
        metrics,
        queries: None,
    };
    let model = model::Model::new(model::Limits { max_fds: config.max_fds });
    let detectors = detect::Detectors::new(config.detect_config(), clock);
    let mut collector = collect::Collector::new(model, detectors, sink, clock, options).serve(service);
    // Probes first, then /proc: whatever changes while we read arrives as events.
    let scan = collector.scan_at_start(&mut loaded.task_files);
    // Loading parsed the kernel's BTF (twice: aya and our offsets reader), some 17 MB
    // that glibc keeps after it is freed; an always-on agent should not carry it.
    heap::trim();
    let ready = sinks::Ready {
        probes: loaded.attached,
        watched,
        follow: resolved.scope.follow(),
        container: resolved.scope.container().map(|f| (f.container.clone(), f.path.clone())),
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
        if let Some(socket) = control {
            let host = collector.sink().host().to_owned();
            match control::server::start(socket, clock, host) {
                Ok(inbox) => collector.listen(inbox),
                Err(why) => report(format_args!("{why}; queries are not answered")),
            }
        }
        loaded.spawn_kernel_log().map_err(|e| privileges::explain(&e))?;
        match collector.sink().ready(&ready) {
            Ok(()) => collector.run(loaded, signals).await,
            // Standard output already closed: nobody to report to.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            Err(e) => Err(Failure::output(format!("cannot write to standard output: {e}"))),
        }
    })
}
