//! Embeds the shipped rule packs (`rules/<pack>/pack.yaml` and the rule files it lists) into
//! the binary with their fixtures (`tests/*.yaml`), so `iam-audit` runs and tests the stock
//! pack with no files beside it.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut packs: Vec<_> = std::fs::read_dir(&root)
        .map(|d| {
            d.filter_map(std::result::Result::ok)
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    packs.retain(|p| p.join("pack.yaml").is_file());
    packs.sort();
    let mut out = String::from("/// Built-in packs: (name, [(file, text)]).\npub static BUILTIN_PACKS: &[(&str, &[(&str, &str)])] = &[\n");
    for pack in packs {
        println!("cargo:rerun-if-changed={}", pack.display());
        let name = pack
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let _ = writeln!(out, "    ({name:?}, &[");
        // The rule files, then the fixtures as `tests/<file>` (for `rules test builtin:NAME`).
        for (folder, prefix) in [(pack.clone(), ""), (pack.join("tests"), "tests/")] {
            println!("cargo:rerun-if-changed={}", folder.display());
            let mut files: Vec<_> = std::fs::read_dir(&folder)
                .map(|d| {
                    d.filter_map(std::result::Result::ok)
                        .map(|e| e.path())
                        .collect()
                })
                .unwrap_or_default();
            files.retain(|f| f.extension().is_some_and(|e| e == "yaml"));
            files.sort();
            for f in files {
                println!("cargo:rerun-if-changed={}", f.display());
                let file = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "        (\"{prefix}{file}\", include_str!({:?})),",
                    f.display().to_string()
                );
            }
        }
        out.push_str("    ]),\n");
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap_or_default()).join("builtin_packs.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        panic!("cannot write {}: {e}", dest.display());
    }
}
