//! Faults a test can give a page of a sandbox's listing: an error status, a late answer, a broken
//! or huge body. Scheduled per page and taken one request at a time. Every vendor's sandbox
//! serves them in its vendor's own shapes; the conformance kit (`testkit`) schedules them.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// `times` for a fault that never stops: every request for the page gets it.
pub const FOREVER: u32 = u32::MAX;

/// What a request for a page gets instead of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageFault {
    /// This error status, in the vendor's shape, with `Retry-After: <seconds>` when given.
    Status {
        /// The status.
        status: u16,
        /// The seconds to send in `Retry-After`, or none.
        retry_after: Option<u64>,
    },
    /// The page itself, but only after this long.
    Delay(Duration),
    /// 200 with the page's JSON cut off half-way.
    Truncated,
    /// 200 with an HTML error page, as a proxy in the way sends.
    Malformed,
    /// 200 with the page padded with whitespace to this many bytes (still valid JSON).
    Huge(usize),
}

/// Faults scheduled per page, in the order they were scheduled.
#[derive(Debug, Default)]
pub struct PageFaults {
    pages: HashMap<u32, VecDeque<(PageFault, u32)>>,
}

impl PageFaults {
    /// Gives the next `times` requests for `page` (after those already scheduled) `fault`.
    pub fn schedule(&mut self, page: u32, fault: PageFault, times: u32) {
        if times > 0 {
            self.pages.entry(page).or_default().push_back((fault, times));
        }
    }

    /// The fault this request for `page` gets, if any.
    pub fn take(&mut self, page: u32) -> Option<PageFault> {
        let queue = self.pages.get_mut(&page)?;
        let (fault, remaining) = queue.front_mut()?;
        let taken = *fault;
        if *remaining != FOREVER {
            *remaining -= 1;
            if *remaining == 0 {
                queue.pop_front();
            }
        }
        if queue.is_empty() {
            self.pages.remove(&page);
        }
        Some(taken)
    }
}

/// Merges `patch` into `target` key by key; a `null` removes the key (JSON merge patch, one
/// level deep).
pub fn merge(target: &mut serde_json::Map<String, serde_json::Value>, patch: &serde_json::Value) {
    for (key, value) in patch.as_object().into_iter().flatten() {
        if value.is_null() {
            target.remove(key);
        } else {
            target.insert(key.clone(), value.clone());
        }
    }
}

/// What a proxy in front of the vendor answers when it cannot reach it, with a 200.
pub const MALFORMED: &str = "<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head>\
                                    <body><h1>The service is temporarily unavailable</h1></body></html>\n";

/// The first half of `body` (cut on a character boundary): JSON that ends in the middle.
pub fn truncated(body: &str) -> String {
    let mut cut = body.len() / 2;
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    body[..cut].to_owned()
}

/// `body` padded with spaces before its last character (a closing `]` or `}`) to `bytes` bytes:
/// still valid JSON, and far larger than any page.
pub fn huge(body: &str, bytes: usize) -> String {
    let Some(last) = body.char_indices().last().map(|(i, _)| i) else {
        return " ".repeat(bytes);
    };
    let mut out = String::with_capacity(bytes.max(body.len()));
    out.push_str(&body[..last]);
    out.push_str(&" ".repeat(bytes.saturating_sub(body.len())));
    out.push_str(&body[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_taken_in_order_and_forever_stays() {
        let mut faults = PageFaults::default();
        faults.schedule(2, PageFault::Status { status: 500, retry_after: None }, 1);
        faults.schedule(2, PageFault::Truncated, 2);
        faults.schedule(3, PageFault::Malformed, FOREVER);
        assert_eq!(faults.take(1), None);
        assert_eq!(faults.take(2), Some(PageFault::Status { status: 500, retry_after: None }));
        assert_eq!(faults.take(2), Some(PageFault::Truncated));
        assert_eq!(faults.take(2), Some(PageFault::Truncated));
        assert_eq!(faults.take(2), None);
        for _ in 0..5 {
            assert_eq!(faults.take(3), Some(PageFault::Malformed));
        }
    }

    #[test]
    fn broken_bodies() {
        assert_eq!(truncated(r#"[{"a":1}]"#), r#"[{"a"#);
        assert_eq!(truncated("\"ééé\""), "\"é", "cut on a character boundary");
        let padded = huge(r#"[{"a":1}]"#, 100);
        assert_eq!(padded.len(), 100);
        assert_eq!(serde_json::from_str::<serde_json::Value>(&padded).unwrap(), serde_json::json!([{ "a": 1 }]));
        assert!(serde_json::from_str::<serde_json::Value>(MALFORMED).is_err());
    }

    #[test]
    fn patches_set_and_remove_keys() {
        let mut user = serde_json::json!({ "id": "1", "a": true }).as_object().cloned().unwrap();
        merge(&mut user, &serde_json::json!({ "id": null, "a": "yes", "b": 2 }));
        assert_eq!(serde_json::Value::Object(user), serde_json::json!({ "a": "yes", "b": 2 }));
    }
}
