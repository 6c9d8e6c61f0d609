//! Finding the line of a TOML key path, for error messages.

use toml::de::{DeTable, DeValue};

/// The parsed document with spans, to look lines up in.
pub(crate) struct Lines<'a> {
    text: &'a str,
    doc: Option<toml::Spanned<DeTable<'a>>>,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self { text, doc: DeTable::parse(text).ok() }
    }

    /// 1-based line of a byte offset.
    pub(crate) fn line_at(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())].bytes().filter(|b| *b == b'\n').count() + 1
    }

    /// The line of the deepest part of `path` (dotted) that exists in the document.
    pub(crate) fn line_of(&self, path: &str) -> Option<usize> {
        let doc = self.doc.as_ref()?;
        let mut table = doc.get_ref();
        let mut found = None;
        for segment in path.split('.').filter(|s| !s.is_empty()) {
            let Some((key, value)) = table.iter().find(|(k, _)| k.get_ref().as_ref() == segment) else { break };
            found = Some(key.span().start);
            match value.get_ref() {
                DeValue::Table(inner) => table = inner,
                _ => break,
            }
        }
        found.map(|offset| self.line_at(offset))
    }
}
