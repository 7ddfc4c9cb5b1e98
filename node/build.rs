//! Puts the git commit the binary is built from into `GRIDNODE_COMMIT` (shown by `gridnode --version`):
//! the short hash, `-dirty` when tracked files differ from it, and `unknown` when git or the repository
//! is missing (e.g. a source tarball). `GRIDNODE_COMMIT` set in the environment wins, for builds outside
//! a clone.
//!
//! The script reruns when HEAD moves (checkout, commit) or the index changes, and when the sources the
//! binary is built from change (they recompile this crate anyway), not on every change elsewhere in the
//! tree: the `-dirty` mark is as of the last such rerun.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?;
    Some(s.trim().to_string())
}

/// A path inside the git directory (worktrees and packed refs included), if it exists.
fn git_path(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(git(&["rev-parse", "--git-path", name])?);
    p.exists().then_some(p)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=GRIDNODE_COMMIT");
    // These recompile gridnode when they change, so rerunning this script with them costs nothing more.
    for src in ["src", "Cargo.toml", "../federation", "../proto", "../Cargo.toml", "../Cargo.lock"] {
        println!("cargo:rerun-if-changed={src}");
    }
    if let Ok(commit) = std::env::var("GRIDNODE_COMMIT") {
        println!("cargo:rustc-env=GRIDNODE_COMMIT={commit}");
        return;
    }
    let commit = match git(&["rev-parse", "--short=7", "HEAD"]) {
        Some(hash) if !hash.is_empty() => {
            let mut watch = vec!["HEAD", "index", "packed-refs"];
            let head_ref = git(&["symbolic-ref", "-q", "HEAD"]);
            if let Some(r) = head_ref.as_deref() {
                watch.push(r);
            }
            for name in watch {
                if let Some(p) = git_path(name) {
                    println!("cargo:rerun-if-changed={}", p.display());
                }
            }
            // Tracked files only, like `git describe --dirty`. Without optional locks git does not
            // write the refreshed index back, which would make the next build run this script again.
            let dirty = git(&["--no-optional-locks", "status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{hash}-dirty")
            } else {
                hash
            }
        }
        _ => "unknown".to_string(),
    };
    println!("cargo:rustc-env=GRIDNODE_COMMIT={commit}");
}
