//! Makes the objects in the Python component's snapshot immortal, so that a run that only uses
//! them (a builtin, a module's function, a name) does not write to, and so copy, their pages.
//!
//! Why: every fresh instance starts from the snapshot's memory image, and every page a run
//! writes is copied from it and, when the pooled slot is reused, restored or unmapped (wasmtime
//! keeps 32 dirty regions and unmaps the rest, which then fault in again on the next run). Most
//! of CPython's writes to the snapshot were reference counts: `Py_INCREF` on a function or a
//! string the program merely touched. CPython 3.12+ skips the count of an immortal object, one
//! whose count is at least 2**30 on a 32-bit build (PEP 683). Measured on HumanEval canonical
//! ×10 through `verifier grade --jobs 2`: 1.74M → 1.44M page faults, 8% less CPU.
//!
//! How: the guest harness (`guest/sandbox_guest.py`), at the end of the build-time import, walks
//! every object reachable from the cyclic collector's view, keeps them alive for ever (so none is
//! freed before the snapshot is taken), and leaves a table in its memory: a 16-byte magic, the
//! objects' addresses, their types' addresses and a CRC-32. Here the table is found in the
//! snapshot's data segments and each listed object's count is set to CPython's own immortal
//! value (`_Py_IMMORTAL_INITIAL_REFCNT`, 5 << 28), in place in the component's bytes.
//!
//! An address is only written when it still looks like that object: its count lies in a data
//! segment, the next word is one of the listed types, and the count is a live, mortal one
//! (1 to 2**30 - 1). Objects with a finalizer (`__del__`) are not listed by the guest: their
//! finalizer must still run when a program lets go of the last reference.

use wasmparser::{DataKind, Encoding, Operator, Parser, Payload};

/// The table's first 16 bytes (little-endian `u128`). The guest builds them from an integer at
/// build time, so the literal bytes appear nowhere else in its memory (freed copies of the table
/// may; the CRC tells them apart).
const TABLE_MAGIC: u128 = 0x5adb_0c51_77a6_e3f0_c3a9_1d2e_4b18_f657;

/// Names what this module writes; part of the built component's cache key, so that a change
/// here rebuilds components patched by an older version.
pub(crate) const FORMAT: &str = "immortal-refcounts-v2";

/// CPython's `_Py_IMMORTAL_INITIAL_REFCNT` on 32-bit builds.
const IMMORTAL_REFCOUNT: u32 = 5 << 28;

/// Counts at or above this are immortal already (`_Py_IMMORTAL_MINIMUM_REFCNT`).
const IMMORTAL_MINIMUM: u32 = 1 << 30;

/// What [`immortalise`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Immortalised {
    /// Counts set to the immortal value.
    pub patched: usize,
    /// Listed objects already immortal (CPython's static objects, interned strings).
    pub already_immortal: usize,
    /// Listed addresses left alone: the count outside the data segments, or not looking like
    /// the object.
    pub skipped: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImmortalError {
    #[error("the component is not valid WebAssembly: {0}")]
    Parse(String),
    #[error(
        "the component's snapshot holds no valid object table from the guest harness (it \
         writes none unless CPython is 3.12 or later, 32-bit)"
    )]
    NoTable,
}

/// One active data segment of the snapshot: where it lands in linear memory, where its bytes
/// are in the component.
#[derive(Clone, Copy)]
struct Segment {
    address: u64,
    file_offset: usize,
    len: usize,
}

impl Segment {
    fn end(&self) -> u64 {
        self.address + self.len as u64
    }
}

/// Sets the count of every object the guest listed to the immortal value, in place.
pub fn immortalise(component: &mut [u8]) -> Result<Immortalised, ImmortalError> {
    let segments = snapshot_segments(component)?;
    let table = find_table(component, &segments).ok_or(ImmortalError::NoTable)?;
    let types: std::collections::HashSet<u32> = table.types.iter().copied().collect();
    let mut done = Immortalised::default();
    for &address in &table.objects {
        let Some(at) = file_offset_of(&segments, u64::from(address), 4) else {
            done.skipped += 1;
            continue;
        };
        let count = read_u32(component, at);
        // The type word may lie in the next segment (segments split at runs of zeros).
        let kind = read_u32(
            &read_memory(component, &segments, u64::from(address) + 4, 4),
            0,
        );
        if !types.contains(&kind) || count == 0 {
            done.skipped += 1;
        } else if count >= IMMORTAL_MINIMUM {
            done.already_immortal += 1;
        } else {
            component[at..at + 4].copy_from_slice(&IMMORTAL_REFCOUNT.to_le_bytes());
            done.patched += 1;
        }
    }
    Ok(done)
}

