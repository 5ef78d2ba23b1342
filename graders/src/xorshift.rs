//! A small seeded generator (xorshift64): the math grader's probe points, and the tests that
//! stitch random texts from pieces, so that a failure reproduces from its seed.

pub(crate) struct Xorshift(u64);

impl Xorshift {
    /// A generator from a non-zero seed (zero would stay zero).
    pub(crate) fn new(seed: u64) -> Xorshift {
        Xorshift(seed.max(1))
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (`n` > 0).
    #[cfg(test)]
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Up to `max_pieces - 1` pieces, each drawn from `pieces`, run together.
    #[cfg(test)]
    pub(crate) fn text(&mut self, pieces: &[&str], max_pieces: usize) -> String {
        let n = self.below(max_pieces);
        (0..n).map(|_| pieces[self.below(pieces.len())]).collect()
    }
}
