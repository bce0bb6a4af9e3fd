//! Printing and running external commands. Every command xtask runs goes through here, so
//! the user sees exactly what to type to repeat a step by hand.

use std::ffi::OsStr;
use std::process::{Command, ExitStatus, Stdio};

use anyhow::{Context as _, bail};

/// A failed step. `main` prints it as one line, `error: ` and its context chain
/// (`{:#}`), and exits 1; no backtrace, no Debug formatting, because the reader is a
/// newcomer running one command.
pub type Result<T> = anyhow::Result<T>;

/// Runs `cmd` (printed first) and fails if it does not exit 0.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = status(cmd)?;
    if !status.success() {
        bail!("`{}` failed ({status})", display(cmd));
    }
    Ok(())
}

/// Runs `cmd` (printed first) and returns its exit status, for callers that forward it.
pub fn status(cmd: &mut Command) -> Result<ExitStatus> {
    eprintln!("+ {}", display(cmd));
    cmd.status().with_context(|| format!("cannot start `{}`", display(cmd)))
}

/// Runs `program args` silently and returns its stdout if it exits 0. Used by checks, which
/// only care whether something is present, so "not found" and "failed" are both `None`.
pub fn probe(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether `program` can be found on PATH (without running it).
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// A shell-like rendering of `cmd`, with its environment overrides in front. A PATH that
/// only prepends to ours is shown as `PATH=dir:$PATH` rather than the whole list.
pub fn display(cmd: &Command) -> String {
    let our_path = std::env::var_os("PATH").unwrap_or_default();
    let mut words = Vec::new();
    for (key, value) in cmd.get_envs() {
        let Some(value) = value else { continue };
        let value = value.to_string_lossy();
        let our_path = our_path.to_string_lossy();
        let shown = match value.strip_suffix(&format!(":{our_path}")) {
            Some(prefix) if key == "PATH" && !our_path.is_empty() => format!("{prefix}:$PATH"),
            _ => quote(value.as_ref()),
        };
        words.push(format!("{}={shown}", key.to_string_lossy()));
    }
    // The cargo running xtask is shown as plain `cargo`, as a user would type it.
    let program = cmd.get_program();
    if std::env::var_os("CARGO").is_some_and(|cargo| cargo == program) {
        words.push("cargo".to_owned());
    } else {
        words.push(quote(&program.to_string_lossy()));
    }
    words.extend(cmd.get_args().map(|a| quote(&a.to_string_lossy())));
    words.join(" ")
}

/// Single-quotes a word if the shell would otherwise split or expand it.
fn quote(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain { word.to_owned() } else { format!("'{}'", word.replace('\'', r"'\''")) }
}

/// Lets `cargo install`, and a nested `cargo`, be the same cargo that runs xtask.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").as_deref().unwrap_or(OsStr::new("cargo")))
}

/// Effective uid 0. apt needs it, and fdwatch needs it to load eBPF programs.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
