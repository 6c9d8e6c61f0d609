//! Work split over the machine's cores in contiguous runs, its results kept in order.

use std::ops::Range;

/// Appends `make(run)` to `out` for consecutive runs covering `0..len`, each run made on a thread
/// of its own (one per core, eight at most), the results in the order of the runs. Below
/// `serial_below` items, or on one core, it is one run made on this thread: starting threads
/// costs more. Each thread's allocations lie together, so reading the results in order reads
/// memory in order. A panic in `make` goes on as this thread's own.
pub fn extend_in_runs<U: Send>(
    out: &mut Vec<U>,
    len: usize,
    serial_below: usize,
    make: impl Fn(Range<usize>) -> Vec<U> + Sync,
) {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(8);
    if threads < 2 || len < serial_below {
        out.extend(make(0..len));
        return;
    }
    let run = len.div_ceil(threads);
    std::thread::scope(|scope| {
        let make = &make;
        let workers: Vec<_> =
            (0..len).step_by(run).map(|start| scope.spawn(move || make(start..(start + run).min(len)))).collect();
        for worker in workers {
            out.extend(worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_cover_every_item_once_in_order() {
        for (len, serial_below) in [(0, 10), (5, 10), (10, 1), (1001, 1), (7, 0)] {
            let mut out = vec![usize::MAX];
            extend_in_runs(&mut out, len, serial_below, |run| run.map(|i| i * 2).collect());
            let want: Vec<usize> = std::iter::once(usize::MAX).chain((0..len).map(|i| i * 2)).collect();
            assert_eq!(out, want, "{len} items, serial below {serial_below}");
        }
    }

    #[test]
    #[should_panic(expected = "a bug")]
    fn a_panic_in_a_run_is_passed_on() {
        extend_in_runs(&mut Vec::<u8>::new(), 100, 1, |run| {
            assert!(!run.contains(&99), "a bug");
            Vec::new()
        });
    }
}
