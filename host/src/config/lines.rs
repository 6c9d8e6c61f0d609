//! Finding the line of a TOML key path, for error messages.
//!
//! serde (through `serde_path_to_error`) and the JSON Schema validator report *key paths*; an
//! admin needs *lines*. The document is parsed a second time with spans (`toml::de::DeTable`) and
//! each path is looked up in it.

use toml::de::{DeTable, DeValue};

/// The parsed document with spans, to look lines up in.
pub(super) struct Lines<'a> {
    text: &'a str,
    doc: Option<toml::Spanned<DeTable<'a>>>,
}

impl<'a> Lines<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self { text, doc: DeTable::parse(text).ok() }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub(super) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(self.text, offset);
        let before = &self.text[..offset];
        let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }

    /// The line of the deepest part of `path` (dotted) that exists in the document.
    pub(super) fn line_of(&self, path: &str) -> Option<usize> {
        self.locate(path, None)
    }

    /// The line of element `index` of the array at `path` (or of `path` itself when it is not an
    /// array that long), so a bad entry of a multi-line list is found at once.
    pub(super) fn line_of_item(&self, path: &str, index: usize) -> Option<usize> {
        self.locate(path, Some(index))
    }

    fn locate(&self, path: &str, index: Option<usize>) -> Option<usize> {
        let doc = self.doc.as_ref()?;
        let mut table = doc.get_ref();
        let mut found = None;
        let mut last = None;
        for segment in path.split('.').filter(|s| !s.is_empty()) {
            let Some((key, value)) = table.iter().find(|(k, _)| k.get_ref().as_ref() == segment) else {
                last = None;
                break;
            };
            found = Some(key.span().start);
            last = Some(value);
            match value.get_ref() {
                DeValue::Table(inner) => table = inner,
                _ => break,
            }
        }
        if let (Some(index), Some(value)) = (index, last)
            && let DeValue::Array(items) = value.get_ref()
            && let Some(item) = items.get(index)
        {
            found = Some(item.span().start);
        }
        found.map(|offset| self.position(offset).0)
    }
}

/// The largest char boundary at or before `offset` (a span can end inside a character).
fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut i = offset.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str =
        "# roster\n[connections.ukg]\nconnector = \"ukg-pro\"\n\n[lifecycle]\nsources = [\n  \"ukg\",\n  \"hr\",\n]\n";

    #[test]
    fn finds_keys_tables_and_array_items() {
        let lines = Lines::new(DOC);
        assert_eq!(lines.line_of("connections.ukg"), Some(2));
        assert_eq!(lines.line_of("connections.ukg.connector"), Some(3));
        assert_eq!(lines.line_of("connections.ukg.password"), Some(2), "the deepest part that exists");
        assert_eq!(lines.line_of("lifecycle.sources"), Some(6));
        assert_eq!(lines.line_of_item("lifecycle.sources", 1), Some(8));
        assert_eq!(lines.line_of_item("lifecycle.sources", 9), Some(6));
        assert_eq!(lines.line_of("safety"), None);
    }

    #[test]
    fn columns_count_characters() {
        let lines = Lines::new("a = \"é\"\nb = 1\n");
        assert_eq!(lines.position(0), (1, 1));
        assert_eq!(lines.position(7), (1, 7), "é is one column");
        assert_eq!(lines.position(9), (2, 1));
    }
}
