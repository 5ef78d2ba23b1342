//! Puts back, exactly and before wasmtime's own reset, the pages a run wrote in the Python
//! runtime's memory image, so that the next fresh instance in that pooled slot neither copies
//! nor faults them in again.
//!
//! Why: wasmtime's pooled reset finds a slot's dirty pages with `PAGEMAP_SCAN` but keeps only
//! the first 32 dirty regions (copying them back) and unmaps the rest of the memory; a
//! HumanEval run writes 250–370 separate regions of CPython's 14 MB heap image per instance, so
//! every run faulted ~1,200 pages a sample back in, copied on write, charged, and unmapped them
//! again (a quarter of the CPU of a HumanEval sample was page faults and `madvise`).
//!
//! How: each mapping of the image (one per pooled slot that has held a Python instance) is
//! registered with a userfaultfd in asynchronous write-protect mode (Linux 6.7+). The kernel
//! then keeps, per page, whether it was written since it was last protected, at the cost of one
//! light fault on the first write (no copy, no message to read: the kernel lifts the protection
//! itself). After a run, [`WrittenPages::restore`] asks for the written pages (`PAGEMAP_SCAN`'s
//! fast path for exactly that question), copies each back from the image file, and protects
//! them again with a second scan, which lists what it protects: if that is not exactly the
//! pages copied back, they are copied back again (lifting their protection) and the mapping
//! is left to wasmtime. wasmtime's reset, which follows when the run's stores are dropped, sees no
//! written page in the image and leaves it mapped.
//!
//! The invariant that keeps every instance fresh: **a page is write-protected only while it
//! holds its image's bytes.** Protection is only ever applied right after the pages that were
//! written have been copied back, and a write anywhere lifts it; wasmtime resets every page that
//! is not protected as it always did. So a run's writes are undone either here or by wasmtime,
//! and nothing else changes what an instance starts from. Copying back a page that was not in
//! use (an idle slot, already reset by wasmtime) writes the bytes it already holds. That
//! argument needs one thing from the caller: no instance of this process runs during
//! `restore`, which is why only the pool's workers (one run at a time) use it.
//!
//! Where the kernel or the process's seccomp filter refuses a userfaultfd, [`WrittenPages::new`]
//! gives `None` and wasmtime's reset does all the work, as before.

use std::collections::HashSet;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

const PAGE_BYTES: usize = 4096;

/// `struct page_region` of `PAGEMAP_SCAN` (linux/fs.h).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct PageRegion {
    start: u64,
    end: u64,
    categories: u64,
}

/// `struct pm_scan_arg` of `PAGEMAP_SCAN` (linux/fs.h).
#[repr(C)]
#[derive(Default)]
struct PmScanArg {
    size: u64,
    flags: u64,
    start: u64,
    end: u64,
    walk_end: u64,
    vec: u64,
    vec_len: u64,
    max_pages: u64,
    category_inverted: u64,
    category_mask: u64,
    category_anyof_mask: u64,
    return_mask: u64,
}

/// `_IOWR('f', 16, struct pm_scan_arg)`.
const PAGEMAP_SCAN: libc::c_ulong = 0xC060_6610;
const PAGE_IS_WRITTEN: u64 = 1 << 1;
/// Write-protect the pages that match (the written ones: protection clears "written").
const PM_SCAN_WP_MATCHING: u64 = 1 << 0;
/// Fail with `EPERM` on a mapping not registered for asynchronous write-protection.
const PM_SCAN_CHECK_WPASYNC: u64 = 1 << 1;

/// `struct uffdio_api` and `struct uffdio_register` (linux/userfaultfd.h).
#[repr(C)]
struct UffdioApi {
    api: u64,
    features: u64,
    ioctls: u64,
}
#[repr(C)]
struct UffdioRegister {
    start: u64,
    len: u64,
    mode: u64,
    ioctls: u64,
}
const UFFDIO_API: libc::c_ulong = 0xC018_AA3F;
const UFFDIO_REGISTER: libc::c_ulong = 0xC020_AA00;
const UFFD_API: u64 = 0xAA;
const UFFD_FEATURE_WP_ASYNC: u64 = 1 << 15;
/// Faults from user mode only: all this needs, and what an unprivileged process may ask for
/// where `vm.unprivileged_userfaultfd` is 0.
const UFFD_USER_MODE_ONLY: libc::c_int = 1;
const UFFDIO_REGISTER_MODE_WP: u64 = 1 << 1;

