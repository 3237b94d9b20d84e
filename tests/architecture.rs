//! The dependency arrows of `src/` point one way (docs/architecture.md): each top-level
//! module may name only the modules of lower layers. A `use crate::x` (or a path
//! `crate::x::...`, doc links included) that points up or sideways fails here, naming the
//! file and line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, bottom first. A module may name modules of any layer below its own, and
/// nothing of its own layer or above.
const LAYERS: &[&[&str]] = &[
    // The vocabulary and the typed errors: leaves.
    &["vocab", "error"],
    // YAML loading with located errors.
    &["yaml"],
    // Records: the inventory model and its readers and writers; findings and waivers' data.
    &["inventory", "finding"],
    // Pure analyses over records; the waivers file; the input formats (files, AWS answers).
    &["analysis", "waivers", "input"],
    // Rule packs, their fields and scopes, the Rhai sandbox; the findings JSON wire types.
    &["rules", "wire"],
    // Evaluation; baselines; collection from AWS; the trend of a run history.
    &["engine", "baseline", "collect", "trend"],
    // The run stage.
    &["run"],
    // Emitters.
    &["emit"],
    // The run history (appended after the outputs are written).
    &["history"],
    // The config file (its `format`, `params`, `sla_days` name the layers below).
    &["config"],
    // The JSON Schemas of the file formats; the command line.
    &["schema", "cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn top_module(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text of a file without its unit tests (`#[cfg(test)]` modules and files), which may
/// reach anywhere.
fn production_code(text: &str) -> &str {
    match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    }
}

#[test]
fn every_module_names_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut seen_modules = BTreeMap::new();
    let mut wrong = Vec::new();
    for file in &files {
        let module = top_module(&src, file);
        if module == "lib" || module == "main" {
            continue;
        }
        // Test-only files (`mock_tests.rs`) may reach anywhere.
        if file
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains("tests"))
        {
            continue;
        }
        let Some(layer) = layer_of(&module) else {
            wrong.push(format!(
                "{}: module `{module}` is in no layer of tests/architecture.rs",
                file.display()
            ));
            continue;
        };
        *seen_modules.entry(module.clone()).or_insert(0) += 1;
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in production_code(&text).lines().enumerate() {
            let mut rest = line;
            while let Some(i) = rest.find("crate::") {
                rest = &rest[i + "crate::".len()..];
                let target: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if target.is_empty() || target == module {
                    continue;
                }
                match layer_of(&target) {
                    Some(t) if t < layer => {}
                    _ => wrong.push(format!(
                        "{}:{}: `{module}` names `{target}`, which is not below it",
                        file.strip_prefix(&src).unwrap().display(),
                        n + 1
                    )),
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dependency arrows that point up or sideways:\n{}",
        wrong.join("\n")
    );
    // Every layer's module exists: the table is not stale.
    for module in LAYERS.iter().flat_map(|l| l.iter()) {
        assert!(
            seen_modules.contains_key(*module),
            "tests/architecture.rs lists `{module}`, which src/ does not have"
        );
    }
}

/// The files a file of `folder` (`src/<top>/`) names among its siblings in code (comments and
/// doc links left out): `crate::<top>::<file>` or `super::<file>` (`mod.rs` left out: it
/// declares the files).
fn sibling_refs(top: &str, text: &str, siblings: &BTreeSet<String>) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = BTreeSet::new();
    for prefix in [format!("crate::{top}::"), "super::".to_string()] {
        let mut rest = code.as_str();
        while let Some(i) = rest.find(&prefix) {
            rest = &rest[i + prefix.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if siblings.contains(&name) {
                out.insert(name);
            }
        }
    }
    out
}

/// Within a folder too, the files name each other one way: no file reaches, through its
/// siblings, back to itself.
#[test]
fn no_circle_between_the_files_of_a_folder() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut circles = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let top = dir.file_name().unwrap().to_string_lossy().to_string();
        let mut files = BTreeMap::new();
        for f in std::fs::read_dir(&dir).unwrap() {
            let path = f.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            let is_test = name.contains("tests");
            if path.extension().is_some_and(|e| e == "rs") && name != "mod" && !is_test {
                files.insert(name, std::fs::read_to_string(&path).unwrap());
            }
        }
        let siblings: BTreeSet<String> = files.keys().cloned().collect();
        let edges: BTreeMap<&str, BTreeSet<String>> = files
            .iter()
            .map(|(name, text)| {
                let mut refs = sibling_refs(&top, production_code(text), &siblings);
                refs.remove(name);
                (name.as_str(), refs)
            })
            .collect();
        // Depth-first search for a path back to the start.
        for start in edges.keys() {
            let mut stack: Vec<Vec<&str>> = vec![vec![start]];
            let mut seen = BTreeSet::new();
            while let Some(path) = stack.pop() {
                let last = *path.last().unwrap();
                for next in &edges[last] {
                    if next == start {
                        let mut c = path.clone();
                        c.push(start);
                        circles.push(format!("src/{top}/: {}", c.join(" → ")));
                    } else if seen.insert(next.clone()) {
                        let mut p = path.clone();
                        p.push(next);
                        stack.push(p);
                    }
                }
            }
        }
    }
    circles.sort();
    circles.dedup();
    assert!(
        circles.is_empty(),
        "files that name each other in a circle:\n{}",
        circles.join("\n")
    );
}
