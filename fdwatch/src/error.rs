//! The user-facing failure: one line on stderr and an exit code (DESIGN.md contract).
use std::fmt;

/// Exit codes: 0 normal stop, 1 environment problem, 2 usage error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    Environment = 1,
    Usage = 2,
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
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
