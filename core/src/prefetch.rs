//! A hint to the processor to start reading memory that will be read soon.
//!
//! The resolver reads a person's records from three snapshots at unrelated places in gigabytes of
//! memory, and each wait for memory costs a few hundred nanoseconds. Asked for a few people
//! ahead, those reads are under way together and in cache when the person is built. The store
//! reads in such an order twice more, and asks ahead the same way: copying a listing into id
//! order and writing people by email, not in the order they were made ([`prefetch_value`], then
//! [`prefetch_record_text`] or [`prefetch_person_text`]).
//!
//! This is the one place of the workspace with `unsafe` code: the standard library's safe
//! `std::hint::prefetch_read` is not stable yet, and the x86-64 intrinsic that does the same is
//! marked unsafe because it takes a pointer. A prefetch is only a hint: it never faults, whatever
//! the address, and changes nothing any load returns. Before it, the resolver read a byte of
//! each field ahead and threw it away (a safe stand-in), which waits for memory as an ordinary
//! read does and so holds up the work behind it: with the hint, building the people of three
//! snapshots of a million took a sixth to a third less time (docs/performance.md).

use compact_str::CompactString;

use crate::SourceUser;
use crate::lifecycle::Person;

/// Asks for the cache line that holds `p` to be brought into every level of cache. On targets
/// other than x86-64 it does nothing.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn prefetch_read<T: ?Sized>(p: *const T) {
    #[expect(unsafe_code, reason = "a prefetch hint: std::hint::prefetch_read is not stable yet")]
    // SAFETY: PREFETCHT0 never faults and changes no memory, whatever the address, valid or not;
    // it is an SSE instruction, which every x86-64 processor has.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
}

/// Does nothing: only x86-64 asks for memory ahead (see the module's documentation).
#[cfg(not(target_arch = "x86_64"))]
#[inline]
pub(crate) fn prefetch_read<T: ?Sized>(_: *const T) {}

/// How many items ahead of the one read an item is asked for ([`prefetch_value`]), where items
/// are read in an order unrelated to where they lie; its text, whose place is read from the item,
/// [`TEXT_AHEAD`] items ahead, nearer, once the item is in cache.
///
/// Measured on the resolver, where a person's records lie at three unrelated places in three
/// snapshots, and a long text of a field at yet another: built one after another, every one of
/// those reads would wait for memory in turn (about 190 ns each on the development machine).
/// At 3 x 1M people, reading a byte of each field six groups ahead took building people from
/// 2.4-2.7 s to 1.8-2.1 s; prefetching records twelve groups ahead and their text six, a sixth
/// to a third less again (docs/performance.md; eight and four, sixteen and eight, or twenty and
/// six groups did no better within the drift). The store's copy of a listing into id order and
/// its writing of people read the same records and people, at the same distances.
pub const VALUES_AHEAD: usize = 12;
/// See [`VALUES_AHEAD`].
pub const TEXT_AHEAD: usize = 6;

/// Asks ahead of item `i` of `items`: `value` for the item [`VALUES_AHEAD`] ahead (usually
/// [`prefetch_value`]), `text` for the one [`TEXT_AHEAD`] ahead.
#[inline]
pub fn ask_ahead<T>(items: &[T], i: usize, value: impl FnOnce(&T), text: impl FnOnce(&T)) {
    if let Some(ahead) = items.get(i + VALUES_AHEAD) {
        value(ahead);
    }
    if let Some(ahead) = items.get(i + TEXT_AHEAD) {
        text(ahead);
    }
}

/// Asks for every cache line of `value` (not of what it points to): a line every 64 bytes from
/// its start, and the line of its last byte, which is one more when `value` does not start on a
/// line. The first step of reading a record or person ahead; their text second
/// ([`prefetch_record_text`], [`prefetch_person_text`]), once the value is in cache.
#[inline]
pub fn prefetch_value<T>(value: &T) {
    let start = std::ptr::from_ref(value).cast::<u8>();
    for offset in (0..size_of::<T>()).step_by(64).chain(size_of::<T>().checked_sub(1)) {
        prefetch_read(start.wrapping_add(offset));
    }
}

