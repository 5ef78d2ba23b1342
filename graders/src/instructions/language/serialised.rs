//! langdetect's serialised factory (`LDF1`, what the crate's `DetectorFactory::to_bytes`
//! writes): the sum mode and Unicode version it reproduces, the languages, then each n-gram's
//! packed characters, its row's length and its `(language, probability)` slots, all
//! little-endian. `build.rs` includes this module too: it rewrites the crate's bytes with the
//! rows most frequent first, so that loading them at run time needs no sort.

/// A reader of the little-endian fields.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.bytes.split_at_checked(n)?;
        self.bytes = rest;
        Some(head)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// Everything before the rows.
pub struct Header<'a> {
    pub sum_mode: u8,
    pub unicode: u8,
    pub languages: Vec<&'a str>,
}

/// One n-gram's row as serialised.
#[derive(Clone, Copy)]
pub struct SerialisedRow<'a> {
    /// The n-gram's characters, 21 bits each, each plus one.
    pub key: u64,
    /// The length of langdetect's probability list for it (a row shorter than the languages
    /// raises IndexError in the walk).
    pub len: u32,
    /// Twelve bytes a slot: the language (u32), the probability (f64 bits).
    slots: &'a [u8],
}

impl SerialisedRow<'_> {
    pub fn slots(&self) -> impl ExactSizeIterator<Item = (u32, f64)> + '_ {
        self.slots.chunks_exact(12).map(|slot| {
            let (language, probability) = slot.split_at(4);
            (
                u32::from_le_bytes(language.try_into().expect("four bytes")),
                f64::from_bits(u64::from_le_bytes(
                    probability.try_into().expect("eight bytes"),
                )),
            )
        })
    }

    /// The largest probability any language has for the n-gram.
    #[allow(dead_code, reason = "build.rs orders the rows by it")]
    pub fn largest(&self) -> f64 {
        self.slots().map(|(_, p)| p).fold(0.0, f64::max)
    }
}

/// The header and the rows of `bytes`, or `None` where they are not `LDF1`.
pub fn read(bytes: &[u8]) -> Option<(Header<'_>, Vec<SerialisedRow<'_>>)> {
    let mut r = Reader { bytes };
    if r.take(4)? != b"LDF1" {
        return None;
    }
    let sum_mode = r.take(1)?[0];
    let unicode = r.take(1)?[0];
    let languages = (0..r.u32()?)
        .map(|_| {
            let len = r.u32()? as usize;
            std::str::from_utf8(r.take(len)?).ok()
        })
        .collect::<Option<Vec<&str>>>()?;
    let count = r.u32()? as usize;
    let mut rows = Vec::with_capacity(count.min(bytes.len() / 16));
    for _ in 0..count {
        let key = r.u64()?;
        let len = r.u32()?;
        let slots = r.u32()? as usize;
        rows.push(SerialisedRow {
            key,
            len,
            slots: r.take(slots.checked_mul(12)?)?,
        });
    }
    r.bytes.is_empty().then_some((
        Header {
            sum_mode,
            unicode,
            languages,
        },
        rows,
    ))
}

/// The bytes `read` reads back as `header` and `rows`.
#[allow(dead_code, reason = "build.rs writes the file")]
pub fn write(header: &Header, rows: &[SerialisedRow]) -> Vec<u8> {
    let mut out = b"LDF1".to_vec();
    out.extend([header.sum_mode, header.unicode]);
    out.extend((header.languages.len() as u32).to_le_bytes());
    for language in &header.languages {
        out.extend((language.len() as u32).to_le_bytes());
        out.extend(language.as_bytes());
    }
    out.extend((rows.len() as u32).to_le_bytes());
    for row in rows {
        out.extend(row.key.to_le_bytes());
        out.extend(row.len.to_le_bytes());
        out.extend(((row.slots.len() / 12) as u32).to_le_bytes());
        out.extend(row.slots);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_wrote_the_crates_rows_most_frequent_first() {
        let crates = langdetect::DetectorFactory::builtin().to_bytes();
        let (crates_header, crates_rows) = read(&crates).unwrap();
        let ours = super::super::SERIALISED;
        let (header, rows) = read(ours).unwrap();
        assert_eq!(header.languages, crates_header.languages);
        assert_eq!(
            (header.sum_mode, header.unicode),
            (crates_header.sum_mode, crates_header.unicode)
        );
        assert!(rows.windows(2).all(|w| w[0].largest() >= w[1].largest()));
        let mut sorted = crates_rows.clone();
        sorted.sort_by(|a, b| b.largest().total_cmp(&a.largest()));
        assert_eq!(write(&header, &sorted), ours);
    }
}
