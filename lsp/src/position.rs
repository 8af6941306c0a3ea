//! Byte offsets ⇄ LSP positions.
//!
//! The compiler's spans are byte offsets; LSP positions are a line and a column counted
//! in UTF-16 code units (the protocol's default encoding, the one every client supports).
//! A line ends at `\n`, `\r\n` or a lone `\r`, as the protocol says. Every conversion
//! clamps: a position past the end of its line is the line's end, one inside a character
//! (the middle of a surrogate pair) is that character's start, and an offset inside a
//! multi-byte character is that character's start. So no input can make a conversion
//! fail or slice a string off a character boundary.

use lsp_types::{Position, Range};

/// Where every line of one text starts.
#[derive(Debug, Clone)]
pub struct LineIndex {
    /// Byte offset of the first character of each line; `starts[0] == 0`.
    starts: Vec<usize>,
    len: usize,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        let mut at = 0;
        while at < bytes.len() {
            match bytes[at] {
                b'\n' => starts.push(at + 1),
                b'\r' if bytes.get(at + 1) != Some(&b'\n') => starts.push(at + 1),
                _ => {}
            }
            at += 1;
        }
        LineIndex {
            starts,
            len: text.len(),
        }
    }

    /// The byte range of line `line` without its terminator.
    fn line_bounds(&self, text: &str, line: usize) -> (usize, usize) {
        let start = self.starts[line];
        let mut end = self.starts.get(line + 1).copied().unwrap_or(self.len);
        let bytes = text.as_bytes();
        if end > start && bytes[end - 1] == b'\n' {
            end -= 1;
        }
        if end > start && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        (start, end)
    }

    /// The LSP position of byte `offset` (clamped to the text and rounded down to a
    /// character boundary).
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let mut offset = offset.min(self.len);
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|s| *s <= offset) - 1;
        let (start, end) = self.line_bounds(text, line);
        // An offset between `\r` and `\n` belongs to the end of its line.
        let column: usize = text[start..offset.min(end)]
            .chars()
            .map(char::len_utf16)
            .sum();
        Position::new(line as u32, column as u32)
    }

    /// The byte offset of an LSP position (clamped to its line, and to the last line).
    pub fn offset(&self, text: &str, position: Position) -> usize {
        let line = position.line as usize;
        if line >= self.starts.len() {
            return self.len;
        }
        let (start, end) = self.line_bounds(text, line);
        let mut units = 0usize;
        for (i, c) in text[start..end].char_indices() {
            let next = units + c.len_utf16();
            if next > position.character as usize {
                return start + i;
            }
            units = next;
        }
        end
    }

    pub fn range(&self, text: &str, start: usize, end: usize) -> Range {
        Range::new(self.position(text, start), self.position(text, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_utf16_units() {
        // `é` is 2 bytes and 1 unit, `🚀` 4 bytes and 2 units.
        let text = "a\n é🚀x\n";
        let idx = LineIndex::new(text);
        let x = text.find('x').unwrap();
        assert_eq!(idx.position(text, x), Position::new(1, 4));
        assert_eq!(idx.offset(text, Position::new(1, 4)), x);
        // Inside the surrogate pair: the rocket's start.
        let rocket = text.find('🚀').unwrap();
        assert_eq!(idx.offset(text, Position::new(1, 3)), rocket);
        // Inside the rocket's bytes: its start.
        assert_eq!(idx.position(text, rocket + 2), Position::new(1, 2));
    }

    #[test]
    fn every_line_terminator_ends_a_line_and_positions_clamp() {
        let text = "ab\r\ncd\ref\n";
        let idx = LineIndex::new(text);
        assert_eq!(
            idx.position(text, text.find('c').unwrap()),
            Position::new(1, 0)
        );
        assert_eq!(
            idx.position(text, text.find('e').unwrap()),
            Position::new(2, 0)
        );
        // Between `\r` and `\n`: the end of the first line.
        assert_eq!(idx.position(text, 3), Position::new(0, 2));
        assert_eq!(idx.offset(text, Position::new(0, 99)), 2);
        assert_eq!(idx.offset(text, Position::new(9, 0)), text.len());
        assert_eq!(idx.position(text, 999), Position::new(3, 0));
    }

    #[test]
    fn offsets_round_trip_at_every_character_boundary() {
        let text = "harness h \"日本\" {\r\n  # café ✓\n\r  x = \"🚀\"\n}";
        let idx = LineIndex::new(text);
        for (offset, _) in text.char_indices() {
            if text[..offset].ends_with('\r') && text[offset..].starts_with('\n') {
                continue; // not a position of its own
            }
            assert_eq!(idx.offset(text, idx.position(text, offset)), offset);
        }
    }
}
