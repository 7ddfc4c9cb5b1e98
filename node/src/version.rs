//! What `gridnode --version` says: the release, the git commit built from (see `build.rs`) and the
//! storage format version, e.g. `0.1.0 (commit 9d405cc, storage format 1)`.

use std::sync::OnceLock;

use crate::storage::STORAGE_FORMAT;

/// The crate's version, e.g. `0.1.0`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit built from: a short hash, with `-dirty` when the tree had changes, or `unknown`.
pub const COMMIT: &str = env!("GRIDNODE_COMMIT");

/// `0.1.0 (commit 9d405cc, storage format 1)`: the version with the commit and the storage format.
pub fn long() -> &'static str {
    static LONG: OnceLock<String> = OnceLock::new();
    LONG.get_or_init(|| format!("{VERSION} (commit {COMMIT}, storage format {STORAGE_FORMAT})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_version_names_commit_and_storage_format() {
        let v = long();
        assert!(v.starts_with(VERSION), "{v}");
        assert!(v.contains(&format!("commit {COMMIT},")), "{v}");
        assert!(v.ends_with(&format!("storage format {STORAGE_FORMAT})")), "{v}");
        assert!(!COMMIT.is_empty());
    }
}
