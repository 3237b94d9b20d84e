//! Emitters: translate a [`RunReport`] into files, one [`Emitter`] per format (the contract
//! in [`emitter`]), listed in [`EMITTERS`]; [`write_outputs`] writes the requested formats'
//! files in parallel, each atomically and privately ([`files`]). [`text`] writes out the
//! control characters of what the text outputs print from the inputs.

pub mod csv;
pub mod emitter;
pub mod files;
pub mod html;
pub mod json;
pub mod md;
pub mod sarif;
pub mod summary;
pub mod text;

use std::collections::BTreeSet;
use std::path::PathBuf;

use rayon::prelude::*;

pub use crate::emit::emitter::{wire_name, Emitter, OutputFile, OutputOptions, SarifInclude};
use crate::emit::files::{create_out_dir, same_file, write_atomic};
use crate::error::Error;
use crate::run::RunReport;

/// Every output format, in the order their files are listed.
pub const EMITTERS: &[&dyn Emitter] = &[
    &csv::Csv,
    &json::Json,
    &sarif::SarifFormat,
    &html::Html,
    &md::Md,
];

/// An output format: an entry of [`EMITTERS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Format(usize);

impl Format {
    pub fn emitter(self) -> &'static dyn Emitter {
        EMITTERS[self.0]
    }

    pub fn name(self) -> &'static str {
        self.emitter().name()
    }

    /// The format of a `--format` value.
    pub fn parse(name: &str) -> Option<Format> {
        EMITTERS.iter().position(|e| e.name() == name).map(Format)
    }

    /// Every format's name, comma-separated.
    pub fn names() -> String {
        EMITTERS
            .iter()
            .map(|e| e.name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The `--format` help text.
    pub fn help() -> String {
        format!(
            "Output formats, comma-separated: {} [default: all of them]",
            Format::names()
        )
    }

    /// The `--format` help text of `--help`: each format with what it writes.
    pub fn long_help() -> String {
        let mut s = Format::help();
        for e in EMITTERS {
            s.push_str(&format!("\n  {}: {}", e.name(), e.describe()));
        }
        s
    }

    pub fn parse_list(s: &str) -> Result<BTreeSet<Format>, String> {
        s.split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(|f| {
                Format::parse(f).ok_or_else(|| {
                    format!(
                        "--format {f}: unknown format (available: {})",
                        Format::names()
                    )
                })
            })
            .collect()
    }

    /// Every format: what is written when none is asked for.
    pub fn all() -> BTreeSet<Format> {
        (0..EMITTERS.len()).map(Format).collect()
    }
}

/// Writes every requested output; returns the paths written and the ones skipped because
/// they are inputs of the run.
pub fn write_outputs(
    run: &RunReport,
    formats: &BTreeSet<Format>,
    opts: &OutputOptions,
) -> Result<(Vec<PathBuf>, Vec<PathBuf>), Error> {
    create_out_dir(&opts.out_dir).map_err(|source| Error::Output {
        path: opts.out_dir.clone(),
        source,
    })?;
    let mut written = Vec::new();
    let mut skipped = Vec::new();
    let mut todo = Vec::new();
    for format in formats {
        for file in format.emitter().files(run, opts) {
            let path = opts.out_dir.join(&file.name);
            if opts.inputs.iter().any(|i| same_file(i, &path)) {
                skipped.push(path);
            } else {
                todo.push((path, file.fill));
            }
        }
    }
    // Files are independent: write them in parallel (each still atomically).
    let results: Vec<Result<PathBuf, Error>> = todo
        .into_par_iter()
        .map(|(path, fill)| write_atomic(&path, fill).map(|()| path))
        .collect();
    for r in results {
        written.push(r?);
    }
    Ok((written, skipped))
}
