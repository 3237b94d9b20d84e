//! The files under a folder, in a stable order: every folder given to `evaluate` is walked the
//! same way. Symbolic links to folders are followed once: a link back up the tree (a loop) is
//! not walked again.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::error::InputError;

/// The files under `dir` (sorted by path, depth first) whose name `keep_file` accepts, not
/// entering folders whose name `enter` refuses. Hidden files (`.name`) are left out.
///
/// # Errors
///
/// A folder that cannot be listed.
pub fn files_under(
    dir: &Path,
    enter: &dyn Fn(&str) -> bool,
    keep_file: &dyn Fn(&str) -> bool,
) -> Result<Vec<PathBuf>, InputError> {
    fn walk(
        dir: &Path,
        seen: &mut HashSet<PathBuf>,
        enter: &dyn Fn(&str) -> bool,
        keep_file: &dyn Fn(&str) -> bool,
        out: &mut Vec<PathBuf>,
    ) -> Result<(), InputError> {
        // A folder reached twice (through a link) is walked once.
        let real = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        if !seen.insert(real) {
            return Ok(());
        }
        let entries = std::fs::read_dir(dir)
            .map_err(|e| InputError::new(dir, format!("cannot read the folder: {e}")))?;
        let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            if p.is_dir() {
                if enter(&name) {
                    walk(&p, seen, enter, keep_file, out)?;
                }
            } else if keep_file(&name) {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, &mut HashSet::new(), enter, keep_file, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_link_back_up_the_tree_is_walked_once() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        std::fs::create_dir(&a).unwrap();
        std::fs::write(a.join("x.json"), "{}").unwrap();
        std::fs::write(a.join(".hidden.json"), "{}").unwrap();
        std::os::unix::fs::symlink(tmp.path(), a.join("loop")).unwrap();
        let files = files_under(tmp.path(), &|_| true, &|n| n.ends_with(".json")).unwrap();
        assert_eq!(files, [a.join("x.json")]);
    }
}