/// The image file, mapped read-only: the bytes every page is put back to.
struct Image {
    bytes: *const u8,
    len: usize,
    device: u64,
    inode: u64,
}

impl Drop for Image {
    fn drop(&mut self) {
        // SAFETY: `bytes` and `len` are the mapping made in `Image::open` and used nowhere else.
        unsafe { libc::munmap(self.bytes as *mut libc::c_void, self.len) };
    }
}

impl Image {
    fn open(path: &Path) -> Option<Image> {
        let file = File::open(path).ok()?;
        let metadata = file.metadata().ok()?;
        let len = usize::try_from(metadata.len())
            .ok()
            .filter(|len| *len > 0)?;
        // SAFETY: a fresh read-only shared mapping of a file we opened; nothing aliases it
        // mutably. The cache's files are never written in place (set-up renames new ones in).
        let bytes = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if bytes == libc::MAP_FAILED {
            return None;
        }
        Some(Image {
            bytes: bytes as *const u8,
            len,
            device: metadata.dev(),
            inode: metadata.ino(),
        })
    }
}

/// One private, writable mapping of the image (a pooled slot's linear memory).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct ImageMapping {
    start: usize,
    end: usize,
    /// Where in the file the mapping starts.
    offset: usize,
}

/// See the module's documentation.
pub(crate) struct WrittenPages {
    userfaultfd: OwnedFd,
    pagemap: File,
    image: Image,
    registered: HashSet<ImageMapping>,
    regions: Vec<PageRegion>,
}

// SAFETY: `Image::bytes` is a read-only mapping owned by this value; nothing in it is tied to
// the thread that made it.
unsafe impl Send for WrittenPages {}

