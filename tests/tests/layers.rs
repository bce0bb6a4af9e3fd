//! The layers of fdwatch/src (README, *Layout*): every `crate::` path a file names must
//! point to its own layer or one below it, so no import runs back up. Reads the source
//! as text (no root, no build): a `use crate::{a::..., b}` group and an inline
//! `crate::a::f()` count alike.
use std::{collections::BTreeSet, fs, path::Path};

use fdwatch_tests::workspace_root;

/// The layers from the ground up; a module is the file or folder directly under
/// fdwatch/src. Each layer may use itself and those before it.
const LAYERS: &[(&str, &[&str])] = &[
    ("base", &["value", "heap", "out", "escape", "clock", "error"]),
    ("decode", &["decode"]),
    ("containers", &["containers"]),
    ("model", &["model"]),
    ("detect", &["detect"]),
    ("host readers", &["pidfd", "procfs", "privileges", "scan"]),
    ("outputs", &["outputs"]),
    ("sinks", &["sinks"]),
    ("edges", &["probes", "scope", "metrics", "control", "fds_command", "holders_command", "cli", "config"]),
    ("collect", &["collect"]),
    ("top", &["main", "lib", "hostile_records"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, modules)| modules.contains(&module))
}

/// The top-level modules `text` names after `crate::`.
fn modules_named(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The names at depth 1 of the group: `a::b`, `c`, `d::{e, f}`.
            let mut depth = 1;
            let mut word = String::new();
            let mut first_of_item = true;
            for ch in group.chars() {
                match ch {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => first_of_item = true,
                    c if c.is_alphanumeric() || c == '_' => {
                        if first_of_item && depth == 1 {
                            word.push(c)
                        }
                    }
                    _ => {
                        if !word.is_empty() {
                            found.insert(std::mem::take(&mut word));
                            first_of_item = false;
                        }
                    }
                }
            }
            if !word.is_empty() {
                found.insert(word);
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_import_runs_up_a_layer() {
    let src = workspace_root().join("fdwatch/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50, "fdwatch/src has its files: {}", files.len());
    let mut wrong = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let module = rel.iter().next().unwrap().to_string_lossy().trim_end_matches(".rs").to_owned();
        let Some(own) = layer_of(&module) else {
            wrong.push(format!(
                "{}: module {module} is on no layer (add it to LAYERS and README Layout)",
                rel.display()
            ));
            continue;
        };
        for named in modules_named(&fs::read_to_string(file).unwrap()) {
            match layer_of(&named) {
                Some(layer) if layer > own => wrong.push(format!(
                    "{}: {} ({}) uses {named} ({}), a layer above it",
                    rel.display(),
                    module,
                    LAYERS[own].0,
                    LAYERS[layer].0
                )),
                _ => {}
            }
        }
    }
    assert!(wrong.is_empty(), "imports that run up a layer:\n{}", wrong.join("\n"));
}

#[test]
fn the_reader_sees_grouped_and_inline_paths() {
    let text = "use crate::{\n    clock::Clock,\n    model::{Model, Pid},\n    value,\n};\nlet x = crate::sinks::stdout::Stdout::new();";
    let names: Vec<String> = modules_named(text).into_iter().collect();
    assert_eq!(names, ["clock", "model", "sinks", "value"]);
}
