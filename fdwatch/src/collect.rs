//! The collector loop: drain the ring buffer, decode, hand each event on, report
//! losses, stop cleanly on SIGINT/SIGTERM/--duration.
use std::time::Duration;

use aya::maps::{MapData, PerCpuArray, RingBuf};
use fdwatch_common::{Kind, MAX_KIND};
use tokio::{
    io::{Interest, unix::AsyncFd},
    signal::unix::{SignalKind, signal},
    time::{MissedTickBehavior, interval, sleep},
};

use crate::{
    clock::Clock,
    decode::decode,
    error::Failure,
    probes::Probes,
    sinks::{LossSite, PerKind, Sink, Stats},
};

/// How often the ring buffer is drained when no wake-up came (the probes wake us only
/// once `--wakeup-bytes` have piled up).
const DRAIN_EVERY: Duration = Duration::from_millis(10);
/// How often the kernel's loss counters are read.
const LOSS_EVERY: Duration = Duration::from_secs(1);

pub struct Options {
    pub show_events: bool,
    pub duration: Option<Duration>,
}

struct Counters {
    events: PerKind,
    kernel_lost: PerKind,
    kernel_lost_total: u64,
    userspace_lost: PerKind,
    userspace_lost_total: u64,
}

pub async fn run(probes: Probes, mut sink: Sink, options: Options) -> Result<(), Failure> {
    let Probes { events, lost, .. } = probes;
    // SAFETY: the RingBuf owns its map fd, which stays open and unchanged for as long
    // as the AsyncFd owns the RingBuf.
    let mut ring = unsafe { AsyncFd::register_with_interest(events, Interest::READABLE) }
        .map_err(|e| Failure::env(format!("cannot poll the ring buffer: {e}")))?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(signal_failure)?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(signal_failure)?;
    let mut drain_tick = interval(DRAIN_EVERY);
    drain_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut loss_tick = interval(LOSS_EVERY);
    loss_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let deadline = sleep(options.duration.unwrap_or(Duration::from_secs(u64::MAX / 4)));
    tokio::pin!(deadline);

    let started = Clock::monotonic_now_ns();
    let mut counters = Counters {
        events: [0; MAX_KIND as usize],
        kernel_lost: [0; MAX_KIND as usize],
        kernel_lost_total: 0,
        userspace_lost: [0; MAX_KIND as usize],
        userspace_lost_total: 0,
    };
    let mut stdout_open = true;
    loop {
        let mut stop = false;
        tokio::select! {
            ready = ring.readable_mut() => match ready {
                Ok(mut guard) => guard.clear_ready(),
                Err(e) => return Err(Failure::env(format!("polling the ring buffer failed: {e}"))),
            },
            _ = drain_tick.tick() => {}
            _ = loss_tick.tick() => report_losses(&lost, &mut counters, &mut sink),
            _ = sigint.recv() => stop = true,
            _ = sigterm.recv() => stop = true,
            _ = &mut deadline => stop = true,
        }
        drain(ring.get_mut(), &mut counters, &mut sink, &options);
        if sink.flush().is_err() {
            // stdout was closed (e.g. `| head`): nobody is listening, stop quietly.
            stdout_open = false;
            break;
        }
        if stop {
            break;
        }
    }
    if stdout_open {
        report_losses(&lost, &mut counters, &mut sink);
        sink.stats(&Stats {
            events: counters.events,
            kernel_lost: counters.kernel_lost_total,
            userspace_lost: counters.userspace_lost_total,
            elapsed_ns: Clock::monotonic_now_ns().saturating_sub(started),
        });
        let _ = sink.flush();
    }
    Ok(())
}

fn signal_failure(e: std::io::Error) -> Failure {
    Failure::env(format!("cannot install signal handlers: {e}"))
}

fn drain(ring: &mut RingBuf<MapData>, counters: &mut Counters, sink: &mut Sink, options: &Options) {
    while let Some(item) = ring.next() {
        match decode(&item) {
            Ok(event) => {
                counters.events[event.kind as usize] += 1;
                if options.show_events {
                    sink.event(&event);
                }
            }
            Err(_) => {
                // Index 0 is no kind: undecodable records are counted there.
                counters.userspace_lost[0] += 1;
            }
        }
    }
}

/// Emit a `loss` record for what was lost since the last report, per site.
fn report_losses(lost: &PerCpuArray<MapData, u64>, counters: &mut Counters, sink: &mut Sink) {
    let mut delta: PerKind = [0; MAX_KIND as usize];
    let mut total = 0;
    for kind in Kind::ALL {
        let Ok(per_cpu) = lost.get(&(kind as u32), 0) else { continue };
        let now: u64 = per_cpu.iter().sum();
        let seen = &mut counters.kernel_lost[kind as usize];
        if now > *seen {
            delta[kind as usize] = now - *seen;
            total += now - *seen;
            *seen = now;
        }
    }
    if total > 0 {
        counters.kernel_lost_total += total;
        sink.loss(LossSite::KernelRingBuffer, &delta, total);
    }
    let undecodable = counters.userspace_lost[0];
    if undecodable > 0 {
        counters.userspace_lost_total += undecodable;
        let mut d: PerKind = [0; MAX_KIND as usize];
        d[0] = undecodable;
        sink.loss(LossSite::Userspace, &d, undecodable);
        counters.userspace_lost[0] = 0;
    }
}
