//! "Would Python's `json.loads` accept this text?", for IFEval's `json_format` check.
//!
//! Hand-written because `serde_json` disagrees with Python exactly where model output goes
//! wrong: Python accepts `NaN`, `Infinity` and `-Infinity`, lone surrogate escapes (`"\ud800"`)
//! and numbers that overflow a double (`1e400`), and rejects integers of more than 4,300 digits
//! (its int-conversion limit). This recognizer builds nothing; it only answers yes or no.

/// Python refuses to convert longer digit strings to `int` (`sys.int_info.default_max_str_digits`).
const PY_INT_MAX_DIGITS: usize = 4300;
/// Nesting beyond this makes Python raise `RecursionError`; we answer "not JSON" instead.
const MAX_DEPTH: usize = 900;

/// True when `json.loads(text)` succeeds.
pub fn loads_ok(text: &str) -> bool {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        at: 0,
    };
    parser.skip_ws();
    parser.value(0).is_some() && {
        parser.skip_ws();
        parser.at == parser.bytes.len()
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, literal: &str) -> Option<()> {
        if self.bytes[self.at..].starts_with(literal.as_bytes()) {
            self.at += literal.len();
            Some(())
        } else {
            None
        }
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.string(),
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'n' => self.eat("null"),
            b't' => self.eat("true"),
            b'f' => self.eat("false"),
            b'N' => self.eat("NaN"),
            b'I' => self.eat("Infinity"),
            b'-' if self.bytes[self.at..].starts_with(b"-Infinity") => self.eat("-Infinity"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        self.at - start
    }

    /// `-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?`; a fraction or exponent that does not complete
    /// is left unread (Python then fails on the extra data, as we do).
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let integer_digits = match self.peek()? {
            b'0' => {
                self.at += 1;
                1
            }
            b'1'..=b'9' => self.digits(),
            _ => return None,
        };
        let mut is_float = false;
        if self.peek() == Some(b'.') && matches!(self.bytes.get(self.at + 1), Some(b'0'..=b'9')) {
            self.at += 1;
            self.digits();
            is_float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let mark = self.at;
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if self.digits() == 0 {
                self.at = mark;
            } else {
                is_float = true;
            }
        }
        (is_float || integer_digits <= PY_INT_MAX_DIGITS).then_some(())
    }

    fn string(&mut self) -> Option<()> {
        self.at += 1;
        loop {
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    return Some(());
                }
                b'\\' => {
                    self.at += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 1,
                        b'u' => {
                            let hex = self.bytes.get(self.at + 1..self.at + 5)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.at += 5;
                        }
                        _ => return None,
                    }
                }
                0..=0x1f => return None,
                _ => self.at += 1,
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        self.at += 1;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Some(());
        }
        loop {
            self.value(depth + 1)?;
            self.skip_ws();
            match self.peek()? {
                b',' => {
                    self.at += 1;
                    self.skip_ws();
                }
                b']' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn object(&mut self, depth: usize) -> Option<()> {
        self.at += 1;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Some(());
        }
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            self.string()?;
            self.skip_ws();
            if self.peek()? != b':' {
                return None;
            }
            self.at += 1;
            self.skip_ws();
            self.value(depth + 1)?;
            self.skip_ws();
            match self.peek()? {
                b',' => {
                    self.at += 1;
                    self.skip_ws();
                }
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::loads_ok;

    #[test]
    fn accepts_what_python_accepts() {
        for ok in [
            "{}",
            " [1, 2.5e3, -0, NaN, -Infinity] ",
            "\"str\"",
            "3",
            r#"{"a": "\ud800", "b": 1e400}"#,
            "null",
        ] {
            assert!(loads_ok(ok), "{ok}");
        }
        for bad in [
            "",
            "{'a': 1}",
            "[1,]",
            "01",
            "1.",
            "{\"a\" 1}",
            "\"tab\tin string\"",
            "[1] x",
        ] {
            assert!(!loads_ok(bad), "{bad}");
        }
        assert!(!loads_ok(&"1".repeat(4301)));
        assert!(loads_ok(&"1".repeat(4300)));
    }
}
