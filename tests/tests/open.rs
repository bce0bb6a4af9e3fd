//! open(2), openat(2), openat2(2): the path as given, flags and mode by name, and the
//! object opened (inode and device as fstat(2) sees them).
use fdwatch_tests::*;

#[test]
fn open_creates_with_flags_and_mode() {
    let file = TempPath::new("open");
    let (path, flags) = (file.as_str(), "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC");
    assert_creates_fd(
        &["open", path, flags, "640"],
        "open",
        Some("file"),
        json!({"pathname": path, "flags": flags, "mode": "0640"}),
    );
}

#[test]
fn open_of_a_missing_file_is_enoent_without_object() {
    let file = TempPath::new("missing");
    assert_reported(
        &["open", file.as_str(), "O_RDONLY", "0"],
        "open",
        json!({"pathname": file.as_str(), "flags": "O_RDONLY", "mode": "0000", "object": null,
                   "ret": -2, "errno": "ENOENT"}),
    );
}

#[test]
fn open_of_a_directory_and_a_char_device() {
    let (fw, mut child) =
        run_watched(&["open", "/tmp", "O_RDONLY|O_DIRECTORY", "0", "open", "/dev/null", "O_RDWR", "0"], &[]);
    let pid = child.pid();
    let dir = child.op("open");
    let dir_fd = dir.ok();
    let devnull = child.op("open");
    let devnull_fd = devnull.ok();
    // The open of `path`, with `flags`, made fd `fd`, an object of type `ty`.
    let opened = |path: &str, flags: &str, op: &OpLine, ty: &str, fd: i64| {
        let args =
            json!({"pathname": path, "flags": flags, "mode": "0000", "object": object_of(op, ty, ""), "ret": fd});
        fw.expect_exact_where(&expected(pid, "open", args), |e| e["pathname"] == path);
    };
    opened("/tmp", "O_RDONLY|O_DIRECTORY", &dir, "dir", dir_fd);
    // A device shows its rdev (the device it is), 1:3 for /dev/null (devices.txt).
    assert_eq!(devnull.get("rdev"), "1:3");
    opened("/dev/null", "O_RDWR", &devnull, "null", devnull_fd);
}

#[test]
fn open_of_a_long_path_is_cut_and_says_so() {
    // 300 bytes that still name /tmp/<file>: "/tmp/" + "./" * 140 + name.
    let file = TempPath::new("long");
    let name = file.0.file_name().unwrap().to_str().unwrap().to_string();
    let long = format!("/tmp/{}{name}", "./".repeat(140));
    assert!(long.len() > 256);
    assert_creates_fd(
        &["open", &long, "O_WRONLY|O_CREAT", "600"],
        "open",
        Some("file"),
        json!({"pathname": &long[..255], "pathname_truncated": true, "flags": "O_WRONLY|O_CREAT", "mode": "0600"}),
    );
}

#[test]
fn openat_at_fdcwd() {
    let file = TempPath::new("openat");
    std::fs::write(&file.0, b"x").unwrap();
    let (path, flags) = (file.as_str(), "O_RDONLY|O_NONBLOCK");
    assert_creates_fd(
        &["openat", "AT_FDCWD", path, flags, "0"],
        "openat",
        Some("file"),
        json!({"dirfd": "AT_FDCWD", "pathname": path, "flags": flags, "mode": "0000"}),
    );
}

#[test]
fn openat_relative_to_a_dirfd_fails_like_the_kernel_says() {
    // A relative name under a directory fd; then the same name under a non-directory.
    let file = TempPath::new("rel");
    std::fs::write(&file.0, b"x").unwrap();
    let name = file.0.file_name().unwrap().to_str().unwrap().to_string();
    let (fw, mut child) = run_watched(
        &[
            "open",
            "/tmp",
            "O_RDONLY|O_DIRECTORY",
            "0",
            "openat",
            "%open.ret",
            &name,
            "O_RDONLY",
            "0",
            "openat",
            "1",
            &name,
            "O_RDONLY",
            "0",
        ],
        &[],
    );
    let pid = child.pid();
    let dir_fd = child.op("open").ok();
    let op = child.op("openat");
    let fd = op.ok();
    assert_eq!(child.op("openat").get("errno"), "ENOTDIR");
    let ev = fw.expect_event(pid, "openat", |e| e["ret"] == fd);
    let mut want = expected(
        pid,
        "openat",
        json!({"dirfd": ANY, "pathname": name, "flags": "O_RDONLY", "mode": "0000",
               "object": object_of(&op, "file", ""), "ret": fd}),
    );
    assert_event(&ev, &want);
    let bad = fw.expect_event(pid, "openat", |e| e["ret"] == -20);
    want["object"] = Value::Null;
    want["ret"] = json!(-20);
    want["errno"] = json!("ENOTDIR");
    assert_event(&bad, &want);
    // Like every other fd argument ("fd", "oldfd", "sockfd"), a real dirfd is a number;
    // only AT_FDCWD is a name.
    assert_eq!(ev["dirfd"], json!(dir_fd), "openat's dirfd {dir_fd} is not reported as a number: {ev}");
    assert_eq!(bad["dirfd"], json!(1), "openat's dirfd 1 is not reported as a number: {bad}");
}

#[test]
fn openat2_reports_open_how() {
    let file = TempPath::new("openat2");
    let (path, flags) = (file.as_str(), "O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC");
    assert_creates_fd(
        &["openat2", "AT_FDCWD", path, flags, "600", "RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS"],
        "openat2",
        Some("file"),
        json!({"dirfd": "AT_FDCWD", "pathname": path,
               "how": {"flags": flags, "mode": "0600", "resolve": "RESOLVE_NO_MAGICLINKS|RESOLVE_NO_SYMLINKS"}}),
    );
}

#[test]
fn openat2_beneath_refuses_to_escape() {
    assert_reported(
        &["openat2", "AT_FDCWD", "/etc/hostname", "O_RDONLY", "0", "RESOLVE_BENEATH"],
        "openat2",
        json!({"dirfd": "AT_FDCWD", "pathname": "/etc/hostname",
                   "how": {"flags": "O_RDONLY", "mode": "0000", "resolve": "RESOLVE_BENEATH"},
                   "object": null, "ret": -18, "errno": "EXDEV"}),
    );
}
