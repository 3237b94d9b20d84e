//! Output files are written to a temporary name in the output folder and renamed into place,
//! so a final name never holds a half-written file. The outputs hold the whole credential
//! inventory: on Unix each file is created 0600 (a new file under an unpredictable name,
//! never one planted there) and the folders the tool creates 0700.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::Error;

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
pub(crate) fn create_out_dir(dir: &Path) -> std::io::Result<()> {
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

pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

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
