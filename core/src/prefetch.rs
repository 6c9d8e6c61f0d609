//! A hint to the processor to start reading memory that will be read soon.
//!
//! The resolver reads a person's records from three snapshots at unrelated places in gigabytes of
//! memory, and each wait for memory costs a few hundred nanoseconds. Asked for a few people
//! ahead, those reads are under way together and in cache when the person is built.
//!
//! This is the one place of the workspace with `unsafe` code: the standard library's safe
//! `std::hint::prefetch_read` is not stable yet, and the x86-64 intrinsic that does the same is
//! marked unsafe because it takes a pointer. A prefetch is only a hint: it never faults, whatever
//! the address, and changes nothing any load returns. Before it, the resolver read a byte of
//! each field ahead and threw it away (a safe stand-in), which waits for memory as an ordinary
//! read does and so holds up the work behind it: with the hint, building the people of three
//! snapshots of a million took a sixth to a third less time (docs/performance.md).

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

/// Asks for every cache line of `value` (not of what it points to): a line every 64 bytes from
/// its start, and the line of its last byte, which is one more when `value` does not start on a
/// line.
#[inline]
pub(crate) fn prefetch_value<T>(value: &T) {
    let start = std::ptr::from_ref(value).cast::<u8>();
    for offset in (0..size_of::<T>()).step_by(64).chain(size_of::<T>().checked_sub(1)) {
        prefetch_read(start.wrapping_add(offset));
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
}
