//! The on-disk cache of downloaded tools, built components and compiled modules.
//!
//! Every entry is written under a temporary name and renamed into place, so a reader never sees
//! a half-written file and concurrent set-ups (CI jobs, parallel tests) only ever race to write
//! identical content.
//!
//! Compiled modules (`.cwasm`) are native code that wasmtime maps and runs without checking it,
//! so loading one is only safe for a file we wrote. The control is ownership: the cache
//! directory must belong to this user and be writable by no one else ([`ensure_private_dir`]),
//! and it is created with mode 0700. A SHA-256 digest recorded beside each compiled file when it
//! is written ([`write_with_digest`]) and checked before every load ([`verify_digest`]) catches
//! corruption and truncation (a file that fails is rebuilt); it cannot stop someone who can
//! write the directory, which is why it is not the control.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Environment variable that overrides the cache root.
pub const CACHE_DIR_ENV: &str = "VERIFIER_CACHE_DIR";

/// `$VERIFIER_CACHE_DIR`, else `$XDG_CACHE_HOME/verifier`, else `~/.cache/verifier` (`~` from
/// `$HOME`, else from the user database); with `sandboxes/` appended. There is no fallback to a
/// shared temporary folder: if no home is known the path is empty and set-up says so.
pub fn default_cache_dir() -> PathBuf {
    let root = if let Some(dir) = non_empty_env(CACHE_DIR_ENV) {
        PathBuf::from(dir)
    } else if let Some(dir) = non_empty_env("XDG_CACHE_HOME") {
        PathBuf::from(dir).join("verifier")
    } else if let Some(home) = non_empty_env("HOME")
        .map(PathBuf::from)
        .or_else(home_from_passwd)
    {
        home.join(".cache").join("verifier")
    } else {
        return PathBuf::new();
    };
    root.join("sandboxes")
}

/// This user's home directory from the user database, for when `$HOME` is unset.
fn home_from_passwd() -> Option<PathBuf> {
    use std::ffi::CStr;
    use std::os::unix::ffi::OsStrExt;
    let mut record: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes only into `record` and `buffer`, whose sizes we pass.
    let status = unsafe {
        libc::getpwuid_r(
            libc::geteuid(),
            &mut record,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    if status != 0 || found.is_null() || record.pw_dir.is_null() {
        return None;
    }
    // SAFETY: pw_dir points into `buffer`, NUL-terminated, alive for this scope.
    let dir = unsafe { CStr::from_ptr(record.pw_dir) };
    let dir = PathBuf::from(std::ffi::OsStr::from_bytes(dir.to_bytes()));
    (!dir.as_os_str().is_empty()).then_some(dir)
}

/// Why a cache directory or entry cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CacheError(pub String);

/// Creates `dir` (mode 0700) if it is missing and checks that it is private: a directory owned
/// by this user that no one else can write, under parents that only this user or root control
/// (a world-writable parent must be sticky, as `/tmp` is). Loosens nothing: an existing
/// directory that others can read is narrowed to 0700 where possible (a read-only mount is
/// left as it is). Compiled native code is loaded from here, so anything else is refused.
pub fn ensure_private_dir(dir: &Path) -> Result<(), CacheError> {
    if dir.as_os_str().is_empty() {
        return Err(CacheError(format!(
            "no cache directory: neither ${CACHE_DIR_ENV}, $XDG_CACHE_HOME nor a home directory \
             is known; set {CACHE_DIR_ENV} to a directory of this user's"
        )));
    }
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|error| CacheError(format!("creating {}: {error}", dir.display())))?;
    }
    let euid = unsafe { libc::geteuid() };
    let metadata = std::fs::metadata(dir)
        .map_err(|error| CacheError(format!("reading {}: {error}", dir.display())))?;
    if !metadata.is_dir() {
        return Err(CacheError(format!("{} is not a directory", dir.display())));
    }
    let refuse = |why: String| {
        CacheError(format!(
            "refusing the sandbox cache {}: {why}; compiled code is loaded from it, so it must \
             be a directory of this user's that no one else can write (`chmod 700` it, or set \
             {CACHE_DIR_ENV} to one)",
            dir.display()
        ))
    };
    if metadata.uid() != euid {
        return Err(refuse(format!(
            "it is owned by uid {}, not by this user (uid {euid})",
            metadata.uid()
        )));
    }
    let mode = metadata.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(refuse(format!(
            "its mode {mode:04o} lets other users write it"
        )));
    }
    if mode & 0o077 != 0 {
        // Ours and not writable by others; narrow it as the set-up would have made it. A
        // read-only mount refuses, and is fine as it is.
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    let absolute = std::fs::canonicalize(dir)
        .map_err(|error| CacheError(format!("resolving {}: {error}", dir.display())))?;
    for parent in absolute.ancestors().skip(1) {
        let metadata = std::fs::metadata(parent)
            .map_err(|error| CacheError(format!("reading {}: {error}", parent.display())))?;
        let mode = metadata.mode();
        let sticky = mode & 0o1000 != 0;
        if metadata.uid() != euid && metadata.uid() != 0 {
            return Err(refuse(format!(
                "its parent {} is owned by uid {}, who could replace it",
                parent.display(),
                metadata.uid()
            )));
        }
        if mode & 0o002 != 0 && !sticky {
            return Err(refuse(format!(
                "its parent {} is writable by everyone (mode {:04o}) without the sticky bit",
                parent.display(),
                mode & 0o7777
            )));
        }
    }
    Ok(())
}

