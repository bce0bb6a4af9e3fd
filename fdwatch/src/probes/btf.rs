//! A minimal reader for the kernel's BTF (BPF Type Format), just enough to find the
//! byte offsets of struct fields.
//!
//! aya has no CO-RE relocations for Rust eBPF programs, so the probes cannot ask the
//! kernel where `task_struct.files` lives. Instead the loader reads the running kernel's
//! BTF from /sys/kernel/btf/vmlinux, computes the offsets here and hands them to the
//! probes as a [`KernelOffsets`] global. A field the kernel lacks (or that moved into a
//! bitfield) fails the load with its name instead of letting a probe read garbage.
//!
//! The format is described in include/uapi/linux/btf.h and
//! Documentation/bpf/btf.rst. We only keep structs, unions and the modifier chains
//! (typedef/const/volatile/type_tag) needed to see through anonymous members; every
//! other kind is walked over and dropped. All reads are bounds-checked: the blob comes
//! from outside the program, so malformed input is an error, never a panic.

use std::collections::HashMap;
use std::fmt;

use fdwatch_common::KernelOffsets;

/// Where the kernel exposes its own BTF (needs CONFIG_DEBUG_INFO_BTF=y).
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// `BTF_MAGIC` in include/uapi/linux/btf.h.
const BTF_MAGIC: u16 = 0xeb9f;
/// `BTF_VERSION`: the only version the kernel has ever produced or accepts.
const BTF_VERSION: u8 = 1;
/// `struct btf_header` up to and including `str_len`. Newer headers may be longer
/// (hdr_len says how long); we only need these fields.
const HEADER_LEN: usize = 24;
/// `struct btf_type`: name_off, info, size/type.
const TYPE_LEN: usize = 12;

// BTF_KIND_* from include/uapi/linux/btf.h.
const KIND_INT: u8 = 1;
const KIND_PTR: u8 = 2;
const KIND_ARRAY: u8 = 3;
const KIND_STRUCT: u8 = 4;
const KIND_UNION: u8 = 5;
const KIND_ENUM: u8 = 6;
const KIND_FWD: u8 = 7;
const KIND_TYPEDEF: u8 = 8;
const KIND_VOLATILE: u8 = 9;
const KIND_CONST: u8 = 10;
const KIND_RESTRICT: u8 = 11;
const KIND_FUNC: u8 = 12;
const KIND_FUNC_PROTO: u8 = 13;
const KIND_VAR: u8 = 14;
const KIND_DATASEC: u8 = 15;
const KIND_FLOAT: u8 = 16;
const KIND_DECL_TAG: u8 = 17;
const KIND_TYPE_TAG: u8 = 18;
const KIND_ENUM64: u8 = 19;

/// Guards against cycles in malformed input: real kernels nest anonymous members a few
/// levels deep and chain at most a handful of modifiers.
const MAX_DEPTH: usize = 32;

/// Why BTF could not be read or a field could not be found.
#[derive(Debug)]
pub enum BtfError {
    /// The BTF file could not be read.
    Read { path: String, source: std::io::Error },
    /// The blob is not valid BTF; the message says where.
    Malformed(String),
    /// No struct of that name.
    NoStruct { name: String },
    /// The struct exists but has no such member (also not in anonymous members).
    NoField { strukt: String, member: String },
    /// The member is a bitfield, so it has no byte offset.
    Bitfield { strukt: String, member: String },
    /// The member does not start on a byte boundary.
    Unaligned { strukt: String, member: String, bits: u32 },
}

impl fmt::Display for BtfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BtfError::Read { path, source } => {
                write!(f, "cannot read {path}: {source} (the kernel needs CONFIG_DEBUG_INFO_BTF=y)")
            }
            BtfError::Malformed(what) => write!(f, "malformed BTF: {what}"),
            BtfError::NoStruct { name } => write!(f, "kernel BTF has no struct {name}"),
            BtfError::NoField { strukt, member } => {
                write!(f, "kernel BTF has no field {strukt}.{member}")
            }
            BtfError::Bitfield { strukt, member } => {
                write!(f, "kernel BTF field {strukt}.{member} is a bitfield, which the probes cannot read")
            }
            BtfError::Unaligned { strukt, member, bits } => {
                write!(f, "kernel BTF field {strukt}.{member} is at bit offset {bits}, not on a byte boundary")
            }
        }
    }
}

