//! Byte-level BPE (GPT-2 scheme): bytes map to printable characters, pieces are merged by rank,
//! and special tokens (`<|im_start|>`, ...) are matched whole before anything else.

use std::collections::HashMap;
use std::sync::Mutex;

use super::pretokenize::pretokenize;
use super::Tokenizer;

pub struct BpeTokenizer {
    pub tokens: Vec<String>,
    ids: HashMap<String, u32>,
    ranks: HashMap<(String, String), usize>,
    /// Merge list in rank order, kept for writing `tokenizer.json` back.
    pub merges: Vec<(String, String)>,
    /// Special tokens, longest first, matched verbatim in the input.
    pub special: Vec<(String, u32)>,
    pub eos: u32,
    pub bos: Option<u32>,
    pub split_digits: bool,
    pub chat_template: Option<String>,
    byte_to_char: [char; 256],
    char_to_byte: HashMap<char, u8>,
    cache: Mutex<HashMap<String, Vec<u32>>>,
}

/// GPT-2's reversible map from bytes to printable characters.
fn byte_table() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut extra = 0u32;
    for b in 0..256u32 {
        let printable =
            (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
        table[b as usize] = if printable {
            char::from_u32(b).unwrap()
        } else {
            extra += 1;
            char::from_u32(255 + extra).unwrap()
        };
    }
    table
}

impl BpeTokenizer {
    pub fn new(
        tokens: Vec<String>,
        merges: Vec<(String, String)>,
        special_ids: Vec<u32>,
        eos: u32,
        bos: Option<u32>,
        split_digits: bool,
        chat_template: Option<String>,
    ) -> BpeTokenizer {
        let ids = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let ranks = merges
            .iter()
            .enumerate()
            .map(|(i, m)| (m.clone(), i))
            .collect();
        let mut special: Vec<(String, u32)> = special_ids
            .iter()
            .map(|&i| (tokens[i as usize].clone(), i))
            .collect();
        special.sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
        let byte_to_char = byte_table();
        let char_to_byte = byte_to_char
            .iter()
            .enumerate()
            .map(|(b, &c)| (c, b as u8))
            .collect();
        BpeTokenizer {
            tokens,
            ids,
            ranks,
            merges,
            special,
            eos,
            bos,
            split_digits,
            chat_template,
            byte_to_char,
            char_to_byte,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.ids.get(text).copied()
    }

    /// BPE of one pre-tokenised piece.
    fn encode_piece(&self, piece: &str) -> Vec<u32> {
        if let Some(hit) = self.cache.lock().unwrap().get(piece) {
            return hit.clone();
        }
        let mut symbols: Vec<String> = piece
            .bytes()
            .map(|b| self.byte_to_char[b as usize].to_string())
            .collect();
        loop {
            let best = (0..symbols.len().saturating_sub(1))
                .filter_map(|i| {
                    self.ranks
                        .get(&(symbols[i].clone(), symbols[i + 1].clone()))
                        .map(|&r| (r, i))
                })
                .min();
            let Some((_, i)) = best else { break };
            let merged = format!("{}{}", symbols[i], symbols[i + 1]);
            symbols.splice(i..i + 2, [merged]);
        }
        let mut ids = Vec::with_capacity(symbols.len());
        for s in &symbols {
            match self.ids.get(s) {
                Some(&id) => ids.push(id),
                // A symbol with no id: fall back to its single characters (bytes always exist).
                None => ids.extend(
                    s.chars()
                        .filter_map(|c| self.ids.get(&c.to_string()).copied()),
                ),
            }
        }
        self.cache
            .lock()
            .unwrap()
            .insert(piece.to_string(), ids.clone());
        ids
    }
}

impl Tokenizer for BpeTokenizer {
    fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            // The earliest special token in the rest, longest first on ties.
            let next = self
                .special
                .iter()
                .filter_map(|(s, id)| rest.find(s.as_str()).map(|at| (at, s.len(), *id)))
                .min_by_key(|&(at, len, _)| (at, std::cmp::Reverse(len)));
            let (plain, special) = match next {
                Some((at, len, id)) => (&rest[..at], Some((len, id, at))),
                None => (rest, None),
            };
            for piece in pretokenize(plain, self.split_digits) {
                out.extend(self.encode_piece(piece));
            }
            match special {
                Some((len, id, at)) => {
                    out.push(id);
                    rest = &rest[at + len..];
                }
                None => break,
            }
        }
        out
    }

    fn decode(&self, tokens: &[u32]) -> String {
        let mut bytes = Vec::new();
        for &t in tokens {
            if self.special.iter().any(|(_, id)| *id == t) {
                continue;
            }
            if let Some(s) = self.tokens.get(t as usize) {
                bytes.extend(s.chars().filter_map(|c| self.char_to_byte.get(&c).copied()));
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn stop_tokens(&self) -> Vec<u32> {
        vec![self.eos]
    }

    fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    fn save(&self, dir: &std::path::Path) -> anyhow::Result<()> {
        crate::load::hf::save_bpe_tokenizer(dir, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> BpeTokenizer {
        let table = byte_table();
        let mut tokens: Vec<String> = vec!["<|end|>".into()];
        tokens.extend(table.iter().map(|c| c.to_string()));
        tokens.extend(["he".into(), "ll".into(), "hell".into(), "Ġw".into()]);
        let merges = vec![
            ("h".into(), "e".into()),
            ("l".into(), "l".into()),
            ("he".into(), "ll".into()),
            ("Ġ".into(), "w".into()),
        ];
        BpeTokenizer::new(tokens, merges, vec![0], 0, None, true, None)
    }

    #[test]
    fn merges_by_rank_and_round_trips() {
        let t = tiny();
        let ids = t.encode("hello world<|end|>");
        assert_eq!(t.tokens[ids[0] as usize], "hell");
        assert_eq!(*ids.last().unwrap(), 0);
        assert!(ids.iter().any(|&i| t.tokens[i as usize] == "Ġw"));
        assert_eq!(t.decode(&ids), "hello world");
        assert_eq!(t.decode(&t.encode("naïve 42 ✓")), "naïve 42 ✓");
    }
}