/// The active data segments (constant offsets, memory 0) of the core module with the most such
/// data: the one componentize-py's pre-initialisation wrote the snapshot into. Sorted by address.
fn snapshot_segments(bytes: &[u8]) -> Result<Vec<Segment>, ImmortalError> {
    let mut modules: Vec<Vec<Segment>> = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| ImmortalError::Parse(e.to_string()))? {
            Payload::Version {
                encoding: Encoding::Module,
                ..
            } => modules.push(Vec::new()),
            Payload::DataSection(reader) => {
                let Some(module) = modules.last_mut() else {
                    continue;
                };
                for data in reader {
                    let data = data.map_err(|e| ImmortalError::Parse(e.to_string()))?;
                    let DataKind::Active {
                        memory_index: 0,
                        offset_expr,
                    } = data.kind
                    else {
                        continue;
                    };
                    let Ok(Operator::I32Const { value }) =
                        offset_expr.get_operators_reader().read()
                    else {
                        continue;
                    };
                    module.push(Segment {
                        address: u64::from(value as u32),
                        file_offset: data.data.as_ptr() as usize - bytes.as_ptr() as usize,
                        len: data.data.len(),
                    });
                }
            }
            _ => {}
        }
    }
    let mut segments = modules
        .into_iter()
        .max_by_key(|module| module.iter().map(|s| s.len).sum::<usize>())
        .unwrap_or_default();
    segments.sort_by_key(|s| s.address);
    // Valid WebAssembly, but not a snapshot: which bytes win would depend on segment order.
    if segments
        .windows(2)
        .any(|pair| pair[0].end() > pair[1].address)
    {
        return Err(ImmortalError::Parse(
            "the snapshot's data segments overlap".into(),
        ));
    }
    Ok(segments)
}

/// Where `len` bytes at `address` are in the component, when one segment holds them all.
fn file_offset_of(segments: &[Segment], address: u64, len: u64) -> Option<usize> {
    let i = segments
        .partition_point(|s| s.address <= address)
        .checked_sub(1)?;
    let segment = segments[i];
    (address + len <= segment.end())
        .then(|| segment.file_offset + (address - segment.address) as usize)
}

/// `len` bytes of linear memory at `address` as the snapshot sets them (zero between segments).
fn read_memory(bytes: &[u8], segments: &[Segment], address: u64, len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    let end = address + len as u64;
    let first = segments.partition_point(|s| s.end() <= address);
    for segment in segments[first..].iter().take_while(|s| s.address < end) {
        let (lo, hi) = (segment.address.max(address), segment.end().min(end));
        let from = segment.file_offset + (lo - segment.address) as usize;
        out[(lo - address) as usize..(hi - address) as usize]
            .copy_from_slice(&bytes[from..from + (hi - lo) as usize]);
    }
    out
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("four bytes"))
}

/// The guest's table: objects' and types' addresses.
struct Table {
    objects: Vec<u32>,
    types: Vec<u32>,
}

