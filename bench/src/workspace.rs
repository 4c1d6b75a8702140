//! The cargo workspace this program was built from, and the cargo that builds it: the
//! servers' binaries (`servers`) and the clean release build (`clean_build`) both build
//! from here.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The workspace this program was built from (the parent of its crate's folder), if that
/// folder is still there.
pub fn own_workspace() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    dir.join("Cargo.toml").is_file().then(|| dir.to_path_buf())
}

/// The cargo that runs this program (`cargo run` sets `CARGO`), else the one on the PATH.
pub fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_programs_workspace_is_found() {
        let ws = own_workspace().expect("built from this repository");
        assert!(ws.join("bench").join("Cargo.toml").is_file());
    }
}
