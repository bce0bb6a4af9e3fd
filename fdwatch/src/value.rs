//! The one value type every layer speaks: an event's arguments (decode), the fd
//! model's descriptions (model), alert fields and evidence (detect), and what both
//! sinks render (JSON and text). Plain data, no I/O.
use std::borrow::Cow;

/// A readable value: an argument, a field of a record.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    Str(Cow<'static, str>),
    /// Bytes the traced program chose (a path): not necessarily UTF-8. JSON shows them
    /// as a string with invalid sequences replaced (U+FFFD); text output shows such
    /// bytes escaped (`\xNN`), so the raw bytes are kept until then.
    Bytes(Vec<u8>),
    Bool(bool),
    Null,
    List(Vec<Value>),
    Object(Vec<(&'static str, Value)>),
}

pub type Fields = Vec<(&'static str, Value)>;
