//! The operator's profile: a TOML file holding what they would otherwise repeat on every command
//! (`--node`, `--ca`, `--cert`, `--key`, `--timeout`). Flags and `GRIDNODE_*` variables win over it.
//!
//! ```toml
//! # ~/.config/gridnode/profile.toml (or --profile FILE, or GRIDNODE_PROFILE)
//! node = "10.20.1.11:7101,10.20.1.12:7101,10.20.1.13:7101"
//! ca = "/etc/gridfed/ca.pem"          # relative paths are taken from the profile's folder
//! cert = "370102-operator-zhang.pem"
//! key = "370102-operator-zhang.key"
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// What a profile may set.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Replica addresses of the node to talk to, comma-separated.
    pub node: Option<String>,
    /// Seconds to keep trying.
    pub timeout: Option<u64>,
    /// The district CA's certificate.
    pub ca: Option<PathBuf>,
    /// The operator's certificate.
    pub cert: Option<PathBuf>,
    /// The operator's private key.
    pub key: Option<PathBuf>,
}

/// Why a profile could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("profile {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("profile {path}: {source}")]
    Parse { path: String, source: ProfileSyntax },
}

/// What is wrong with a profile's text.
#[derive(Debug, thiserror::Error)]
pub enum ProfileSyntax {
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    #[error("{field}: {reason}")]
    Field { field: &'static str, reason: &'static str },
}

/// `$XDG_CONFIG_HOME/gridnode/profile.toml`, else `$HOME/.config/gridnode/profile.toml`.
pub fn default_path() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(x) => PathBuf::from(x),
        None => PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".config"),
    };
    Some(base.join("gridnode").join("profile.toml"))
}

impl Profile {
    /// The profile at `explicit` (which must exist), else the one at the default path if there is
    /// one, else an empty profile.
    pub fn load(explicit: Option<&Path>) -> Result<Profile, ProfileError> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => match default_path() {
                Some(p) if p.is_file() => p,
                _ => return Ok(Profile::default()),
            },
        };
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(&path)
            .map_err(|source| ProfileError::Read { path: shown.clone(), source })?;
        Profile::parse(&text, path.parent().unwrap_or(Path::new(".")))
            .map_err(|source| ProfileError::Parse { path: shown, source })
    }

    /// Parses a profile's text; relative file paths are resolved against `dir`.
    pub fn parse(text: &str, dir: &Path) -> Result<Profile, ProfileSyntax> {
        let mut p: Profile = toml::from_str(text)?;
        for f in [&mut p.ca, &mut p.cert, &mut p.key].into_iter().flatten() {
            if f.is_relative() {
                *f = dir.join(&*f);
            }
        }
        if p.node.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(ProfileSyntax::Field { field: "node", reason: "must not be empty" });
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_taken_from_the_profile_folder_and_bad_fields_are_named() {
        let p = Profile::parse(
            "node = \"127.0.0.1:7101\"\nca = \"ca.pem\"\ncert = \"/abs/op.pem\"\n",
            Path::new("/etc/gf"),
        )
        .unwrap();
        assert_eq!(p.ca.as_deref(), Some(Path::new("/etc/gf/ca.pem")));
        assert_eq!(p.cert.as_deref(), Some(Path::new("/abs/op.pem")));
        assert_eq!(p.key, None);
        let err = Profile::parse("nodes = \"x\"\n", Path::new(".")).unwrap_err().to_string();
        assert!(err.contains("nodes"), "{err}");
        let err = Profile::parse("node = \" \"\n", Path::new(".")).unwrap_err().to_string();
        assert!(err.starts_with("node:"), "{err}");
    }

    #[test]
    fn the_example_profile_in_deploy_parses() {
        let p = Profile::parse(include_str!("../../../deploy/profile.example.toml"), Path::new("/home/wang"))
            .unwrap();
        assert_eq!(p.ca.as_deref(), Some(Path::new("/home/wang/ca.pem")));
        assert!(p.node.is_some() && p.key.is_some() && p.timeout == Some(15));
    }
}
