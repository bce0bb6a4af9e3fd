//! The record types of the output contract (README, *Output*; docs/schema.json), and
//! the choice an output makes among them (`records`, `min_severity`).
use crate::detect::alert::Severity;

/// The schema version every JSON record carries as `"v"` (docs/schema.json). Bumped
/// only when a field changes meaning or goes away; new fields and record types keep it.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordType {
    Ready,
    Event,
    Alert,
    Repeat,
    Resolved,
    Loss,
    Resync,
    Fd,
    Stats,
    Reload,
    /// A failure after an alert's window, tied to the alert (issue 15).
    Symptom,
}

/// Counts per record type (index = `RecordType as usize`).
pub type TypeCounts = [u64; RecordType::COUNT];

impl RecordType {
    pub const COUNT: usize = 11;
    pub const ALL: [RecordType; Self::COUNT] = [
        RecordType::Ready,
        RecordType::Event,
        RecordType::Alert,
        RecordType::Repeat,
        RecordType::Resolved,
        RecordType::Loss,
        RecordType::Resync,
        RecordType::Fd,
        RecordType::Stats,
        RecordType::Reload,
        RecordType::Symptom,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RecordType::Ready => "ready",
            RecordType::Event => "event",
            RecordType::Alert => "alert",
            RecordType::Repeat => "repeat",
            RecordType::Resolved => "resolved",
            RecordType::Loss => "loss",
            RecordType::Resync => "resync",
            RecordType::Fd => "fd",
            RecordType::Stats => "stats",
            RecordType::Reload => "reload",
            RecordType::Symptom => "symptom",
        }
    }

    pub fn parse(name: &str) -> Option<RecordType> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The syslog severity of a record of this type that is not an alert (RFC 5424
    /// 6.2.1: 2 critical, 4 warning, 5 notice, 6 informational, 7 debug). An alert's
    /// own severity maps with [`syslog_severity`].
    pub fn syslog_severity(self) -> u8 {
        match self {
            RecordType::Event | RecordType::Fd => 7,
            RecordType::Loss | RecordType::Symptom => 4,
            RecordType::Repeat | RecordType::Resolved | RecordType::Reload => 5,
            RecordType::Ready | RecordType::Resync | RecordType::Stats | RecordType::Alert => 6,
        }
    }
}

/// RFC 5424 severity of an alert: critical -> 2 (Critical), warning -> 4 (Warning),
/// info -> 6 (Informational).
pub fn syslog_severity(severity: Severity) -> u8 {
    match severity {
        Severity::Critical => 2,
        Severity::Warning => 4,
        Severity::Info => 6,
    }
}

pub fn parse_severity(name: &str) -> Option<Severity> {
    [Severity::Info, Severity::Warning, Severity::Critical].into_iter().find(|s| s.name() == name)
}

/// Which records an output takes: a set of types, and for `alert` records the lowest
/// severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Filter {
    types: u16,
    pub min_severity: Severity,
}

impl Default for Filter {
    fn default() -> Self {
        Self { types: (1 << RecordType::COUNT) - 1, min_severity: Severity::Info }
    }
}

impl Filter {
    pub fn new(types: &[RecordType], min_severity: Severity) -> Self {
        Self { types: types.iter().fold(0, |m, t| m | 1 << *t as u16), min_severity }
    }

    pub fn takes(&self, ty: RecordType) -> bool {
        self.types & (1 << ty as u16) != 0
    }

    /// An alert of `severity` (other records: `severity` is None).
    pub fn admits(&self, ty: RecordType, severity: Option<Severity>) -> bool {
        self.takes(ty) && severity.is_none_or(|s| s >= self.min_severity)
    }

    pub fn types(&self) -> Vec<RecordType> {
        RecordType::ALL.into_iter().filter(|t| self.takes(*t)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_filters_select() {
        for t in RecordType::ALL {
            assert_eq!(RecordType::parse(t.name()), Some(t));
            assert_eq!(RecordType::ALL[t as usize], t);
        }
        let f = Filter::new(&[RecordType::Alert, RecordType::Loss], Severity::Warning);
        assert!(f.admits(RecordType::Alert, Some(Severity::Critical)));
        assert!(!f.admits(RecordType::Alert, Some(Severity::Info)));
        assert!(f.admits(RecordType::Loss, None));
        assert!(!f.admits(RecordType::Event, None));
        assert!(Filter::default().admits(RecordType::Reload, None));
    }
}
