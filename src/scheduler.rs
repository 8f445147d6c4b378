//! Runs per-image work in parallel: the only module that uses rayon.
//!
//! Images are processed in windows of a few per thread; each window's results
//! are handed to the caller in input order while the workers compute the
//! next window, so memory stays flat in the number of images, output order
//! never depends on which thread finished first, and the workers do not
//! wait while the caller writes.

use rayon::prelude::*;

/// Images in flight per worker thread: enough to keep threads busy when
/// images differ in cost, few enough to bound memory.
const WINDOW_PER_THREAD: usize = 4;

/// Why the worker pool could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start {threads} worker threads: {message}")]
pub struct SchedulerError {
    pub threads: usize,
    pub message: String,
}

/// Number of threads to use when none is asked for: all cores.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Applies `work` to every item on `threads` threads and calls `sink(index,
/// result)` in input order. `work` must not depend on which thread runs it.
///
/// ```
/// let mut out = Vec::new();
/// cellvia::scheduler::for_each_ordered(&[1, 2, 3], 2, |x| x * 10, |i, r| out.push((i, r))).unwrap();
/// assert_eq!(out, [(0, 10), (1, 20), (2, 30)]);
/// ```
pub fn for_each_ordered<T, R, W, S>(
    items: &[T],
    threads: usize,
    work: W,
    mut sink: S,
) -> Result<(), SchedulerError>
where
    T: Sync,
    R: Send,
    W: Fn(&T) -> R + Sync,
    S: FnMut(usize, R),
{
    // Threads beyond the number of items would only sit idle (and cost
    // their stacks); the result does not depend on the count.
    let threads = threads.clamp(1, items.len().max(1));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("cellvia-worker-{i}"))
        .build()
        .map_err(|e| SchedulerError {
            threads,
            message: e.to_string(),
        })?;
    let window = threads * WINDOW_PER_THREAD;
    // The caller's sink runs on this thread, outside the pool, on window
    // w − 1 while the pool computes window w: writing and hashing a
    // window's overlays idled both workers of 2 for about a fifth of
    // `analyze`'s wall time on 2048×1536 fields.
    let mut hand_over = |w: usize, results: Vec<R>| {
        for (i, r) in results.into_iter().enumerate() {
            sink(w * window + i, r);
        }
    };
    let mut done: Option<(usize, Vec<R>)> = None;
    for (w, chunk) in items.chunks(window).enumerate() {
        let mut results: Vec<R> = Vec::new();
        pool.in_place_scope(|scope| {
            scope.spawn(|_| results = chunk.par_iter().map(&work).collect());
            if let Some((previous, finished)) = done.take() {
                hand_over(previous, finished);
            }
        });
        done = Some((w, results));
    }
    if let Some((last, finished)) = done {
        hand_over(last, finished);
    }
    Ok(())
}
