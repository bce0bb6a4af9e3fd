//! The one escaping rule of text output. Process names (task->comm: 16 bytes, any but
//! NUL, set by any user with prctl(PR_SET_NAME)), paths and socket addresses come from
//! the traced programs; written raw, an ESC sequence would drive the reader's terminal,
//! a CR or a newline would forge a line (a whole fake alert), and a bidi override would
//! reorder what is shown. So text output writes every line through [`line`]:
//!
//! - `\` becomes `\\`, so that every other backslash starts an escape;
//! - `\n`, `\r`, `\t` become those two characters; other C0 controls and DEL become
//!   `\xNN` (ESC is `\x1b`);
//! - bytes that are not UTF-8 become `\xNN` (a byte >= 0x80, since every byte below it
//!   is ASCII); the raw byte is what the program used, U+FFFD would hide it;
//! - C1 controls (U+0080-U+009F), and characters that reorder, hide or break text
//!   without being seen (format characters such as the bidi controls U+202A-U+202E and
//!   U+2066-U+2069, zero-width characters, U+2028/U+2029 line and paragraph separators,
//!   and the rest of Unicode's default-ignorable code points) become `\u{hex}`;
//! - everything else, printable Unicode included, is written as it is.
//!
//! Reading it back is unambiguous: `\\`, `\n`, `\r`, `\t`, `\xNN` (that byte) and
//! `\u{X}` (that character) are the only sequences with a backslash.
//!
//! Escaping is not idempotent (`\` doubles each time), so it happens exactly once: on
//! whole lines, as they are written, never on the values they are built from. A line
//! is assembled raw from fdwatch's own words and the values as the kernel or /proc gave
//! them (bytes and all); nothing but [`line`] puts text into the output, so no value,
//! message or future field reaches the terminal unescaped, and only the terminating
//! `\n` is structure. Lines on stderr go through it too (error::report). JSON does its
//! own escaping (sinks/json.rs) and never comes here.
use std::io::Write as _;

use crate::out::Out;

/// `raw` (one line's content, any bytes) escaped into `out`, then `\n`.
pub fn line<O: Out + ?Sized>(out: &mut O, raw: &[u8]) {
    escape_into(out, raw);
    out.push(b'\n');
}

/// `raw` escaped into `out`, without a line end.
pub fn escape_into<O: Out + ?Sized>(out: &mut O, raw: &[u8]) {
    out.reserve(raw.len());
    for chunk in raw.utf8_chunks() {
        let valid = chunk.valid();
        let mut plain_from = 0;
        for (i, c) in valid.char_indices() {
            if c.is_ascii() && (c == '\\' || c.is_ascii_control()) || !c.is_ascii() && hidden(c) {
                out.extend_from_slice(&valid.as_bytes()[plain_from..i]);
                push_escape(out, c);
                plain_from = i + c.len_utf8();
            }
        }
        out.extend_from_slice(&valid.as_bytes()[plain_from..]);
        for &b in chunk.invalid() {
            push_hex_byte(out, b);
        }
    }
}

/// `raw` escaped, as a String (tests and diagnostics; output goes through [`line`]).
pub fn escape(raw: &[u8]) -> String {
    let mut out = Vec::new();
    escape_into(&mut out, raw);
    // Escaped output is UTF-8 by construction: invalid bytes became `\xNN`, and valid
    // characters are copied whole.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn push_escape<O: Out + ?Sized>(out: &mut O, c: char) {
    match c {
        '\\' => out.extend_from_slice(b"\\\\"),
        '\n' => out.extend_from_slice(b"\\n"),
        '\r' => out.extend_from_slice(b"\\r"),
        '\t' => out.extend_from_slice(b"\\t"),
        // The rest of C0, and DEL: one byte each.
        c if c.is_ascii() => push_hex_byte(out, c as u8),
        // `\u{..}`, not `\x..`: it is a character (two or more bytes of valid UTF-8),
        // and `\xNN` above 0x7f already means a byte that is not UTF-8.
        c => {
            let mut tmp = [0u8; 16];
            let mut at = std::io::Cursor::new(&mut tmp[..]);
            let _ = write!(at, "\\u{{{:x}}}", c as u32);
            let n = at.position() as usize;
            out.extend_from_slice(&tmp[..n]);
        }
    }
}

