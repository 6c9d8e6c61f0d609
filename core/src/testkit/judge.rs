//! Judging a listing against what its case expects. Pure: no I/O, so every verdict can be
//! tested on made-up listings.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::cases::Expect;
use super::{FAULT_PAGE, PAGE_SIZE};
use crate::error::ConnectorError;
use crate::model::{EmploymentStatus, SourceUser};

/// The fewest pages the fault-free listing may take: a fault at page 2 must strike between pages.
pub(super) const MIN_PAGES: usize = 3;

/// What one listing did.
#[derive(Debug)]
pub(super) struct Listing {
    /// Every record the sink received, when the listing returned `Ok`; its error otherwise.
    pub(super) result: Result<Vec<SourceUser>, ConnectorError>,
    /// Non-empty pages the sink received (before a failure too).
    pub(super) pages: usize,
    /// How long the listing took.
    pub(super) elapsed: Duration,
}

/// Checks the fault-free listing every case starts with: complete, the expected records, each
/// once, in enough pages.
pub(super) fn check_reference(expected: &BTreeSet<String>, listing: &Listing) -> Result<(), String> {
    let users = listing.result.as_ref().map_err(|e| format!("the fault-free listing failed: {}", describe(e)))?;
    let by_id = index(users).map_err(|e| format!("the fault-free listing is wrong: {e}"))?;
    let expected: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
    same_ids(&expected, &by_id).map_err(|e| format!("the fault-free listing is wrong: {e}"))?;
    if listing.pages < MIN_PAGES {
        return Err(format!(
            "the fault-free listing came in {} pages; the kit needs at least {MIN_PAGES}, so that a fault at page \
             {FAULT_PAGE} strikes mid-listing: serve pages of about {PAGE_SIZE} records",
            listing.pages
        ));
    }
    Ok(())
}

/// Judges the faulty `listing` against `expect`, with `reference` the fault-free listing.
pub(super) fn judge(expect: &Expect, reference: &[SourceUser], listing: &Listing) -> Result<(), String> {
    let reference = index(reference)?;
    let reference_ids: BTreeSet<&str> = reference.keys().copied().collect();
    match expect {
        Expect::Complete { waits } => {
            let by_id = index(succeeded(listing)?)?;
            same_ids(&reference_ids, &by_id)?;
            if let Some((id, want, got)) = changed(&reference, &by_id).into_iter().next() {
                return Err(format!(
                    "record `{id}` differs from the fault-free listing:\n  expected {want:?}\n       got {got:?}"
                ));
            }
            if listing.elapsed < *waits {
                return Err(format!(
                    "the listing took {:?}, less than the {waits:?} the vendor asked to wait (Retry-After)",
                    listing.elapsed
                ));
            }
            Ok(())
        }
        Expect::Fails { kind, mentions } => match &listing.result {
            Ok(users) => Err(format!(
                "the listing returned Ok with {} records ({} expected) instead of failing: a faulty listing must \
                 never pass for a snapshot",
                users.len(),
                reference.len()
            )),
            Err(e) if e.kind() != *kind => {
                Err(format!("the listing failed as {} instead of {kind}: {}", e.kind(), describe(e)))
            }
            Err(e) => {
                let text = describe(e).to_lowercase();
                if mentions.iter().any(|m| text.contains(m)) {
                    Ok(())
                } else {
                    Err(format!(
                        "the message does not name the fault (it mentions none of {mentions:?}): {}",
                        describe(e)
                    ))
                }
            }
        },
        Expect::KeepsUnmappable => {
            let by_id = index(succeeded(listing)?)?;
            same_ids(&reference_ids, &by_id)?;
            match changed(&reference, &by_id).as_slice() {
                [] => Err("no record differs from the fault-free listing: the unmappable value was read as a \
                           status someone mapped"
                    .to_owned()),
                [(id, _, got)] => kept_as_unknown(id, got),
                many => Err(format!(
                    "{} records differ from the fault-free listing where one was made unmappable: {}",
                    many.len(),
                    sample(&many.iter().map(|(id, _, _)| *id).collect::<Vec<_>>())
                )),
            }
        }
    }
}

/// The record made unmappable: unknown, its raw value kept, its problem told.
fn kept_as_unknown(id: &str, got: &SourceUser) -> Result<(), String> {
    let mut wrong = Vec::new();
    if got.status != EmploymentStatus::Unknown {
        wrong.push(format!("its status is {} instead of unknown", got.status));
    }
    if got.raw_status.as_deref().is_none_or(|r| r.trim().is_empty()) {
        wrong.push("its raw_status is empty: the vendor's value is lost".to_owned());
    }
    if got.problems.is_empty() {
        wrong.push("it has no problem saying what could not be mapped".to_owned());
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!("the unmappable record `{id}` is kept, but {}: {got:?}", wrong.join(", ")))
    }
}

/// The users of a listing that returned `Ok`.
fn succeeded(listing: &Listing) -> Result<&[SourceUser], String> {
    listing.result.as_deref().map_err(|e| format!("the listing failed where it should have completed: {}", describe(e)))
}

/// The records by source id; an error naming the first that is listed twice.
fn index(users: &[SourceUser]) -> Result<BTreeMap<&str, &SourceUser>, String> {
    let mut by_id = BTreeMap::new();
    for user in users {
        if by_id.insert(user.source_id.as_str(), user).is_some() {
            return Err(format!(
                "the listing holds source id `{}` twice ({} records in all): a page was sent twice",
                user.source_id,
                users.len()
            ));
        }
    }
    Ok(by_id)
}

/// Fails unless `by_id` holds exactly the `expected` source ids.
fn same_ids(expected: &BTreeSet<&str>, by_id: &BTreeMap<&str, &SourceUser>) -> Result<(), String> {
    let missing: Vec<&str> = expected.iter().copied().filter(|id| !by_id.contains_key(id)).collect();
    let extra: Vec<&str> = by_id.keys().copied().filter(|id| !expected.contains(id)).collect();
    if missing.is_empty() && extra.is_empty() {
        return Ok(());
    }
    let partial = if missing.is_empty() { "" } else { ": a partial snapshot" };
    Err(format!(
        "the listing returned Ok with {} records where {} were expected (missing {}; unexpected {}){partial}",
        by_id.len(),
        expected.len(),
        sample(&missing),
        sample(&extra)
    ))
}

/// The records of `by_id` that differ from the reference's: (source id, expected, got).
fn changed<'a>(
    reference: &BTreeMap<&'a str, &'a SourceUser>,
    by_id: &BTreeMap<&str, &'a SourceUser>,
) -> Vec<(&'a str, &'a SourceUser, &'a SourceUser)> {
    reference
        .iter()
        .filter_map(|(id, want)| by_id.get(id).filter(|got| **got != *want).map(|got| (*id, *want, *got)))
        .collect()
}

/// `none`, or the count and the first few ids.
fn sample(ids: &[&str]) -> String {
    match ids {
        [] => "none".to_owned(),
        [a, b, c, _, ..] => format!("{}: `{a}`, `{b}`, `{c}`, ...", ids.len()),
        few => format!("{}: {}", few.len(), few.iter().map(|id| format!("`{id}`")).collect::<Vec<_>>().join(", ")),
    }
}

/// An error as the binary would print it: kind, message and its cause chain.
pub(super) fn describe(e: &ConnectorError) -> String {
    let mut text = format!("{}: {e}", e.kind());
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
