//! Emitters: translate a [`RunReport`] into files, one [`Emitter`] per format. Every file is written
//! to a temporary name in the output folder and renamed into place, so a final name never
//! holds a half-written file. The outputs hold the whole credential inventory: on Unix each
//! file is created 0600 (a new file under an unpredictable name, never one planted there)
//! and the folders the tool creates 0700.

pub mod csv;
pub mod html;
pub mod json;
pub mod md;
pub mod sarif;
pub mod summary;

use std::collections::BTreeSet;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::Error;
use crate::run::RunReport;

/// One output format: the files it writes from a run report. Each format is one file of
/// this folder implementing this trait, registered in [`EMITTERS`]; `--format` values, their
/// help and the default set derive from that list.
pub trait Emitter: Sync {
    /// The `--format` value.
    fn name(&self) -> &'static str;
    /// What it writes, for `--help`.
    fn describe(&self) -> &'static str;
    /// The files of this format for a run, in the order the summary lists them.
    fn files<'a>(&self, run: &'a RunReport, opts: &'a OutputOptions) -> Vec<OutputFile<'a>>;
}

/// A file to write: its name in the output folder and what fills it.
pub struct OutputFile<'a> {
    pub name: String,
    pub fill: Fill<'a>,
}

impl<'a> OutputFile<'a> {
    pub fn new(
        name: String,
        fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()> + Send + 'a,
    ) -> OutputFile<'a> {
        OutputFile {
            name,
            fill: Box::new(fill),
        }
    }
}

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

/// Where and what to write.
#[derive(Clone, Debug)]
pub struct OutputOptions {
    pub out_dir: PathBuf,
    pub formats: BTreeSet<Format>,
    /// `YYYYMMDD_HHMMSS` of the run.
    pub stamp: String,
    /// Write the report as the original tool did: key rows only.
    pub stock_keys_only: bool,
    /// Input files that must never be overwritten (an output with the same path is skipped).
    pub inputs: Vec<PathBuf>,
    /// What the SARIF file includes beyond open findings above info.
    pub sarif: SarifInclude,
}

/// `--sarif-include`: info findings and waived findings are left out of SARIF unless asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SarifInclude {
    pub info: bool,
    pub waived: bool,
}

impl SarifInclude {
    pub fn parse(s: &str) -> Result<SarifInclude, String> {
        let mut out = SarifInclude::default();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match item {
                "info" => out.info = true,
                "waived" => out.waived = true,
                other => {
                    return Err(format!(
                        "--sarif-include `{other}`: expected info, waived or both"
                    ))
                }
            }
        }
        Ok(out)
    }
}

/// The name a unit enum value has in the JSON outputs (`stock-csv`, `partial`, ...).
pub fn wire_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Writes the content of one output file.
pub type Fill<'a> = Box<dyn FnOnce(&mut dyn Write) -> std::io::Result<()> + Send + 'a>;

/// How many temporary names [`write_atomic`] tries before giving up: a name that exists is
/// skipped, never opened.
const TEMP_ATTEMPTS: usize = 8;

/// A temporary name beside `path` that another local user cannot predict: hidden, the final
/// name, the process id, and 64 bits of a hash of a counter and the clock keyed at random
/// (std's `RandomState` keys come from the system's random source).
fn temp_path(path: &Path) -> PathBuf {
    use std::hash::BuildHasher;
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let suffix = std::collections::hash_map::RandomState::new().hash_one((n, nanos));
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    dir.join(format!(".{name}.{}.{suffix:016x}.tmp", std::process::id()))
}

/// Creates a new file at `path` readable and writable by its owner only (0600 on Unix). It
/// fails on anything already there, a symlink included (`O_CREAT | O_EXCL`): a file planted
/// at the name is never opened, followed or reused.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Creates the first of `candidates` that does not exist yet (see [`create_private`]).
fn create_temp(
    candidates: impl IntoIterator<Item = PathBuf>,
) -> std::io::Result<(PathBuf, std::fs::File)> {
    let mut taken = 0;
    for tmp in candidates {
        match create_private(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => taken += 1,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!("no free temporary name beside it ({taken} tried were taken)"),
    ))
}

/// Creates the output folder and every missing folder above it, owner-only (0700 on Unix).
/// A folder that exists is left as it is.
fn create_out_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Writes `path` atomically and privately: a new owner-only (0600) temporary file beside it,
/// under a name no one can predict, flushed, then renamed over `path`. On error the
/// temporary file is removed and `path` is untouched.
pub fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), Error> {
    let candidates = std::iter::repeat_with(|| temp_path(path)).take(TEMP_ATTEMPTS);
    write_atomic_via(path, candidates, fill)
}