impl std::error::Error for BtfError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BtfError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn malformed(what: impl Into<String>) -> BtfError {
    BtfError::Malformed(what.into())
}

/// What we keep of one type. Types we do not need keep only their kind, so that ids
/// still index directly into `Btf::types`.
#[derive(Clone, Copy, Debug)]
struct Type {
    kind: u8,
    /// `info` bit 31. For struct/union it means member offsets carry a bitfield size.
    kind_flag: bool,
    /// Number of members (struct/union).
    vlen: u16,
    /// `size` for INT/STRUCT/UNION, `type` for the modifiers (typedef, const, ...).
    size_or_type: u32,
    /// Struct/union: index of the first member in `Btf::members`.
    /// INT: the encoding word (BTF_INT_ENCODING/OFFSET/BITS).
    extra: u32,
}

/// `struct btf_member`.
#[derive(Clone, Copy, Debug)]
struct Member {
    name_off: u32,
    type_id: u32,
    /// Bit offset, or (with kind_flag) bitfield size << 24 | bit offset.
    offset: u32,
}

/// The parts of a BTF blob needed to look up struct member offsets.
pub struct Btf {
    /// The string section, copied (names are looked up lazily).
    strings: Vec<u8>,
    /// Indexed by type id - 1 (id 0 is void and not stored).
    types: Vec<Type>,
    /// Members of all structs and unions, back to back.
    members: Vec<Member>,
    /// Struct name -> type id: the first struct of that name that has members, or the
    /// first of that name if none has (so "no such struct" and "empty struct" differ).
    structs: HashMap<Box<str>, u32>,
}

/// Summarised: the full tables are megabytes.
impl fmt::Debug for Btf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Btf")
            .field("types", &self.types.len())
            .field("structs", &self.structs.len())
            .field("members", &self.members.len())
            .field("string_bytes", &self.strings.len())
            .finish()
    }
}

/// Bounds-checked little-endian reads. BTF is in the producer's byte order; we only
/// run on little-endian targets (x86_64), and a byte-swapped magic is rejected.
fn read_u16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

fn read_u32(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The section `[start + off, start + off + len)` of `data`, if it fits.
fn section<'a>(data: &'a [u8], start: usize, off: u32, len: u32, what: &str) -> Result<&'a [u8], BtfError> {
    let begin = start.checked_add(off as usize).ok_or_else(|| malformed(format!("{what} section offset overflows")))?;
    let end = begin.checked_add(len as usize).ok_or_else(|| malformed(format!("{what} section length overflows")))?;
    data.get(begin..end).ok_or_else(|| {
        malformed(format!("{what} section (bytes {begin}..{end}) runs past the end of the data ({} bytes)", data.len()))
    })
}

/// The NUL-terminated string at `off` in the string section.
fn str_at(strings: &[u8], off: u32) -> Result<&str, BtfError> {
    let rest = strings
        .get(off as usize..)
        .ok_or_else(|| malformed(format!("string offset {off} is past the string section")))?;
    let len = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| malformed(format!("string at offset {off} is not NUL-terminated")))?;
    std::str::from_utf8(&rest[..len]).map_err(|_| malformed(format!("string at offset {off} is not UTF-8")))
}