impl WrittenPages {
    /// Tracks the pages written in this process's mappings of `image_path`; `None` where the
    /// kernel (before 6.7) or a seccomp filter refuses a userfaultfd with asynchronous
    /// write-protection, or the file cannot be mapped.
    pub(crate) fn new(image_path: &Path) -> Option<WrittenPages> {
        // SAFETY: the raw syscall with its documented flags; the result is checked.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_userfaultfd,
                libc::O_CLOEXEC | libc::O_NONBLOCK | UFFD_USER_MODE_ONLY,
            )
        };
        let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
        // SAFETY: `fd` was just returned to us open and is owned by nothing else.
        let userfaultfd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut api = UffdioApi {
            api: UFFD_API,
            features: UFFD_FEATURE_WP_ASYNC,
            ioctls: 0,
        };
        // SAFETY: `api` is a valid `struct uffdio_api` for the duration of the call.
        if unsafe { libc::ioctl(userfaultfd.as_raw_fd(), UFFDIO_API, &mut api) } != 0 {
            return None;
        }
        Some(WrittenPages {
            userfaultfd,
            pagemap: File::open("/proc/self/pagemap").ok()?,
            image: Image::open(image_path)?,
            registered: HashSet::new(),
            regions: vec![PageRegion::default(); 1024],
        })
    }

    /// Copies back every page written in the image's mappings since the last call and
    /// protects it again; returns how many pages were copied. A mapping that cannot be
    /// tracked (a failed ioctl) is left to wasmtime's reset.
    ///
    /// # Safety
    /// No instance of this process may run, and no borrow of guest memory may be alive, until
    /// this returns: the pages are written behind wasmtime's back (with the bytes that wasmtime
    /// would itself put there).
    pub(crate) unsafe fn restore(&mut self) -> usize {
        let mappings = self.mappings();
        self.registered.retain(|mapping| mappings.contains(mapping));
        let mut restored = 0;
        for mapping in mappings {
            if !self.registered.contains(&mapping) {
                if !self.register(mapping) {
                    continue;
                }
                self.registered.insert(mapping);
            }
            // SAFETY: passed on from our caller.
            match unsafe { self.restore_mapping(mapping) } {
                Some(pages) => restored += pages,
                // Not tracked this time: not registered after all (wasmtime mapped the image
                // afresh at the same place), or a scan that failed or disagreed. Its written
                // pages stay unprotected, for wasmtime to reset; it is registered again next
                // time.
                None => {
                    self.registered.remove(&mapping);
                }
            }
        }
        restored
    }

    /// # Safety
    /// As [`WrittenPages::restore`].
    unsafe fn restore_mapping(&mut self, mapping: ImageMapping) -> Option<usize> {
        if mapping.offset.checked_add(mapping.end - mapping.start)? > self.image.len {
            return None;
        }
        let image = self.image.bytes;
        // SAFETY: `region` lies inside the mapping (checked by `each_written`), and the
        // mapping inside the file (checked above); the destination is a writable private
        // mapping nothing else uses now (our caller's promise); the two never overlap (one is
        // a shared mapping of the file, the other a private one).
        let copy_back = |(start, end): (usize, usize)| unsafe {
            let from = mapping.offset + (start - mapping.start);
            std::ptr::copy_nonoverlapping(image.add(from), start as *mut u8, end - start);
        };
        let restored = self.each_written(mapping, 0, copy_back)?;
        // Only now, with every written page holding the image's bytes again, protection: the
        // kernel protects the pages it lists, which must be the very pages just copied back.
        let mut protected = Vec::new();
        let flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC;
        let protected_pages = self.each_written(mapping, flags, |region| protected.push(region));
        if protected_pages != Some(restored) {
            // Never seen: a page written between the two scans, or one the first scan did
            // not list. Protected or not, each is copied back now; the copy lifts its
            // protection again, so wasmtime's reset sees it too.
            protected.into_iter().for_each(copy_back);
            return None;
        }
        Some(restored)
    }

    /// Calls `each` on every run of pages of the mapping written since they were last
    /// protected (protecting them as they are listed when `flags` has `PM_SCAN_WP_MATCHING`);
    /// returns how many pages. `None` if a scan fails or lists a run outside the mapping.
    fn each_written(
        &mut self,
        mapping: ImageMapping,
        flags: u64,
        mut each: impl FnMut((usize, usize)),
    ) -> Option<usize> {
        let mut pages = 0;
        let mut at = mapping.start;
        while at < mapping.end {
            let (found, walk_end) = self.written(at, mapping.end, flags)?;
            // Where the walk stopped, or past the last run listed: when the output filled,
            // Linux 6.18 was seen to report a stop point behind runs it had listed (a red-team
            // probe with 4,096 runs), which would list them again.
            let mut next = walk_end;
            for region in &self.regions[..found] {
                let (start, end) = (region.start as usize, region.end as usize);
                if start < mapping.start.max(at) || end > mapping.end || start >= end {
                    return None;
                }
                each((start, end));
                pages += (end - start) / PAGE_BYTES;
                next = next.max(end);
            }
            if next <= at {
                return None;
            }
            at = next;
        }
        Some(pages)
    }

    /// One `PAGEMAP_SCAN` for the pages of `start..end` written since they were last
    /// protected, the kernel's fast path for "written" alone (with `PM_SCAN_WP_MATCHING`,
    /// also protecting the ones it lists). Fills `self.regions`; returns how many and where
    /// the walk stopped (before `end` when the output filled).
    fn written(&mut self, start: usize, end: usize, flags: u64) -> Option<(usize, usize)> {
        let mut scan = PmScanArg {
            size: std::mem::size_of::<PmScanArg>() as u64,
            flags,
            start: start as u64,
            end: end as u64,
            vec: self.regions.as_mut_ptr() as u64,
            vec_len: self.regions.len() as u64,
            category_mask: PAGE_IS_WRITTEN,
            return_mask: PAGE_IS_WRITTEN,
            ..Default::default()
        };
        // SAFETY: `scan` is a valid `struct pm_scan_arg` whose output vector is `regions`,
        // with its length.
        let found = unsafe { libc::ioctl(self.pagemap.as_raw_fd(), PAGEMAP_SCAN, &mut scan) };
        let found = usize::try_from(found).ok()?.min(self.regions.len());
        Some((found, scan.walk_end as usize))
    }

    fn register(&self, mapping: ImageMapping) -> bool {
        let mut register = UffdioRegister {
            start: mapping.start as u64,
            len: (mapping.end - mapping.start) as u64,
            mode: UFFDIO_REGISTER_MODE_WP,
            ioctls: 0,
        };
        // SAFETY: `register` is a valid `struct uffdio_register` for the duration of the call.
        unsafe { libc::ioctl(self.userfaultfd.as_raw_fd(), UFFDIO_REGISTER, &mut register) == 0 }
    }

    /// This process's private, writable mappings of the image file (by device and inode, so a
    /// file put in its place since is not taken for it).
    fn mappings(&self) -> Vec<ImageMapping> {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        maps.lines()
            .filter_map(|line| parse_mapping(line, self.image.device, self.image.inode))
            .collect()
    }
}