fn push_hex_byte<O: Out + ?Sized>(out: &mut O, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(&[b'\\', b'x', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
}

/// Non-ASCII characters shown escaped: C1 controls, and every character that changes
/// how the text around it is shown or is itself invisible. Unicode 15: general category
/// Cf (format: bidi controls, zero-width space/joiners, word joiner, BOM, tags, ...), Zl
/// and Zp (U+2028, U+2029: some viewers break lines there), and the rest of
/// Default_Ignorable_Code_Point (DerivedCoreProperties.txt: variation selectors, Hangul
/// fillers, combining grapheme joiner, ...), which renderers draw as nothing.
const HIDDEN: &[(u32, u32)] = &[
    (0x0080, 0x009f), // C1 controls (CSI is U+009B)
    (0x00ad, 0x00ad), // soft hyphen
    (0x034f, 0x034f), // combining grapheme joiner
    (0x0600, 0x0605), // Arabic number signs (prepended concatenation marks)
    (0x061c, 0x061c), // Arabic letter mark (bidi)
    (0x06dd, 0x06dd),
    (0x070f, 0x070f),
    (0x0890, 0x0891),
    (0x08e2, 0x08e2),
    (0x115f, 0x1160), // Hangul fillers
    (0x17b4, 0x17b5), // Khmer inherent vowels
    (0x180b, 0x180f), // Mongolian variation selectors, vowel separator
    (0x200b, 0x200f), // zero-width space, non-joiner, joiner; LRM, RLM
    (0x2028, 0x202e), // line and paragraph separators; LRE, RLE, PDF, LRO, RLO
    (0x2060, 0x206f), // word joiner, invisible operators; LRI, RLI, FSI, PDI; deprecated
    (0x3164, 0x3164), // Hangul filler
    (0xfe00, 0xfe0f), // variation selectors
    (0xfeff, 0xfeff), // zero-width no-break space (BOM)
    (0xffa0, 0xffa0), // halfwidth Hangul filler
    (0xfff0, 0xfffb), // reserved; interlinear annotation
    (0x110bd, 0x110bd),
    (0x110cd, 0x110cd),
    (0x13430, 0x1343f), // Egyptian hieroglyph format controls
    (0x1bca0, 0x1bca3), // shorthand format controls
    (0x1d173, 0x1d17a), // musical symbol format controls
    (0xe0000, 0xe0fff), // tags (invisible ASCII), variation selectors 17-256, reserved
];

fn hidden(c: char) -> bool {
    let c = c as u32;
    HIDDEN
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Whether `out` is text output as this rule makes it: lines ending in `\n`, and no
/// control, invalid byte or hidden character anywhere else. What the tests of every
/// text record assert.
pub fn is_clean(out: &[u8]) -> bool {
    out.utf8_chunks().all(|chunk| {
        chunk.invalid().is_empty()
            && chunk.valid().chars().all(|c| c == '\n' || !(c.is_ascii_control() || !c.is_ascii() && hidden(c)))
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The inverse of [`escape`], to show that the escaping loses nothing and cannot be
    /// read two ways. None for a backslash that starts no escape.
    pub(crate) fn unescape(s: &str) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut rest = s;
        while let Some(i) = rest.find('\\') {
            out.extend_from_slice(&rest.as_bytes()[..i]);
            let tail = &rest[i + 1..];
            let (bytes, used): (Vec<u8>, usize) = match tail.as_bytes().first()? {
                b'\\' => (vec![b'\\'], 1),
                b'n' => (vec![b'\n'], 1),
                b'r' => (vec![b'\r'], 1),
                b't' => (vec![b'\t'], 1),
                b'x' => (vec![u8::from_str_radix(tail.get(1..3)?, 16).ok()?], 3),
                b'u' => {
                    let end = tail.find('}')?;
                    let c = char::from_u32(u32::from_str_radix(tail.get(2..end)?, 16).ok()?)?;
                    (c.to_string().into_bytes(), end + 1)
                }
                _ => return None,
            };
            out.extend_from_slice(&bytes);
            rest = &tail[used..];
        }
        out.extend_from_slice(rest.as_bytes());
        Some(out)
    }

    fn esc(raw: &[u8]) -> String {
        escape(raw)
    }

    #[test]
    fn printable_text_is_unchanged() {
        for s in ["python3", "/usr/bin/ssh-agent", "a b(c)[d]{e}", "émile", "日本語", "🦀", "\u{fffd}", "\u{a0}x"]
        {
            assert_eq!(esc(s.as_bytes()), s);
        }
    }

    #[test]
    fn c0_controls_and_del() {
        assert_eq!(esc(b"a\nb"), r"a\nb");
        assert_eq!(esc(b"a\rb"), r"a\rb");
        assert_eq!(esc(b"a\tb"), r"a\tb");
        assert_eq!(esc(b"\x1b[31mred"), r"\x1b[31mred");
        assert_eq!(esc(b"\x07\x00\x08\x0b\x0c\x1f"), r"\x07\x00\x08\x0b\x0c\x1f");
        assert_eq!(esc(b"\x7f"), r"\x7f");
        for b in (0u8..0x20).chain([0x7f]) {
            let out = esc(&[b]);
            assert!(out.starts_with('\\') && out.bytes().all(|c| (0x20..0x7f).contains(&c)), "{b:#x}: {out:?}");
        }
    }

    #[test]
    fn backslash_is_doubled() {
        assert_eq!(esc(br"C:\x41"), r"C:\\x41");
        assert_eq!(esc(b"\\"), r"\\");
        // A name that looks like an escape stays distinguishable from the real one.
        assert_ne!(esc(br"\x1b"), esc(b"\x1b"));
        assert_ne!(esc(br"\n"), esc(b"\n"));
    }

    #[test]
    fn c1_controls_as_characters() {
        assert_eq!(esc("\u{9b}31m".as_bytes()), r"\u{9b}31m");
        assert_eq!(esc("\u{85}".as_bytes()), r"\u{85}");
        assert_eq!(esc("\u{80}\u{9f}".as_bytes()), r"\u{80}\u{9f}");
        assert_eq!(esc("\u{a0}".as_bytes()), "\u{a0}", "no-break space is printable");
    }

    #[test]
    fn bidi_and_invisible_characters() {
        for c in [
            '\u{061c}',
            '\u{200b}',
            '\u{200c}',
            '\u{200d}',
            '\u{200e}',
            '\u{200f}',
            '\u{2028}',
            '\u{2029}',
            '\u{202a}',
            '\u{202b}',
            '\u{202c}',
            '\u{202d}',
            '\u{202e}',
            '\u{2060}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{feff}',
            '\u{00ad}',
            '\u{180e}',
            '\u{fe0f}',
            '\u{3164}',
            '\u{e0041}',
            '\u{e0100}',
            '\u{fff9}',
        ] {
            assert_eq!(esc(c.to_string().as_bytes()), format!("\\u{{{:x}}}", c as u32));
        }
        assert_eq!(esc("evil\u{202e}gpj.exe".as_bytes()), r"evil\u{202e}gpj.exe");
        // The neighbours of the ranges are printable.
        for c in ['\u{2027}', '\u{202f}', '\u{205f}', '\u{2070}', '\u{fefe}', '\u{fffc}', '\u{e1000}'] {
            assert_eq!(esc(c.to_string().as_bytes()), c.to_string(), "{:x}", c as u32);
        }
    }

    #[test]
    fn the_table_is_sorted_and_disjoint() {
        for w in HIDDEN.windows(2) {
            assert!(w[0].0 <= w[0].1 && w[0].1 < w[1].0, "{w:x?}");
        }
    }

    #[test]
    fn invalid_utf8_bytes_as_hex() {
        assert_eq!(esc(b"a\xffb"), r"a\xffb");
        // 8-bit CSI: a terminal in 8-bit mode would take it as ESC [.
        assert_eq!(esc(b"\x9b31m"), r"\x9b31m");
        // A lone continuation byte, a cut sequence, an overlong '/', an encoded surrogate.
        assert_eq!(esc(b"\x80"), r"\x80");
        assert_eq!(esc(b"\xe2\x80"), r"\xe2\x80");
        assert_eq!(esc(b"\xe2\x80x"), r"\xe2\x80x");
        assert_eq!(esc(b"\xc0\xaf"), r"\xc0\xaf");
        assert_eq!(esc(b"\xed\xa0\x80"), r"\xed\xa0\x80");
        // A valid character right after an invalid byte is kept.
        assert_eq!(esc("\u{e9}".as_bytes()), "é");
        assert_eq!(esc(b"\xff\xc3\xa9"), r"\xffé");
        // A bidi override cut short is bytes, not a character.
        assert_eq!(esc(&"\u{202e}".as_bytes()[..2]), r"\xe2\x80");
    }

    #[test]
    fn mixed_hostile_name() {
        let comm = b"\x1b[31m\r\x07\n\xe2\x80\xaeok\\\xff";
        let out = esc(comm);
        assert_eq!(out, r"\x1b[31m\r\x07\n\u{202e}ok\\\xff");
        assert!(is_clean(out.as_bytes()));
        assert_eq!(unescape(&out).as_deref(), Some(&comm[..]));
    }

    /// Every byte string comes back from its escaping: nothing is lost, and no two
    /// inputs escape alike. Pseudo-random strings over the bytes that matter.
    #[test]
    fn escaping_round_trips_and_is_clean() {
        let alphabet: Vec<&[u8]> = vec![
            b"a",
            b" ",
            b"\\",
            b"x",
            b"{",
            b"}",
            b"\n",
            b"\r",
            b"\t",
            b"\x1b",
            b"\x00",
            b"\x7f",
            b"\x80",
            b"\xff",
            b"\xc3",
            b"\xa9",
            b"\xe2",
            "\u{202e}".as_bytes(),
            "\u{85}".as_bytes(),
            "\u{200b}".as_bytes(),
            "é".as_bytes(),
            "日".as_bytes(),
            "\u{e0041}".as_bytes(),
            "\u{2028}".as_bytes(),
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            let mut raw = Vec::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut s = seed;
            for _ in 0..(s % 12) {
                s = s.rotate_left(5).wrapping_mul(0x2545_f491_4f6c_dd1d);
                raw.extend_from_slice(alphabet[(s >> 33) as usize % alphabet.len()]);
            }
            let out = esc(&raw);
            assert!(is_clean(out.as_bytes()) && !out.contains('\n'), "{raw:?} -> {out:?}");
            assert_eq!(unescape(&out).as_deref(), Some(&raw[..]), "{raw:?} -> {out:?}");
        }
    }

    /// Escaping twice is not escaping once: the reason it happens only where lines are
    /// written. The second pass only doubles the backslashes of the first.
    #[test]
    fn escaping_is_applied_once() {
        let raw = b"a\nb\\c\xff\xe2\x80\xae";
        let once = esc(raw);
        let twice = esc(once.as_bytes());
        assert_ne!(once, twice);
        assert_eq!(twice, once.replace('\\', r"\\"));
        assert_eq!(unescape(&twice).as_deref(), Some(once.as_bytes()));
    }

    #[test]
    fn lines_end_in_one_newline() {
        let mut out = Vec::new();
        line(&mut out, b"one\ntwo");
        line(&mut out, b"");
        assert_eq!(out, b"one\\ntwo\n\n");
        assert!(is_clean(&out));
    }

    #[test]
    fn is_clean_rejects_what_escape_removes() {
        for bad in [&b"a\rb"[..], b"\x1b", b"\xff", "\u{202e}".as_bytes(), "\u{9b}".as_bytes(), b"\t"] {
            assert!(!is_clean(bad), "{bad:?}");
        }
        assert!(is_clean("ok é 日\n".as_bytes()));
    }
}