impl Btf {
    /// Parses a BTF blob such as the contents of /sys/kernel/btf/vmlinux.
    pub fn parse(data: &[u8]) -> Result<Btf, BtfError> {
        // struct btf_header (include/uapi/linux/btf.h).
        let magic = read_u16(data, 0).ok_or_else(|| malformed("shorter than the header"))?;
        if magic == BTF_MAGIC.swap_bytes() {
            return Err(malformed("big-endian BTF is not supported"));
        }
        if magic != BTF_MAGIC {
            return Err(malformed(format!("bad magic {magic:#06x}, expected {BTF_MAGIC:#06x}")));
        }
        let version = *data.get(2).ok_or_else(|| malformed("shorter than the header"))?;
        if version != BTF_VERSION {
            return Err(malformed(format!("unsupported version {version}")));
        }
        // data[3] is `flags`: no flags are defined, and none change the layout.
        let header = |at| read_u32(data, at).ok_or_else(|| malformed("shorter than the header"));
        let hdr_len = header(4)? as usize;
        if hdr_len < HEADER_LEN {
            return Err(malformed(format!("header length {hdr_len} is less than {HEADER_LEN}")));
        }
        if hdr_len > data.len() {
            return Err(malformed(format!("header length {hdr_len} is past the end of the data")));
        }
        let (type_off, type_len) = (header(8)?, header(12)?);
        let (str_off, str_len) = (header(16)?, header(20)?);
        // Both sections are relative to the end of the header.
        let type_sec = section(data, hdr_len, type_off, type_len, "type")?;
        let str_sec = section(data, hdr_len, str_off, str_len, "string")?;

        let mut btf =
            Btf { strings: str_sec.to_vec(), types: Vec::new(), members: Vec::new(), structs: HashMap::new() };
        // The vmlinux BTF has ~100k+ types; reserving avoids repeated regrowth.
        btf.types.reserve(type_sec.len() / 24);

        let mut pos = 0usize;
        while pos < type_sec.len() {
            // Type ids are 1-based: the n-th entry is id n.
            let id = btf.types.len() as u32 + 1;
            let truncated = || malformed(format!("type {id} at byte {pos} of the type section is truncated"));
            let name_off = read_u32(type_sec, pos).ok_or_else(truncated)?;
            let info = read_u32(type_sec, pos + 4).ok_or_else(truncated)?;
            let size_or_type = read_u32(type_sec, pos + 8).ok_or_else(truncated)?;
            let kind = ((info >> 24) & 0x1f) as u8;
            let vlen = (info & 0xffff) as u16;
            let kind_flag = info >> 31 != 0;
            let body = pos + TYPE_LEN;
            let n = vlen as usize;
            // Size of the kind-specific data that follows struct btf_type.
            let trailing = match kind {
                KIND_INT => 4,
                KIND_ARRAY => 12,                   // struct btf_array
                KIND_STRUCT | KIND_UNION => n * 12, // struct btf_member
                KIND_ENUM => n * 8,                 // struct btf_enum
                KIND_FUNC_PROTO => n * 8,           // struct btf_param
                KIND_VAR => 4,                      // struct btf_var
                KIND_DATASEC => n * 12,             // struct btf_var_secinfo
                KIND_DECL_TAG => 4,                 // struct btf_decl_tag
                KIND_ENUM64 => n * 12,              // struct btf_enum64
                KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_FUNC
                | KIND_FLOAT | KIND_TYPE_TAG => 0,
                _ => return Err(malformed(format!("type {id} has unknown kind {kind}"))),
            };
            let next = body + trailing;
            if next > type_sec.len() {
                return Err(truncated());
            }

            let mut extra = 0;
            match kind {
                KIND_INT => extra = read_u32(type_sec, body).ok_or_else(truncated)?,
                KIND_STRUCT | KIND_UNION => {
                    extra = u32::try_from(btf.members.len()).map_err(|_| malformed("too many struct members"))?;
                    for i in 0..n {
                        let at = body + i * 12;
                        btf.members.push(Member {
                            name_off: read_u32(type_sec, at).ok_or_else(truncated)?,
                            type_id: read_u32(type_sec, at + 4).ok_or_else(truncated)?,
                            offset: read_u32(type_sec, at + 8).ok_or_else(truncated)?,
                        });
                    }
                    if kind == KIND_STRUCT && name_off != 0 {
                        let name = str_at(&btf.strings, name_off)?;
                        match btf.structs.get_mut(name) {
                            None => {
                                btf.structs.insert(name.into(), id);
                            }
                            // Prefer the first definition with members over an empty one.
                            Some(prev) => {
                                if btf.types[*prev as usize - 1].vlen == 0 && vlen != 0 {
                                    *prev = id;
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
            btf.types.push(Type { kind, kind_flag, vlen, size_or_type, extra });
            pos = next;
        }
        Ok(btf)
    }

    fn name(&self, off: u32) -> Result<&str, BtfError> {
        str_at(&self.strings, off)
    }

    fn get(&self, id: u32) -> Result<&Type, BtfError> {
        id.checked_sub(1)
            .and_then(|i| self.types.get(i as usize))
            .ok_or_else(|| malformed(format!("reference to missing type id {id}")))
    }

    /// Follows typedef/const/volatile/restrict/type_tag to the underlying type.
    /// Returns None for void.
    fn resolve(&self, mut id: u32) -> Result<Option<&Type>, BtfError> {
        for _ in 0..MAX_DEPTH {
            if id == 0 {
                return Ok(None);
            }
            let t = self.get(id)?;
            match t.kind {
                KIND_TYPEDEF | KIND_CONST | KIND_VOLATILE | KIND_RESTRICT | KIND_TYPE_TAG => id = t.size_or_type,
                _ => return Ok(Some(t)),
            }
        }
        Err(malformed(format!("type chain through id {id} is too long (a cycle?)")))
    }

    fn members_of(&self, t: &Type) -> Result<&[Member], BtfError> {
        let start = t.extra as usize;
        self.members.get(start..start + t.vlen as usize).ok_or_else(|| malformed("member index out of range"))
    }

    /// Byte offset of `member` in the struct named `struct_name`, looking inside
    /// anonymous struct/union members too (C lets their fields be named directly).
    pub fn member_offset(&self, struct_name: &str, member: &str) -> Result<u32, BtfError> {
        self.member_path_offset(struct_name, &[member])
    }

    /// Byte offset of `path[0].path[1]...` in the struct named `struct_name`, where each
    /// member but the last is itself a struct or union, named or not (e.g.
    /// `restart_block` . `nanosleep` . `expires`, `nanosleep` being a member of an
    /// anonymous union whose type is an anonymous struct).
    pub fn member_path_offset(&self, struct_name: &str, path: &[&str]) -> Result<u32, BtfError> {
        let &id = self.structs.get(struct_name).ok_or_else(|| BtfError::NoStruct { name: struct_name.to_owned() })?;
        let mut t = *self.get(id)?;
        let mut bits = 0u32;
        let dotted = path.join(".");
        for (i, member) in path.iter().enumerate() {
            let (off, type_id) = self
                .find(&t, member, 0, struct_name)?
                .ok_or_else(|| BtfError::NoField { strukt: struct_name.to_owned(), member: dotted.clone() })?;
            bits = bits.checked_add(off).ok_or_else(|| malformed("member offset overflows"))?;
            if i + 1 < path.len() {
                t = match self.resolve(type_id)? {
                    Some(&inner) if matches!(inner.kind, KIND_STRUCT | KIND_UNION) => inner,
                    _ => return Err(BtfError::NoField { strukt: struct_name.to_owned(), member: dotted }),
                };
            }
        }
        if bits.is_multiple_of(8) {
            Ok(bits / 8)
        } else {
            Err(BtfError::Unaligned { strukt: struct_name.to_owned(), member: dotted, bits })
        }
    }

    /// Bit offset and type of `member` within the struct/union `t`, searched depth-first.
    fn find(&self, t: &Type, member: &str, depth: usize, strukt: &str) -> Result<Option<(u32, u32)>, BtfError> {
        if depth > MAX_DEPTH {
            return Err(malformed(format!("anonymous members of {strukt} nest too deep (a cycle?)")));
        }
        for m in self.members_of(t)? {
            // With kind_flag the top 8 bits are the bitfield size (BTF_MEMBER_BITFIELD_SIZE)
            // and the low 24 the bit offset (BTF_MEMBER_BIT_OFFSET).
            let (bit_off, bitfield_size) =
                if t.kind_flag { (m.offset & 0xff_ffff, m.offset >> 24) } else { (m.offset, 0) };
            if m.name_off == 0 {
                // An anonymous struct/union: its fields belong to the outer struct.
                // (Unnamed bitfield padding like `int :3` is also nameless; skip it.)
                let inner = match self.resolve(m.type_id)? {
                    Some(&inner) if matches!(inner.kind, KIND_STRUCT | KIND_UNION) => inner,
                    _ => continue,
                };
                if let Some((off, type_id)) = self.find(&inner, member, depth + 1, strukt)? {
                    return bit_off
                        .checked_add(off)
                        .map(|off| Some((off, type_id)))
                        .ok_or_else(|| malformed("member offset overflows"));
                }
                continue;
            }
            if self.name(m.name_off)? != member {
                continue;
            }
            let bitfield = bitfield_size != 0 || (!t.kind_flag && self.is_legacy_bitfield(m.type_id)?);
            if bitfield {
                return Err(BtfError::Bitfield { strukt: strukt.to_owned(), member: member.to_owned() });
            }
            return Ok(Some((bit_off, m.type_id)));
        }
        Ok(None)
    }

    /// Without kind_flag, older pahole encoded a bitfield as a member whose INT type has
    /// fewer bits than its size, or a nonzero BTF_INT_OFFSET (include/uapi/linux/btf.h).
    fn is_legacy_bitfield(&self, type_id: u32) -> Result<bool, BtfError> {
        Ok(match self.resolve(type_id)? {
            Some(t) if t.kind == KIND_INT => {
                let bits = t.extra & 0xff; // BTF_INT_BITS
                let offset = (t.extra >> 16) & 0xff; // BTF_INT_OFFSET
                offset != 0 || u64::from(bits) != u64::from(t.size_or_type) * 8
            }
            _ => false,
        })
    }
}

/// Resolves every offset the probes need from `btf`; the first missing field is the error.
pub fn kernel_offsets(btf: &Btf) -> Result<KernelOffsets, BtfError> {
    let f = |s: &str, m: &str| btf.member_offset(s, m);
    let p = |s: &str, path: &[&str]| btf.member_path_offset(s, path);
    Ok(KernelOffsets {
        task_pid: f("task_struct", "pid")?,
        task_tgid: f("task_struct", "tgid")?,
        task_real_parent: f("task_struct", "real_parent")?,
        task_files: f("task_struct", "files")?,
        task_exit_code: f("task_struct", "exit_code")?,
        files_fdt: f("files_struct", "fdt")?,
        fdtable_max_fds: f("fdtable", "max_fds")?,
        fdtable_fd: f("fdtable", "fd")?,
        file_inode: f("file", "f_inode")?,
        file_flags: f("file", "f_flags")?,
        inode_mode: f("inode", "i_mode")?,
        inode_ino: f("inode", "i_ino")?,
        inode_rdev: f("inode", "i_rdev")?,
        inode_sb: f("inode", "i_sb")?,
        super_block_dev: f("super_block", "s_dev")?,
        binprm_filename: f("linux_binprm", "filename")?,
        fdtable_close_on_exec: f("fdtable", "close_on_exec")?,
        file_path: f("file", "f_path")?,
        path_dentry: f("path", "dentry")?,
        dentry_name: f("dentry", "d_name")?,
        qstr_name: f("qstr", "name")?,
        task_comm: f("task_struct", "comm")?,
        task_restart_block: f("task_struct", "restart_block")?,
        restart_nanosleep_clockid: p("restart_block", &["nanosleep", "clockid"])?,
        restart_nanosleep_expires: p("restart_block", &["nanosleep", "expires"])?,
        restart_poll_has_timeout: p("restart_block", &["poll", "has_timeout"])?,
        restart_poll_tv_sec: p("restart_block", &["poll", "tv_sec"])?,
        restart_poll_tv_nsec: p("restart_block", &["poll", "tv_nsec"])?,
        task_seccomp: f("task_struct", "seccomp")?,
        seccomp_mode: f("seccomp", "mode")?,
        seccomp_filter_count: f("seccomp", "filter_count")?,
        file_private_data: f("file", "private_data")?,
        tty_file_private_tty: f("tty_file_private", "tty")?,
        tty_struct_index: f("tty_struct", "index")?,
        task_mm: f("task_struct", "mm")?,
        mm_arg_start: f("mm_struct", "arg_start")?,
        mm_arg_end: f("mm_struct", "arg_end")?,
        _pad: 0,
    })
}

/// Reads the running kernel's BTF and resolves the offsets from it.
pub fn load_kernel_offsets() -> Result<KernelOffsets, BtfError> {
    let data = std::fs::read(VMLINUX_BTF).map_err(|source| BtfError::Read { path: VMLINUX_BTF.to_owned(), source })?;
    kernel_offsets(&Btf::parse(&data)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Assembles a BTF blob by hand, in the layout of include/uapi/linux/btf.h.
    struct Builder {
        types: Vec<u8>,
        strings: Vec<u8>,
        next_id: u32,
    }

    impl Builder {
        fn new() -> Self {
            // The string section starts with the empty string (name_off 0 = anonymous).
            Builder { types: Vec::new(), strings: vec![0], next_id: 1 }
        }

        fn str(&mut self, s: &str) -> u32 {
            if s.is_empty() {
                return 0;
            }
            let off = self.strings.len() as u32;
            self.strings.extend_from_slice(s.as_bytes());
            self.strings.push(0);
            off
        }

        fn words(&mut self, words: &[u32]) {
            for w in words {
                self.types.extend_from_slice(&w.to_le_bytes());
            }
        }

        /// Adds a btf_type plus trailing words; returns its id.
        fn ty(&mut self, name: &str, kind: u8, kind_flag: bool, vlen: u32, size_or_type: u32, trailing: &[u32]) -> u32 {
            let name = self.str(name);
            let info = (u32::from(kind_flag) << 31) | (u32::from(kind) << 24) | vlen;
            self.words(&[name, info, size_or_type]);
            self.words(trailing);
            let id = self.next_id;
            self.next_id += 1;
            id
        }

        fn composite(&mut self, kind: u8, name: &str, kind_flag: bool, size: u32, members: &[(&str, u32, u32)]) -> u32 {
            let mut trailing = Vec::new();
            for &(m, type_id, offset) in members {
                trailing.extend_from_slice(&[self.str(m), type_id, offset]);
            }
            self.ty(name, kind, kind_flag, members.len() as u32, size, &trailing)
        }

        fn finish(&self) -> Vec<u8> {
            let mut out = Vec::new();
            out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
            out.push(BTF_VERSION);
            out.push(0);
            let type_len = self.types.len() as u32;
            for w in [HEADER_LEN as u32, 0, type_len, type_len, self.strings.len() as u32] {
                out.extend_from_slice(&w.to_le_bytes());
            }
            out.extend_from_slice(&self.types);
            out.extend_from_slice(&self.strings);
            out
        }
    }

    /// A blob with one type of every kind, so the walker's sizes are all exercised,
    /// and these structs (offsets in bits):
    ///
    /// ```c
    /// struct outer {}; // an empty definition first: must be skipped
    /// struct outer {   // kind_flag = 1
    ///     int a;                      // bit 0
    ///     union {                     // bit 32
    ///         int u_x;                // +0
    ///         const anon_t;           // +0, typedef of struct { int s_p; int s_q; }
    ///     };
    ///     int flags : 3;              // bit 96, bitfield
    ///     int b;                      // bit 128
    /// };
    /// struct legacy {  // kind_flag = 0
    ///     int x;                      // bit 0
    ///     int small;                  // bit 32, INT type with 3 bits: a bitfield
    ///     int odd;                    // bit 68: not byte aligned
    /// };
    /// ```
    fn sample() -> Vec<u8> {
        let mut b = Builder::new();
        let int = b.ty("int", KIND_INT, false, 0, 4, &[(1 << 24) | 32]);
        let int3 = b.ty("int3", KIND_INT, false, 0, 4, &[(1 << 24) | 3]);
        let ptr = b.ty("", KIND_PTR, false, 0, int, &[]);
        b.ty("", KIND_ARRAY, false, 0, 0, &[int, int, 4]);
        let e = b.str("E_A");
        b.ty("e", KIND_ENUM, false, 1, 4, &[e, 7]);
        b.ty("fwd", KIND_FWD, false, 0, 0, &[]);
        b.ty("vint", KIND_VOLATILE, false, 0, int, &[]);
        b.ty("", KIND_RESTRICT, false, 0, ptr, &[]);
        let proto = b.ty("", KIND_FUNC_PROTO, false, 2, int, &[0, int, 0, ptr]);
        b.ty("func", KIND_FUNC, false, 0, proto, &[]);
        let var = b.ty("var", KIND_VAR, false, 0, int, &[1]);
        b.ty(".data", KIND_DATASEC, false, 1, 4, &[var, 0, 4]);
        b.ty("float", KIND_FLOAT, false, 0, 4, &[]);
        b.ty("tag", KIND_DECL_TAG, false, 0, var, &[u32::MAX]);
        b.ty("tt", KIND_TYPE_TAG, false, 0, int, &[]);
        b.ty("e64", KIND_ENUM64, false, 1, 8, &[e, 1, 2]);

        let empty = b.composite(KIND_STRUCT, "outer", false, 0, &[]);
        assert_eq!(empty, 17);
        let anon_s = b.composite(KIND_STRUCT, "", false, 8, &[("s_p", int, 0), ("s_q", int, 32)]);
        let anon_t = b.ty("anon_t", KIND_TYPEDEF, false, 0, anon_s, &[]);
        let c_anon_t = b.ty("", KIND_CONST, false, 0, anon_t, &[]);
        let union = b.composite(KIND_UNION, "", false, 8, &[("u_x", int, 0), ("", c_anon_t, 0)]);
        b.composite(
            KIND_STRUCT,
            "outer",
            true,
            20,
            &[("a", int, 0), ("", union, 32), ("flags", int, (3 << 24) | 96), ("b", int, 128)],
        );
        b.composite(KIND_STRUCT, "legacy", false, 12, &[("x", int, 0), ("small", int3, 32), ("odd", int, 68)]);
        // struct holder { int h; union { struct { int n_a; int n_b; } named; int other; }; }
        // (bits): a named member whose type is an anonymous struct, inside an anonymous
        // union, like restart_block's `nanosleep`.
        let named_s = b.composite(KIND_STRUCT, "", false, 8, &[("n_a", int, 0), ("n_b", int, 32)]);
        let u2 = b.composite(KIND_UNION, "", false, 8, &[("named", named_s, 0), ("other", int, 0)]);
        b.composite(KIND_STRUCT, "holder", false, 12, &[("h", int, 0), ("", u2, 32)]);
        b.finish()
    }

    #[test]
    fn synthetic_offsets() {
        let btf = Btf::parse(&sample()).unwrap();
        assert_eq!(btf.member_offset("outer", "a").unwrap(), 0);
        assert_eq!(btf.member_offset("outer", "u_x").unwrap(), 4);
        assert_eq!(btf.member_offset("outer", "s_p").unwrap(), 4);
        assert_eq!(btf.member_offset("outer", "s_q").unwrap(), 8);
        assert_eq!(btf.member_offset("outer", "b").unwrap(), 16);
        assert_eq!(btf.member_offset("legacy", "x").unwrap(), 0);
        assert_eq!(btf.member_path_offset("holder", &["named", "n_b"]).unwrap(), 8);
        assert_eq!(btf.member_path_offset("holder", &["other"]).unwrap(), 4);
        // A member that is not a struct cannot be walked into; a missing one names the path.
        let err = btf.member_path_offset("holder", &["other", "x"]).unwrap_err();
        assert_eq!(err.to_string(), "kernel BTF has no field holder.other.x");
        let err = btf.member_path_offset("holder", &["named", "nope"]).unwrap_err();
        assert_eq!(err.to_string(), "kernel BTF has no field holder.named.nope");
    }

    #[test]
    fn synthetic_errors() {
        let btf = Btf::parse(&sample()).unwrap();
        let err = btf.member_offset("outer", "flags").unwrap_err();
        assert!(matches!(err, BtfError::Bitfield { .. }), "{err:?}");
        assert!(err.to_string().contains("outer.flags is a bitfield"), "{err}");
        let err = btf.member_offset("legacy", "small").unwrap_err();
        assert!(matches!(err, BtfError::Bitfield { .. }), "{err:?}");
        let err = btf.member_offset("legacy", "odd").unwrap_err();
        assert!(matches!(err, BtfError::Unaligned { bits: 68, .. }), "{err:?}");
        let err = btf.member_offset("outer", "nope").unwrap_err();
        assert_eq!(err.to_string(), "kernel BTF has no field outer.nope");
        let err = btf.member_offset("nope", "a").unwrap_err();
        assert_eq!(err.to_string(), "kernel BTF has no struct nope");
        // Unions are not structs, and the anonymous struct has no name to find.
        assert!(matches!(btf.member_offset("e", "E_A"), Err(BtfError::NoStruct { .. })));
    }

    #[test]
    fn truncated_and_garbage() {
        let good = sample();
        for len in 0..good.len() {
            assert!(Btf::parse(&good[..len]).is_err(), "prefix of {len} bytes parsed");
        }
        assert!(Btf::parse(b"garbage, not BTF at all").is_err());
        let mut swapped = good.clone();
        swapped.swap(0, 1);
        assert!(Btf::parse(&swapped).unwrap_err().to_string().contains("big-endian"));
        // An unknown kind is an error, not a panic.
        let mut b = Builder::new();
        b.ty("x", 25, false, 0, 0, &[]);
        assert!(Btf::parse(&b.finish()).unwrap_err().to_string().contains("unknown kind 25"));
        // A type section whose length exceeds the data.
        let mut long = good.clone();
        long[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Btf::parse(&long).is_err());

        // Random corruption of a valid blob must never panic, whether it parses or not.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut blob = good.clone();
            for _ in 0..4 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let at = (seed as usize >> 8) % blob.len();
                blob[at] = seed as u8;
            }
            if let Ok(btf) = Btf::parse(&blob) {
                for m in ["a", "u_x", "s_q", "flags", "b", "x", "small", "odd", "nope"] {
                    let _ = btf.member_offset("outer", m);
                    let _ = btf.member_offset("legacy", m);
                }
            }
        }
    }

    #[test]
    fn live_kernel() {
        // fdwatch needs the kernel's BTF (README.md, *What it needs*), so a machine
        // without it fails here, saying so, rather than passing without a look.
        let data = std::fs::read(VMLINUX_BTF).unwrap_or_else(|e| {
            panic!("cannot read {VMLINUX_BTF} ({e}): the kernel's BTF (CONFIG_DEBUG_INFO_BTF=y) is needed")
        });
        let start = std::time::Instant::now();
        let btf = Btf::parse(&data).unwrap();
        let off = kernel_offsets(&btf).unwrap();
        eprintln!("parse + lookups of {} bytes took {:?}: {off:#?}", data.len(), start.elapsed());
        // `pid_t pid; pid_t tgid;` are adjacent in task_struct (include/linux/sched.h).
        assert_eq!(off.task_pid + 4, off.task_tgid);
        // struct fdtable starts `unsigned int max_fds; struct file __rcu **fd;`
        // (include/linux/fdtable.h), and struct inode starts with `umode_t i_mode`.
        assert_eq!((off.fdtable_max_fds, off.fdtable_fd), (0, 8));
        assert_eq!(off.inode_mode, 0);
        assert!(off.task_real_parent > off.task_tgid);
        assert!(off.task_comm > off.task_real_parent && off.task_comm.is_multiple_of(8));
        assert!(off.task_files > 0 && off.file_inode > 0 && off.inode_sb > 0);
        // struct restart_block { unsigned long arch_data; long (*fn)(...); union {...} }
        // (include/linux/restart_block.h): nanosleep { clockid_t clockid; enum type;
        // union { rmtp }; u64 expires; } and poll { ufds; int nfds; int has_timeout;
        // unsigned long tv_sec, tv_nsec; } both start the union at 16.
        assert_eq!((off.restart_nanosleep_clockid, off.restart_nanosleep_expires), (16, 32));
        assert_eq!((off.restart_poll_has_timeout, off.restart_poll_tv_sec, off.restart_poll_tv_nsec), (28, 32, 40));
        // struct seccomp { int mode; atomic_t filter_count; ... }; tty_file_private starts
        // with its tty.
        assert_eq!((off.seccomp_mode, off.seccomp_filter_count, off.tty_file_private_tty), (0, 4, 0));
        let start = std::time::Instant::now();
        assert_eq!(load_kernel_offsets().unwrap(), off);
        eprintln!("load_kernel_offsets (read + parse + lookups) took {:?}", start.elapsed());
    }
}
