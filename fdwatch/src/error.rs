//! The user-facing failure: one line on stderr and an exit code (the README's contract).
use std::{fmt, io::Write as _};

/// Exit codes: 0 normal stop, 1 environment problem, 2 usage error, 3 output error,
/// 4 internal error (a bug: a panic).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    Environment = 1,
    Usage = 2,
    Output = 3,
    Internal = 4,
}

#[derive(Debug)]
pub struct Failure {
    pub code: ExitCode,
    pub message: String,
}

impl Failure {
    pub fn env(message: impl Into<String>) -> Self {
        Self { code: ExitCode::Environment, message: message.into() }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self { code: ExitCode::Usage, message: message.into() }
    }

    pub fn output(message: impl Into<String>) -> Self {
        Self { code: ExitCode::Output, message: message.into() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// One line on stderr, `fdwatch: ` first, escaped like every line of text output
/// (sinks/escape.rs): it may quote a comm, a path or an argument, and stays one line.
/// A failing stderr is ignored: there is no one left to tell (`eprintln!` would panic
/// instead).
pub fn report(line: fmt::Arguments<'_>) {
    let text = format!("fdwatch: {line}");
    let mut out = Vec::with_capacity(text.len() + 1);
    crate::escape::line(&mut out, text.as_bytes());
    let _ = std::io::stderr().lock().write_all(&out);
}

/// Make a panic anywhere one line on stderr (what and where, no backtrace unless
/// RUST_BACKTRACE asks) and exit code 4: a panic in the collector is a bug, and must
/// neither pass silently nor leave a half-written multi-line report in a log.
pub fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        report(format_args!("internal error (a bug, please report it): {what}{at}"));
        if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
            default(info);
        }
        std::process::exit(ExitCode::Internal as i32);
    }));
}
