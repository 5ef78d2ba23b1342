//! The private scratch directory a run may ask for ([`RunRequest::scratch_limit_bytes`]).
//!
//! A fresh, empty folder on an in-memory file system (`/dev/shm` where there is one, else the
//! temporary folder), owner-only, preopened in the guest as `/tmp` and removed when the run ends.
//! WASI writes go straight to the host, so the cap is enforced by looking: every epoch tick
//! (5 ms) the folder is measured, and a run past its cap in bytes or entries is ended. A single
//! write can overshoot by what the guest holds in memory (itself capped) before the next look.
//!
//! [`RunRequest::scratch_limit_bytes`]: crate::RunRequest::scratch_limit_bytes

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Where the folder appears inside the guest.
pub const GUEST_PATH: &str = "/tmp";

/// Files and folders a scratch directory may hold: each costs the host an inode, and every look
/// at the folder walks them all.
pub const MAX_ENTRIES: u64 = 1_000;

/// Why a run was ended: its scratch directory outgrew its cap.
#[derive(Debug, thiserror::Error)]
#[error("the scratch directory outgrew its cap")]
pub struct ScratchFull;

pub struct ScratchDir {
    path: PathBuf,
    limit_bytes: u64,
}

impl ScratchDir {
    pub fn create(limit_bytes: u64) -> std::io::Result<ScratchDir> {
        use std::os::unix::fs::DirBuilderExt;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "verifier-scratch-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = base.join(name);
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(ScratchDir { path, limit_bytes })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the folder holds more than its cap allows (bytes, or [`MAX_ENTRIES`] entries).
    pub fn over_limit(&self) -> bool {
        let (mut bytes, mut entries) = (0u64, 0u64);
        let mut pending = vec![self.path.clone()];
        while let Some(dir) = pending.pop() {
            let Ok(listing) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in listing.flatten() {
                entries += 1;
                // Not following links: a link's size is its own, and it leads nowhere outside.
                if let Ok(meta) = entry.path().symlink_metadata() {
                    bytes += meta.len();
                    if meta.is_dir() {
                        pending.push(entry.path());
                    }
                }
                if entries > MAX_ENTRIES || bytes > self.limit_bytes {
                    return true;
                }
            }
        }
        false
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folder_is_private_measured_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let scratch = ScratchDir::create(1000).unwrap();
        let path = scratch.path().to_path_buf();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::create_dir(path.join("sub")).unwrap();
        std::fs::write(path.join("sub/a"), vec![0u8; 900]).unwrap();
        assert!(!scratch.over_limit());
        std::fs::write(path.join("b"), vec![0u8; 200]).unwrap();
        assert!(scratch.over_limit());
        drop(scratch);
        assert!(!path.exists());
    }
}