/// The file holding `path`'s recorded digest.
pub fn digest_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".sha256");
    path.with_file_name(name)
}

/// Writes `bytes` to `path` atomically and records their SHA-256 beside it, for
/// [`verify_digest`].
pub fn write_with_digest(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomically(path, bytes)?;
    write_atomically(&digest_path(path), sha256_hex(bytes).as_bytes())
}

/// Checks that `path` is a file of this user's that no one else can write, whose SHA-256 is the
/// one recorded when it was written. The error says which check failed.
pub fn verify_digest(path: &Path) -> Result<(), CacheError> {
    use std::io::Read;
    let read_error =
        |error: std::io::Error| CacheError(format!("reading {}: {error}", path.display()));
    let mut file = std::fs::File::open(path).map_err(read_error)?;
    let metadata = file.metadata().map_err(read_error)?;
    if !metadata.is_file() {
        return Err(CacheError(format!("{} is not a file", path.display())));
    }
    let euid = unsafe { libc::geteuid() };
    if metadata.uid() != euid || metadata.mode() & 0o022 != 0 {
        return Err(CacheError(format!(
            "{} is not a file of this user's that only they can write (uid {}, mode {:04o})",
            path.display(),
            metadata.uid(),
            metadata.mode() & 0o7777
        )));
    }
    let recorded = std::fs::read_to_string(digest_path(path)).map_err(|error| {
        CacheError(format!(
            "{} has no recorded digest ({error})",
            path.display()
        ))
    })?;
    // Streamed, so that checking a 40 MB module does not hold it in memory.
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut length = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(read_error)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        length += n as u64;
    }
    let actual: String = hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    if recorded.trim() != actual {
        return Err(CacheError(format!(
            "{} is corrupt or truncated: its sha256 is {actual}, {} was recorded when it was \
             written ({length} bytes now)",
            path.display(),
            recorded.trim(),
        )));
    }
    Ok(())
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
    fn a_digest_catches_corruption_and_truncation() {
        let dir =
            std::env::temp_dir().join(format!("sandboxes-digest-test-{}", std::process::id()));
        let path = dir.join("module.cwasm");
        assert!(verify_digest(&path).is_err(), "a missing file fails");
        write_with_digest(&path, b"compiled code").unwrap();
        verify_digest(&path).unwrap();
        std::fs::write(&path, b"compiled codf").unwrap();
        assert!(verify_digest(&path)
            .unwrap_err()
            .0
            .contains("corrupt or truncated"));
        std::fs::write(&path, b"compiled").unwrap();
        assert!(verify_digest(&path).is_err());
        std::fs::remove_file(digest_path(&path)).unwrap();
        std::fs::write(&path, b"compiled code").unwrap();
        assert!(verify_digest(&path)
            .unwrap_err()
            .0
            .contains("no recorded digest"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_cache_dir_others_can_write_is_refused_and_a_new_one_is_private() {
        let base =
            std::env::temp_dir().join(format!("sandboxes-private-test-{}", std::process::id()));
        let dir = base.join("cache");
        ensure_private_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o775)).unwrap();
        let error = ensure_private_dir(&dir).unwrap_err().0;
        assert!(error.contains("lets other users write it"), "{error}");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&dir).unwrap();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().mode() & 0o777,
            0o700,
            "narrowed"
        );
        // A parent everyone can write, without the sticky bit.
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = ensure_private_dir(&dir).unwrap_err().0;
        assert!(error.contains("writable by everyone"), "{error}");
        std::fs::remove_dir_all(&base).unwrap();
        assert!(ensure_private_dir(Path::new("")).is_err());
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
