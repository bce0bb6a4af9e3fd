//! Which programs are shells or interpreters, and whether one reads its commands from
//! standard input: the difference between `sh` on a socket (whoever is at the other end
//! types the commands) and `sh -c 'printf ... >&3'` (the script's own commands).
use crate::model::Process;

/// Shells: POSIX sh and its relatives (sh(1p)), plus busybox, whose applets run as
/// `sh`/`ash` (checked through argv[0] below).
const SHELLS: &[&str] =
    &["sh", "bash", "dash", "ash", "zsh", "ksh", "ksh93", "mksh", "pdksh", "yash", "fish", "csh", "tcsh", "rbash"];

/// Interpreters with a read-eval loop on standard input. Versioned names (python3.11,
/// perl5.36, php8.2, lua5.4) match by prefix.
const INTERPRETERS: &[&str] =
    &["python", "perl", "ruby", "irb", "php", "lua", "luajit", "node", "nodejs", "tclsh", "wish", "pwsh"];

/// Options that hand an interpreter its program on the command line (so it does not
/// read it from stdin): sh -c, python -c/-m, perl -e/-E, ruby -e, node -e/-p, php -r,
/// lua -e.
const PROGRAM_OPTIONS: &[&str] = &["-c", "-m", "-e", "-E", "-r", "-p", "--eval", "--print", "--command"];

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn is_named(name: &str) -> bool {
    let name = name.strip_prefix('-').unwrap_or(name); // a login shell's argv[0] is "-bash"
    SHELLS.contains(&name)
        || INTERPRETERS.iter().any(|i| {
            name.strip_prefix(i)
                .is_some_and(|rest| rest.is_empty() || rest.chars().all(|c| c.is_ascii_digit() || c == '.'))
        })
}

/// Whether `process` runs a shell or an interpreter: its executable's name, its argv[0]
/// (busybox runs `sh` as argv[0]), or, before the model knows either, its comm.
pub fn is_shell(process: &Process) -> bool {
    let exe = process.exe.as_deref().map(basename);
    let argv0 = process.args.as_deref().and_then(|a| a.first()).map(|a| basename(a));
    match exe {
        Some("busybox") => argv0.is_some_and(is_named),
        Some(exe) => is_named(exe),
        None => argv0.is_some_and(is_named) || is_named(&process.comm),
    }
}

/// Whether a shell or interpreter run with `args` reads its commands from standard
/// input: no program on the command line (`-c CMD`, `-e CODE`, a script file), or
/// explicitly (`-s`, `-i`, `-`). Unknown arguments (a process fdwatch found running and
/// could not read) count as yes: the cautious answer for a remote shell.
pub fn reads_commands_from_stdin(process: &Process) -> bool {
    let Some(args) = process.args.as_deref() else { return true };
    for arg in args.iter().skip(1) {
        let arg = &**arg;
        if arg == "-" || arg == "-s" || arg == "-i" {
            return true;
        }
        if PROGRAM_OPTIONS.contains(&arg) {
            return false;
        }
        // A cluster of short options, as shells take them: `-ic CMD`, `-lc CMD`, `-is`.
        if let Some(letters) = arg.strip_prefix('-').filter(|l| !l.starts_with('-') && !l.is_empty()) {
            if letters.contains('s') {
                return true;
            }
            if letters.contains('c') {
                return false;
            }
            continue;
        }
        if arg.starts_with("--") || arg.starts_with('+') {
            continue;
        }
        // The first operand: a script file.
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TableId;

    fn process(exe: &str, args: &[&str]) -> Process {
        Process {
            ppid: 1,
            comm: basename(exe).into(),
            exe: Some(exe.into()),
            args: Some(args.iter().map(|a| (*a).into()).collect()),
            table: TableId(1),
            synced_at_ns: 0,
        }
    }

    #[test]
    fn shells_and_interpreters_by_name() {
        for exe in ["/bin/sh", "/usr/bin/bash", "/bin/dash", "/usr/bin/python3", "/usr/bin/python3.11", "/usr/bin/perl"]
        {
            assert!(is_shell(&process(exe, &["x"])), "{exe}");
        }
        for exe in ["/usr/bin/cat", "/usr/bin/ncat", "/usr/bin/pythonista", "/usr/sbin/sshd", "/usr/bin/socat"] {
            assert!(!is_shell(&process(exe, &["x"])), "{exe}");
        }
        assert!(is_shell(&process("/bin/busybox", &["sh"])));
        assert!(!is_shell(&process("/bin/busybox", &["nc"])));
    }

    #[test]
    fn who_reads_commands_from_stdin() {
        let yes = [&["sh"][..], &["bash", "-i"], &["-bash"], &["sh", "-s", "arg"], &["python3"], &["python3", "-i"]];
        for args in yes {
            assert!(reads_commands_from_stdin(&process("/bin/sh", args)), "{args:?}");
        }
        let no = [
            &["sh", "-c", "printf x >&3"][..],
            &["bash", "-lc", "cmd"],
            &["bash", "script.sh"],
            &["python3", "-c", "pass"],
            &["python3", "app.py"],
            &["perl", "-e", "1"],
        ];
        for args in no {
            assert!(!reads_commands_from_stdin(&process("/bin/sh", args)), "{args:?}");
        }
        let unknown = Process { args: None, ..process("/bin/sh", &[]) };
        assert!(reads_commands_from_stdin(&unknown));
    }
}
