//! fdwatch: the collector and CLI. Data flows one way:
//! probes (kernel) -> ring buffer -> collect -> decode -> sinks.
mod cli;
mod clock;
mod collect;
mod decode;
mod error;
mod probes;
mod model;
mod procfs;
mod sinks;

use std::process::ExitCode;

use error::Failure;

fn main() -> ExitCode {
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("fdwatch: {failure}");
            ExitCode::from(failure.code as u8)
        }
    }
}

fn run(cli: &cli::Cli) -> Result<(), Failure> {
    let watched = cli.watched()?;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(Failure::env(
            "fdwatch must run as root to load its eBPF programs (try: sudo fdwatch ...)",
        ));
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
    let mut sink = sinks::Sink::new(format, clock::Clock::sample(), Box::new(std::io::stdout()));
    let ready = sinks::Ready { probes: loaded.attached, watched, follow: cli.follow };
    if sink.ready(&ready).is_err() {
        return Ok(()); // stdout already closed: nobody to report to.
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::env(format!("cannot start the async runtime: {e}")))?;
    // Until detectors exist, events are the only output, so they are always shown.
    let options = collect::Options { show_events: true, duration: cli.duration };
    runtime.block_on(collect::run(loaded, sink, options))
}
