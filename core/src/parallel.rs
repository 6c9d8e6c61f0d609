//! Work split over the machine's cores in contiguous runs, its results kept in order.
//!
//! The standard library's scoped threads are enough for the five shapes here (runs of equal
//! work, their results concatenated in order; many small parts; a few large jobs, or two, side
//! by side; results made ahead of a consumer that takes them in order): a
//! work-stealing pool such as rayon's would add a dependency and give up what `extend_in_runs`
//! is for, each thread's results lying together in memory in the order they are read.

use std::ops::Range;

/// Has `make(run, out)` append the results of consecutive runs covering `0..len` to `out`, in
/// the order of the runs, made in rounds: in each, one run per core (eight at most), the first
/// made on this thread straight into `out`, the others on threads of their own into vectors
/// appended after it. A run is at most [`ROUND`] items, so at most that many results a core are
/// ever held twice (a million people made in two halves held half a million twice: 180 MB).
/// Below `serial_below` items, or on one core, it is one run made on this thread: starting
/// threads costs more. Each thread's allocations lie together, so reading the results in order
/// reads memory in order. A panic in `make` goes on as this thread's own.
pub fn extend_in_runs<U: Send>(
    out: &mut Vec<U>,
    len: usize,
    serial_below: usize,
    make: impl Fn(Range<usize>, &mut Vec<U>) + Sync,
) {
    let threads = threads();
    if threads < 2 || len < serial_below {
        make(0..len, out);
        return;
    }
    let run = len.div_ceil(threads).min(ROUND);
    let make = &make;
    for round in (0..len).step_by(run * threads) {
        let runs = (round..len).step_by(run).take(threads).map(|start| start..(start + run).min(len));
        std::thread::scope(|scope| {
            let mut runs = runs.clone();
            let here = runs.next().unwrap_or(0..0);
            let workers: Vec<_> = runs
                .map(|run| {
                    scope.spawn(move || {
                        let mut own = Vec::new();
                        make(run, &mut own);
                        own
                    })
                })
                .collect();
            make(here, out);
            for worker in workers {
                out.append(&mut worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
            }
        });
    }
}

/// The most items a thread makes in one round of [`extend_in_runs`]: enough that starting the
/// threads of a round costs nothing beside it, few enough that what is held twice stays small.
pub const ROUND: usize = 1 << 16;

/// Calls `work` on every one of `items`, the items shared out over the machine's cores in
/// contiguous runs (one per core, eight at most). Below `serial_below` items, or on one core, all
/// on this thread. A panic in `work` goes on as this thread's own.
pub fn for_each_in_runs<T: Send>(mut items: Vec<T>, serial_below: usize, work: impl Fn(T) + Sync) {
    let threads = threads();
    if threads < 2 || items.len() < serial_below {
        items.into_iter().for_each(work);
        return;
    }
    let run = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let work = &work;
        let mut workers = Vec::with_capacity(threads);
        while !items.is_empty() {
            let last = items.split_off(items.len().saturating_sub(run));
            workers.push(scope.spawn(move || last.into_iter().for_each(work)));
        }
        for worker in workers {
            worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
    });
}

/// Maps every one of a few `items` with `f`, each on a thread of its own (the first on this
/// thread), and returns the results in order: for a few large jobs, such as sorting each kind of
/// key, that are each bound by one core. On one core, or with one item, all on this thread. A
/// panic in `f` goes on as this thread's own.
pub fn map_each<T: Send, U: Send>(items: Vec<T>, f: impl Fn(T) -> U + Sync) -> Vec<U> {
    if threads() < 2 || items.len() < 2 {
        return items.into_iter().map(f).collect();
    }
    std::thread::scope(|scope| {
        let f = &f;
        let mut items = items.into_iter();
        let first = items.next();
        let others: Vec<_> = items.map(|item| scope.spawn(move || f(item))).collect();
        first
            .map(f)
            .into_iter()
            .chain(others.into_iter().map(|o| o.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))))
            .collect()
    })
}