/// One line of `/proc/self/maps` (`start-end perms offset major:minor inode path`) if it is a
/// private, writable mapping of the file with `device` and `inode`.
fn parse_mapping(line: &str, device: u64, inode: u64) -> Option<ImageMapping> {
    let mut fields = line.split_ascii_whitespace();
    let (range, perms, offset, dev, ino) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    if perms != "rw-p" || ino.parse::<u64>().ok()? != inode {
        return None;
    }
    let (major, minor) = dev.split_once(':')?;
    let (major, minor) = (
        u32::from_str_radix(major, 16).ok()?,
        u32::from_str_radix(minor, 16).ok()?,
    );
    if libc::makedev(major, minor) != device {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    let mapping = ImageMapping {
        start: usize::from_str_radix(start, 16).ok()?,
        end: usize::from_str_radix(end, 16).ok()?,
        offset: usize::from_str_radix(offset, 16).ok()?,
    };
    let aligned = |value: usize| value.is_multiple_of(PAGE_BYTES);
    (mapping.start < mapping.end && aligned(mapping.start) && aligned(mapping.end))
        .then_some(mapping)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const PAGES: usize = 16;

    /// A file of `pages` pages, each filled with a byte of its own, removed on drop.
    struct ImageFile(std::path::PathBuf, usize);

    impl ImageFile {
        fn new(name: &str) -> ImageFile {
            Self::with_pages(name, PAGES)
        }

        fn with_pages(name: &str, pages: usize) -> ImageFile {
            let path = std::env::temp_dir()
                .join(format!("written-pages-{}-{name}.img", std::process::id()));
            let mut file = File::create(&path).unwrap();
            for page in 0..pages {
                file.write_all(&[page_byte(page); PAGE_BYTES]).unwrap();
            }
            ImageFile(path, pages)
        }
    }

    fn page_byte(page: usize) -> u8 {
        (page % 251) as u8 + 1
    }

    impl Drop for ImageFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// A private, writable mapping of the whole file, as a pooled slot maps its image.
    struct Slot(*mut u8, usize);

    impl Slot {
        fn map(image: &ImageFile, at: Option<*mut u8>) -> Slot {
            let file = File::open(&image.0).unwrap();
            let fixed = at.map_or(0, |_| libc::MAP_FIXED);
            // SAFETY: a fresh private mapping of our own test file (or over our own slot).
            let at = unsafe {
                libc::mmap(
                    at.unwrap_or(std::ptr::null_mut()) as *mut libc::c_void,
                    image.1 * PAGE_BYTES,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | fixed,
                    file.as_raw_fd(),
                    0,
                )
            };
            assert_ne!(at, libc::MAP_FAILED);
            Slot(at as *mut u8, image.1)
        }

        fn write(&self, page: usize) {
            // SAFETY: inside our own mapping.
            unsafe { self.0.add(page * PAGE_BYTES + 7).write_volatile(0xEE) };
        }

        fn is_pristine(&self) -> bool {
            // SAFETY: inside our own mapping, which nothing writes meanwhile.
            let bytes = unsafe { std::slice::from_raw_parts(self.0, self.1 * PAGE_BYTES) };
            bytes
                .chunks(PAGE_BYTES)
                .enumerate()
                .all(|(page, bytes)| bytes.iter().all(|byte| *byte == page_byte(page)))
        }
    }

    impl Drop for Slot {
        fn drop(&mut self) {
            // SAFETY: our own mapping.
            unsafe { libc::munmap(self.0 as *mut libc::c_void, self.1 * PAGE_BYTES) };
        }
    }

    /// The tracker; `None` only where it may be refused: Linux before 6.7, or a seccomp filter
    /// (a container's default one refuses `userfaultfd`). CI and this project's machines run
    /// 6.7+ without a filter, so there the tests check it fully.
    fn tracker(image: &ImageFile) -> Option<WrittenPages> {
        let tracker = WrittenPages::new(&image.0);
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let filtered = status
            .lines()
            .any(|line| line.starts_with("Seccomp:") && line.trim_end() != "Seccomp:\t0");
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let mut version = release
            .split(['.', '-'])
            .map(|part| part.parse::<u32>().unwrap_or(0));
        let recent = (version.next().unwrap_or(0), version.next().unwrap_or(0)) >= (6, 7);
        if recent && !filtered {
            assert!(
                tracker.is_some(),
                "Linux {release} without seccomp refused the tracker"
            );
        }
        tracker
    }

    /// A slot of a fresh image of `pages` pages, with the tracker already past its first
    /// restore (which registers the slot); `None` where the tracker may be refused.
    fn tracked_slot(name: &str, pages: usize) -> Option<(ImageFile, Slot, WrittenPages)> {
        let image = ImageFile::with_pages(name, pages);
        let slot = Slot::map(&image, None);
        let mut tracker = tracker(&image)?;
        slot.write(0);
        // SAFETY (all `restore` calls in these tests): nothing else writes these mappings.
        unsafe { tracker.restore() };
        assert!(slot.is_pristine());
        Some((image, slot, tracker))
    }

    #[test]
    fn the_pages_written_since_the_last_restore_and_only_they_are_copied_back() {
        let Some((_image, slot, mut tracker)) = tracked_slot("exact", PAGES) else {
            return;
        };
        assert_eq!(unsafe { tracker.restore() }, 0);
        for page in [2, 3, 9] {
            slot.write(page);
        }
        assert!(!slot.is_pristine());
        assert_eq!(unsafe { tracker.restore() }, 3);
        assert!(slot.is_pristine());
        slot.write(9);
        slot.write(9);
        assert_eq!(unsafe { tracker.restore() }, 1);
        assert!(slot.is_pristine());
    }

    /// More separate runs of written pages than one scan's output holds (1,024): each is
    /// copied back once, and all are protected.
    #[test]
    fn thousands_of_separate_written_runs_are_each_copied_back_once() {
        let Some((_image, slot, mut tracker)) = tracked_slot("many", 8_192) else {
            return;
        };
        let written: Vec<usize> = (0..8_192).step_by(2).chain([8_191]).collect();
        for _round in 0..2 {
            written.iter().for_each(|page| slot.write(*page));
            assert_eq!(unsafe { tracker.restore() }, written.len());
            assert!(slot.is_pristine());
            assert_eq!(unsafe { tracker.restore() }, 0);
        }
    }

    #[test]
    fn a_slot_mapped_afresh_at_the_same_place_is_tracked_again() {
        let Some((image, slot, mut tracker)) = tracked_slot("remapped", PAGES) else {
            return;
        };
        // What wasmtime does when a slot takes an image afresh: a new mapping over the old one,
        // which no userfaultfd knows.
        let again = Slot::map(&image, Some(slot.0));
        std::mem::forget(slot);
        again.write(5);
        unsafe { tracker.restore() };
        assert!(again.is_pristine());
        again.write(6);
        unsafe { tracker.restore() };
        assert!(again.is_pristine());
        again.write(6);
        assert_eq!(unsafe { tracker.restore() }, 1);
        assert!(again.is_pristine());
    }

    #[test]
    fn mappings_of_other_files_are_left_as_written() {
        let (image, other) = (ImageFile::new("tracked"), ImageFile::new("other"));
        let (slot, other_slot) = (Slot::map(&image, None), Slot::map(&other, None));
        let Some(mut tracker) = tracker(&image) else {
            return;
        };
        slot.write(1);
        other_slot.write(1);
        unsafe { tracker.restore() };
        assert!(slot.is_pristine());
        assert!(!other_slot.is_pristine());
    }

    #[test]
    fn only_private_writable_mappings_of_the_file_are_taken() {
        let device = libc::makedev(0xfd, 0x01);
        let line = |perms: &str, inode: u64| {
            format!("7f0000000000-7f0000004000 {perms} 00003000 fd:01 {inode}  /c/p.cwasm")
        };
        let mapping = parse_mapping(&line("rw-p", 42), device, 42).unwrap();
        assert_eq!(
            (mapping.start, mapping.end, mapping.offset),
            (0x7f00_0000_0000, 0x7f00_0000_4000, 0x3000)
        );
        assert!(parse_mapping(&line("r--p", 42), device, 42).is_none());
        assert!(parse_mapping(&line("rw-s", 42), device, 42).is_none());
        assert!(parse_mapping(&line("rw-p", 43), device, 42).is_none());
        assert!(parse_mapping(&line("rw-p", 42), libc::makedev(8, 1), 42).is_none());
        assert!(parse_mapping("7f00-7f01 rw-p 0 fd:01 42", device, 42).is_none());
    }
}