/// [`write_atomic`] with the temporary names to try.
fn write_atomic_via(
    path: &Path,
    candidates: impl IntoIterator<Item = PathBuf>,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), Error> {
    let err = |source| Error::Output {
        path: path.to_path_buf(),
        source,
    };
    let (tmp, file) = create_temp(candidates).map_err(err)?;
    let result = (|| {
        let mut w = BufWriter::new(file);
        fill(&mut w)?;
        w.into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        // No fsync: the rename keeps a half file from ever bearing the final name while the
        // system runs; syncing too would cost 1.3 s on the 1M-row benchmark's 892 MB.
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Writes every requested output; returns the paths written and the ones skipped because
/// they are inputs of the run.
pub fn write_outputs(
    run: &RunReport,
    opts: &OutputOptions,
) -> Result<(Vec<PathBuf>, Vec<PathBuf>), Error> {
    create_out_dir(&opts.out_dir).map_err(|source| Error::Output {
        path: opts.out_dir.clone(),
        source,
    })?;
    let mut written = Vec::new();
    let mut skipped = Vec::new();
    let mut todo = Vec::new();
    for format in &opts.formats {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_symlink_at_the_old_temporary_name_is_not_followed() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside.txt");
        std::fs::write(&outside, "precious").unwrap();
        let dir = tmp.path().join("out");
        std::fs::create_dir(&dir).unwrap();
        // The name the first version chose: predictable from the process id.
        let planted = dir.join(format!(".report.csv.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&outside, &planted).unwrap();
        let path = dir.join("report.csv");
        write_atomic(&path, |w| w.write_all(b"new")).unwrap();
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious");
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_file(), "the final name is a plain file");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    }

    #[cfg(unix)]
    #[test]
    fn names_already_taken_are_skipped_never_followed_nor_reused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside.txt");
        std::fs::write(&outside, "precious").unwrap();
        let dir = tmp.path().join("out");
        std::fs::create_dir(&dir).unwrap();
        let (link, planted, free) = (dir.join(".a.tmp"), dir.join(".b.tmp"), dir.join(".c.tmp"));
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        std::fs::write(&planted, "planted").unwrap();
        std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o666)).unwrap();
        let path = dir.join("report.csv");
        let candidates = [link.clone(), planted.clone(), free.clone()];
        write_atomic_via(&path, candidates, |w| w.write_all(b"new")).unwrap();
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious");
        assert_eq!(std::fs::read_link(&link).unwrap(), outside);
        assert_eq!(std::fs::read_to_string(&planted).unwrap(), "planted");
        assert!(!free.exists(), "the temporary file was renamed");
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    }

    #[test]
    fn when_every_name_is_taken_nothing_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let taken = [tmp.path().join(".a.tmp"), tmp.path().join(".b.tmp")];
        for t in &taken {
            std::fs::write(t, "planted").unwrap();
        }
        let path = tmp.path().join("report.csv");
        let e = write_atomic_via(&path, taken.clone(), |w| w.write_all(b"new")).unwrap_err();
        assert!(e.to_string().contains("report.csv"), "{e}");
        assert!(!path.exists());
        for t in &taken {
            assert_eq!(std::fs::read_to_string(t).unwrap(), "planted");
        }
    }

    #[test]
    fn a_failed_write_leaves_neither_the_final_nor_a_temporary_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("report.csv");
        let e = write_atomic(&path, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(e.to_string().contains("disk full"), "{e}");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    #[test]
    fn temporary_names_are_hidden_beside_the_file_and_never_repeat() {
        let path = Path::new("out").join("report.csv");
        let prefix = format!(".report.csv.{}.", std::process::id());
        let names: BTreeSet<PathBuf> = (0..1000).map(|_| temp_path(&path)).collect();
        assert_eq!(names.len(), 1000);
        for n in &names {
            assert_eq!(n.parent(), Some(Path::new("out")));
            let name = n.file_name().unwrap().to_string_lossy();
            assert!(
                name.starts_with(&prefix) && name.ends_with(".tmp"),
                "{name}"
            );
            // 16 hex digits that are not a counter or the clock.
            assert_eq!(name.len(), prefix.len() + 16 + ".tmp".len(), "{name}");
        }
        assert_eq!(temp_path(Path::new("r.csv")).parent(), Some(Path::new(".")));
    }

    #[cfg(unix)]
    #[test]
    fn the_output_folder_and_the_folders_created_above_it_are_0700() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = tmp.path().join("a").join("b");
        create_out_dir(&out).unwrap();
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        assert_eq!(mode(&out), 0o700);
        assert_eq!(mode(tmp.path()), 0o755, "an existing folder is left alone");
        create_out_dir(&out).unwrap();
    }
}