/// The table whose CRC holds (the last one, if ever more than one did).
fn find_table(bytes: &[u8], segments: &[Segment]) -> Option<Table> {
    /// More objects than a 4 GiB memory could hold is not a table.
    const MAX_ENTRIES: u64 = 1 << 28;
    let magic = TABLE_MAGIC.to_le_bytes();
    let mut found = None;
    for segment in segments {
        let data = &bytes[segment.file_offset..segment.file_offset + segment.len];
        for at in memchr::memmem::find_iter(data, &magic) {
            let start = segment.address + (at + magic.len()) as u64;
            let head = read_memory(bytes, segments, start, 8);
            let objects = u64::from(read_u32(&head, 0));
            let types = u64::from(read_u32(&head, 4));
            if objects + types > MAX_ENTRIES {
                continue;
            }
            let body_len = (8 + 4 * (objects + types)) as usize;
            let body = read_memory(bytes, segments, start, body_len);
            let crc = read_u32(&read_memory(bytes, segments, start + body_len as u64, 4), 0);
            if crc32fast::hash(&body) != crc {
                continue;
            }
            let words: Vec<u32> = body[8..]
                .chunks_exact(4)
                .map(|w| u32::from_le_bytes(w.try_into().expect("four bytes")))
                .collect();
            let (objects, types) = words.split_at(objects as usize);
            found = Some(Table {
                objects: objects.to_vec(),
                types: types.to_vec(),
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{ConstExpr, DataSection, MemorySection, MemoryType, Module};

    /// A core module whose memory 0 is set by `segments` (address, bytes).
    fn module_with(segments: &[(u32, Vec<u8>)]) -> Vec<u8> {
        let mut module = Module::new();
        let mut memories = MemorySection::new();
        memories.memory(MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        module.section(&memories);
        let mut data = DataSection::new();
        for (address, bytes) in segments {
            data.active(0, &ConstExpr::i32_const(*address as i32), bytes.clone());
        }
        module.section(&data);
        module.finish()
    }

    fn words(values: &[u32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// The guest's table for `objects` of `types`, as `sandbox_guest.py` writes it.
    fn table(objects: &[u32], types: &[u32]) -> Vec<u8> {
        let mut body = words(&[objects.len() as u32, types.len() as u32]);
        body.extend(words(objects));
        body.extend(words(types));
        let mut table = TABLE_MAGIC.to_le_bytes().to_vec();
        table.extend(&body);
        table.extend(crc32fast::hash(&body).to_le_bytes());
        table
    }

    const TYPE: u32 = 0x900;

    fn count_at(module: &[u8], address: u32) -> u32 {
        let segments = snapshot_segments(module).unwrap();
        read_u32(
            module,
            file_offset_of(&segments, address.into(), 4).unwrap(),
        )
    }

    #[test]
    fn listed_live_objects_become_immortal_and_nothing_else_changes() {
        // Objects at 0x100 (count 3), 0x108 (count 1), 0x110 (already immortal), with a
        // word between them that is not listed.
        let heap = words(&[3, TYPE, 1, TYPE, 7 << 28, TYPE, 2, TYPE]);
        let original = module_with(&[
            (0x100, heap),
            (0x400, table(&[0x100, 0x108, 0x110], &[TYPE])),
        ]);
        let mut module = original.clone();
        let done = immortalise(&mut module).unwrap();
        assert_eq!(
            done,
            Immortalised {
                patched: 2,
                already_immortal: 1,
                skipped: 0
            }
        );
        assert_eq!(count_at(&module, 0x100), IMMORTAL_REFCOUNT);
        assert_eq!(count_at(&module, 0x108), IMMORTAL_REFCOUNT);
        assert_eq!(count_at(&module, 0x110), 7 << 28);
        assert_eq!(
            count_at(&module, 0x118),
            2,
            "an unlisted object keeps its count"
        );
        let changed = original.iter().zip(&module).filter(|(a, b)| a != b).count();
        assert_eq!(
            changed,
            2 * 2,
            "two counts, two bytes each (0x50000000 over 3 and 1)"
        );
    }

    #[test]
    fn addresses_that_do_not_look_like_the_object_are_left_alone() {
        // 0x100: a freed block (first word a free-list link, second a stale type) is caught by
        // its count being zero; 0x108: an unknown type; 0x1fe: a count that straddles the
        // segment's end; 0x800: outside every segment.
        let heap = words(&[0, TYPE, 5, 0x1234]);
        let mut module = module_with(&[
            (0x100, heap),
            (0x110, vec![1; 0xf0]),
            (0x400, table(&[0x100, 0x108, 0x1fe, 0x800], &[TYPE])),
        ]);
        let before = module.clone();
        let done = immortalise(&mut module).unwrap();
        assert_eq!(done.patched, 0);
        assert_eq!(done.skipped, 4);
        assert_eq!(module, before);
    }

    #[test]
    fn an_object_whose_type_word_is_in_the_next_segment_is_still_recognised() {
        let mut module = module_with(&[
            (0x100, words(&[6])),
            (0x104, words(&[TYPE])),
            (0x400, table(&[0x100], &[TYPE])),
        ]);
        assert_eq!(immortalise(&mut module).unwrap().patched, 1);
        assert_eq!(count_at(&module, 0x100), IMMORTAL_REFCOUNT);
    }

    #[test]
    fn overlapping_segments_are_refused_not_a_panic() {
        // One flipped bit in a real component's segment header can make this (red team).
        let mut first = vec![0u8; 0x100];
        first[0x80..0x90].copy_from_slice(&TABLE_MAGIC.to_le_bytes());
        let mut module =
            module_with(&[(0x100, first), (0x180, vec![0; 0x40]), (0x188, vec![0; 4])]);
        assert!(matches!(
            immortalise(&mut module),
            Err(ImmortalError::Parse(_))
        ));
    }

    #[test]
    fn a_table_whose_crc_fails_is_not_used_and_a_later_valid_one_is() {
        let mut stale = table(&[0x100], &[TYPE]);
        let last = stale.len() - 1;
        stale[last] ^= 1;
        let mut module = module_with(&[(0x100, words(&[4, TYPE])), (0x200, stale)]);
        assert_eq!(
            immortalise(&mut module.clone()),
            Err(ImmortalError::NoTable)
        );
        module = module_with(&[
            (0x100, words(&[4, TYPE])),
            (0x200, {
                let mut s = table(&[0x100], &[TYPE]);
                s[20] ^= 1; // a freed copy, overwritten in part
                s
            }),
            (0x300, table(&[0x100], &[TYPE])),
        ]);
        assert_eq!(immortalise(&mut module).unwrap().patched, 1);
        assert_eq!(count_at(&module, 0x100), IMMORTAL_REFCOUNT);
    }

    #[test]
    fn a_table_split_across_segments_is_read_whole() {
        // Segments split where the snapshot has runs of zeros: the table's words may cross one.
        let whole = table(&[0x100], &[TYPE]);
        let (head, tail) = whole.split_at(21);
        let mut module = module_with(&[
            (0x100, words(&[2, TYPE])),
            (0x400, head.to_vec()),
            (0x400 + 21, tail.to_vec()),
        ]);
        assert_eq!(immortalise(&mut module).unwrap().patched, 1);
    }

    #[test]
    fn not_webassembly_is_an_error() {
        let mut bytes = b"not wasm".to_vec();
        assert!(matches!(
            immortalise(&mut bytes),
            Err(ImmortalError::Parse(_))
        ));
    }
}
