//! The on-disk cache of downloaded tools, built components and compiled modules.
//!
//! Every entry is written under a temporary name and renamed into place, so a reader never sees
//! a half-written file and concurrent set-ups (CI jobs, parallel tests) only ever race to write
//! identical content.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Environment variable that overrides the cache root.
pub const CACHE_DIR_ENV: &str = "VERIFIER_CACHE_DIR";

/// `$VERIFIER_CACHE_DIR`, else `$XDG_CACHE_HOME/verifier`, else `~/.cache/verifier`, else a
/// folder in the system temp dir; with `sandboxes/` appended.
pub fn default_cache_dir() -> PathBuf {
    let root = if let Some(dir) = non_empty_env(CACHE_DIR_ENV) {
        PathBuf::from(dir)
    } else if let Some(dir) = non_empty_env("XDG_CACHE_HOME") {
        PathBuf::from(dir).join("verifier")
    } else if let Some(home) = non_empty_env("HOME") {
        PathBuf::from(home).join(".cache").join("verifier")
    } else {
        std::env::temp_dir().join("verifier-cache")
    };
    root.join("sandboxes")
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A name unique to this process and moment, for temporary files beside their final path.
pub fn temporary_sibling(final_path: &Path) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or(0);
    let name = final_path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("entry");
    final_path.with_file_name(format!(".{name}.tmp-{}-{nanos}", std::process::id()))
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let temporary = temporary_sibling(path);
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

/// Moves a fully prepared directory into place. If another process got there first, its copy
/// is kept and ours is discarded: both were built from the same pinned inputs.
pub fn publish_directory(prepared: &Path, destination: &Path) -> std::io::Result<()> {
    match std::fs::rename(prepared, destination) {
        Ok(()) => Ok(()),
        Err(_) if destination.is_dir() => {
            let _ = std::fs::remove_dir_all(prepared);
            Ok(())
        }
        Err(error) => {
            let _ = std::fs::remove_dir_all(prepared);
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn atomic_write_replaces_content_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("sandboxes-cache-test-{}", std::process::id()));
        let path = dir.join("entry.bin");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let leftovers = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