/// Asks for the text of every field of a source record that is held outside it (values over 24
/// bytes): the second step, once the record itself is in cache (reading the places of its text
/// reads the record).
#[inline]
pub fn prefetch_record_text(user: &SourceUser) {
    let fields = [
        &user.person_id,
        &user.employee_id,
        &user.email,
        &user.first_name,
        &user.last_name,
        &user.display_name,
        &user.role,
        &user.role_code,
        &user.department,
        &user.raw_status,
    ];
    texts(&user.source_id, fields, &user.aliases);
}

/// Asks for the text the resolver copies from a record into a person, held outside the record:
/// its source id, email and raw status, and the attributes' text only when the record is of the
/// connection that leads attribute precedence (`lead`), as other records' values are rarely
/// taken. The second step, once the record is in cache.
#[inline]
pub(crate) fn prefetch_text_to_build(user: &SourceUser, lead: bool) {
    text(&user.source_id);
    user.email.iter().chain(&user.raw_status).for_each(text);
    if lead {
        for field in
            [&user.employee_id, &user.first_name, &user.last_name, &user.display_name, &user.role, &user.department]
        {
            field.iter().for_each(text);
        }
    }
}

/// Asks for a person's text held outside them (values over 24 bytes) and the first of their
/// records: the second step, once the person is in cache.
#[inline]
pub fn prefetch_person_text(person: &Person) {
    let fields = [
        &person.email,
        &person.employee_id,
        &person.first_name,
        &person.last_name,
        &person.display_name,
        &person.role,
        &person.department,
        &person.manager,
    ];
    texts(&person.key, fields, &person.aliases);
    if let Some(record) = person.records.first() {
        prefetch_read(record);
    }
}

/// Asks for the text of a value's key, its optional fields and its aliases ([`text`]).
#[inline]
fn texts<const N: usize>(key: &CompactString, fields: [&Option<CompactString>; N], aliases: &[CompactString]) {
    text(key);
    for field in fields {
        field.iter().for_each(text);
    }
    aliases.iter().for_each(text);
}

/// Asks for the text of `s` when it is held outside the value (inline text is in its value's
/// cache lines).
#[inline]
fn text(s: &CompactString) {
    if s.is_heap_allocated() {
        prefetch_read(s.as_ptr());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefetch_changes_nothing_it_is_pointed_at() {
        // Pointers into a value, past its end and nowhere at all: a hint, never a read that can
        // fault, and the value stays what it was.
        let value = [7_u64; 40];
        prefetch_value(&value);
        prefetch_read(value.as_ptr().wrapping_add(1 << 20));
        prefetch_read(std::ptr::null::<u8>());
        assert_eq!(value, [7; 40]);
    }

    #[test]
    fn asking_for_a_record_and_its_text_changes_nothing() {
        let long = "a value longer than twenty-four bytes, held outside the record";
        let user = SourceUser {
            source_id: "e1".into(),
            email: Some(long.into()),
            aliases: vec![long.into(), "short".into()],
            department: Some("Sales".into()),
            ..SourceUser::default()
        };
        let before = user.clone();
        prefetch_value(&user);
        prefetch_record_text(&user);
        prefetch_text_to_build(&user, true);
        prefetch_text_to_build(&user, false);
        assert_eq!(user, before);
    }

    #[test]
    fn asking_ahead_names_the_items_at_both_distances_within_the_slice() {
        let items: Vec<usize> = (0..20).collect();
        let mut asked = Vec::new();
        for i in [0, 7, 13, 19] {
            let (mut value, mut text) = (None, None);
            ask_ahead(&items, i, |&v| value = Some(v), |&t| text = Some(t));
            asked.push((value, text));
        }
        assert_eq!(asked, [(Some(12), Some(6)), (Some(19), Some(13)), (None, Some(19)), (None, None)]);
    }
}