/// Runs `a` and `b` at once, `b` on a thread of its own when there is a second core, and returns
/// both results. A panic in either goes on as this thread's own.
pub fn join<A: Send, B: Send>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B + Send) -> (A, B) {
    if threads() < 2 {
        return (a(), b());
    }
    std::thread::scope(|scope| {
        let b = scope.spawn(b);
        let a = a();
        (a, b.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
}

/// Has `make` turn `items` into results on every core, `batch` items at a time and a few batches
/// ahead, while `consume` takes the results in order on this thread: a store encodes records
/// on every core while `SQLite` writes what is encoded on this one.
///
/// Batches are dealt out in turn (worker `w` makes batches `w`, `w + n`, ...), each worker
/// sending its own in order through a channel of two, so this thread takes batch `b` from worker
/// `b % n` and needs no reordering; a worker that finished a batch goes on with its next while
/// another is still on a large one, until its channel is full. At most three batches a worker and
/// one here are held at once, so `batch` bounds the memory beyond the input. On one core, or with
/// one batch or less, all is made on this thread as it is consumed. Should `make` panic, the
/// results end early and the panic goes on as this thread's own once `consume` returns; should
/// `consume` stop early, the workers stop at their next batch.
pub fn made_ahead<T: Sync, U: Send, R>(
    items: &[T],
    batch: usize,
    make: impl Fn(&T) -> U + Sync,
    consume: impl FnOnce(&mut dyn Iterator<Item = U>) -> R,
) -> R {
    let batch = batch.max(1);
    let workers = threads().min(items.len().div_ceil(batch));
    if workers < 2 {
        return consume(&mut items.iter().map(make));
    }
    std::thread::scope(|scope| {
        let make = &make;
        let (inboxes, handles): (Vec<_>, Vec<_>) = (0..workers)
            .map(|w| {
                let (ready, inbox) = std::sync::mpsc::sync_channel::<Vec<U>>(2);
                let handle = scope.spawn(move || {
                    for part in items.chunks(batch).skip(w).step_by(workers) {
                        // This thread stopped taking results (an error): nothing more is needed.
                        if ready.send(part.iter().map(make).collect()).is_err() {
                            return;
                        }
                    }
                });
                (inbox, handle)
            })
            .unzip();
        // Batch `b` comes from worker `b % workers`; after the last, that worker has ended.
        let mut results = (0..).map_while(|b| inboxes[b % workers].recv().ok()).flatten();
        let result = consume(&mut results);
        drop(inboxes);
        for handle in handles {
            handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
        result
    })
}

/// Frees `value` on a thread of its own, so that the caller need not wait for it: a listing of a
/// large tenant is millions of small allocations, which the merge that follows its copy into id
/// order need not wait for. Where no thread can be started, `value` is freed here. The thread is
/// not waited for: a process that ends first leaves the freeing to the system. Where the freeing
/// would compete with other work for the cores, freeing in place can be as fast (mimalloc frees
/// another thread's memory at a higher cost).
pub fn drop_aside<T: Send + 'static>(value: T) {
    // On failure the closure, and `value` with it, is dropped by `spawn` itself.
    let _ = std::thread::Builder::new().name("roster-free".to_owned()).spawn(move || drop(value));
}

/// The threads work is shared out over: one per core, eight at most.
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_cover_every_item_once_in_order() {
        for (len, serial_below) in [(0, 10), (5, 10), (10, 1), (1001, 1), (7, 0), (ROUND * 5 + 3, 1), (ROUND * 2, 1)] {
            let mut out = vec![usize::MAX];
            extend_in_runs(&mut out, len, serial_below, |run, out| {
                assert!(run.len() <= ROUND, "a run of {} items", run.len());
                out.extend(run.map(|i| i * 2));
            });
            let want: Vec<usize> = std::iter::once(usize::MAX).chain((0..len).map(|i| i * 2)).collect();
            assert_eq!(out, want, "{len} items, serial below {serial_below}");
        }
    }

    #[test]
    #[should_panic(expected = "a bug")]
    fn a_panic_in_a_run_is_passed_on() {
        extend_in_runs(&mut Vec::<u8>::new(), 100, 1, |run, _| assert!(!run.contains(&99), "a bug"));
    }

    #[test]
    fn every_item_is_worked_on_once() {
        use std::sync::Mutex;
        for (len, serial_below) in [(0, 10), (3, 10), (1000, 1), (7, 0)] {
            let seen = Mutex::new(Vec::new());
            for_each_in_runs((0..len).collect(), serial_below, |i| seen.lock().unwrap().push(i));
            let mut seen = seen.into_inner().unwrap();
            seen.sort_unstable();
            assert_eq!(seen, (0..len).collect::<Vec<_>>(), "{len} items, serial below {serial_below}");
        }
    }

    #[test]
    fn made_ahead_comes_in_order_and_a_consumer_may_stop_early() {
        for (len, batch) in [(0, 4), (3, 4), (10_000, 7), (10_000, 1024), (4096, 1)] {
            let items: Vec<u64> = (0..len).collect();
            // Batches of uneven cost, so that workers finish out of turn.
            let slow = |&i: &u64| {
                if i % 97 == 0 {
                    std::thread::sleep(std::time::Duration::from_micros(50));
                }
                i * 2
            };
            let all: Vec<u64> = made_ahead(&items, batch, slow, |made| made.collect());
            assert_eq!(all, items.iter().map(|i| i * 2).collect::<Vec<_>>(), "{len} items, batches of {batch}");
        }
        let items: Vec<u64> = (0..100_000).collect();
        let made = std::sync::atomic::AtomicUsize::new(0);
        let first: Vec<u64> = made_ahead(
            &items,
            10,
            |&i| {
                made.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                i
            },
            |made| made.take(3).collect(),
        );
        assert_eq!(first, [0, 1, 2]);
        let made = made.into_inner();
        assert!(made < 1000, "the workers stopped a few batches ahead, after {made} items");
    }

    #[test]
    #[should_panic(expected = "a bug in make")]
    fn a_panic_in_made_ahead_is_passed_on() {
        let items: Vec<u32> = (0..1000).collect();
        let _: Vec<u32> = made_ahead(
            &items,
            10,
            |&i| {
                assert!(i != 555, "a bug in make");
                i
            },
            |made| made.collect(),
        );
    }

    #[test]
    fn map_each_keeps_the_order_of_its_items() {
        for len in [0, 1, 2, 5] {
            let items: Vec<usize> = (0..len).collect();
            assert_eq!(map_each(items, |i| i * 10), (0..len).map(|i| i * 10).collect::<Vec<_>>(), "{len} items");
        }
    }

    #[test]
    #[should_panic(expected = "a bug in one item")]
    fn a_panic_in_map_each_is_passed_on() {
        map_each(vec![1, 2, 3], |i| assert!(i != 3, "a bug in one item"));
    }

    #[test]
    fn join_returns_both_results() {
        let data = [1, 2, 3];
        assert_eq!(join(|| data.iter().sum::<i32>(), || data.len()), (6, 3));
    }

    #[test]
    #[should_panic(expected = "the other side")]
    fn a_panic_in_the_other_half_of_a_join_is_passed_on() {
        join(|| 1, || panic!("the other side"));
    }

    #[test]
    fn a_value_dropped_aside_is_dropped_on_another_thread() {
        struct Noted(std::sync::mpsc::Sender<std::thread::ThreadId>);
        impl Drop for Noted {
            fn drop(&mut self) {
                let _ = self.0.send(std::thread::current().id());
            }
        }
        let (tx, rx) = std::sync::mpsc::channel();
        drop_aside(Noted(tx));
        let dropped_on = rx.recv_timeout(std::time::Duration::from_secs(30)).expect("the value was never dropped");
        assert_ne!(dropped_on, std::thread::current().id());
    }
}
