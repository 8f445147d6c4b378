//! The workers: plain threads that take queued runs from the store and
//! analyse them with [`crate::batch::run`] (whose fields go to the rayon
//! pool), never on the async runtime.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::job::{Job, JobError, Outcome};
use super::store::StoredRun;
use super::{lock, unix_now, RunState, Running, Shared};
use crate::aggregate::record::ImageRecord;
use crate::batch::{self, BatchError, Observer};

/// How long an idle worker sleeps before it looks at the store again
/// (a submission wakes it sooner).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Starts `options.workers` worker threads.
pub(super) fn spawn(shared: &Arc<Shared>) {
    for i in 0..shared.options.workers.max(1) {
        let shared = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name(format!("cellvia-run-{i}"))
            .spawn(move || work(&shared));
        if let Err(e) = spawned {
            tracing::error!("cannot start worker {i}: {e}");
        }
    }
}

fn work(shared: &Shared) {
    loop {
        let claimed = shared.store().claim(unix_now());
        match claimed {
            Ok(Some(run)) => execute(shared, run),
            Ok(None) => {
                let guard = lock(&shared.wake.0);
                let _ = shared.wake.1.wait_timeout(guard, IDLE_POLL);
            }
            Err(e) => {
                tracing::error!("{e}");
                std::thread::sleep(IDLE_POLL);
            }
        }
    }
}

/// Counts fields as they are analysed.
struct Progress<'a>(&'a Running);

impl Observer for Progress<'_> {
    fn started(&mut self, fields: usize) {
        self.0.total.store(fields, Ordering::Relaxed);
    }

    fn field_done(&mut self, _index: usize, _fields: usize, _record: &ImageRecord) {
        self.0.done.fetch_add(1, Ordering::Relaxed);
    }
}

/// Why a run ended failed, in words for the client.
#[derive(Debug, thiserror::Error)]
enum RunFailure {
    #[error("the stored job cannot be read: {0}")]
    Stored(#[from] serde_json::Error),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Batch(#[from] BatchError),
}

fn analyse(shared: &Shared, run: &StoredRun, running: &Running) -> Result<Outcome, RunFailure> {
    let job: Job = serde_json::from_str(&run.job)?;
    let request = job.request(
        &shared.run_dir(&run.id).join("out"),
        &shared.run_log(),
        shared.options.threads_per_run,
        shared.options.signer.clone(),
        running.cancel.clone(),
    )?;
    let outcome = batch::run(request, &mut Progress(running))?;
    Ok(Outcome::of(&outcome))
}

fn execute(shared: &Shared, run: StoredRun) {
    // A cancel that arrived between the claim and here already made the
    // entry (under the same lock), so it is not lost.
    let running = shared.running_entry(&run.id);
    let clock = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| analyse(shared, &run, &running)));
    let now = unix_now();
    let ended = match result {
        Ok(Ok(outcome)) => {
            shared
                .images_analysed
                .fetch_add(u64::from(outcome.summary.images), Ordering::Relaxed);
            let elapsed_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
            shared.busy_ms.fetch_add(elapsed_ms, Ordering::Relaxed);
            let text = serde_json::to_string(&outcome).unwrap_or_default();
            shared.store().finish(
                &run.id,
                now,
                outcome.summary.images,
                outcome.exit_code,
                &text,
            )
        }
        Ok(Err(RunFailure::Batch(BatchError::Cancelled))) => shared
            .store()
            .end(&run.id, RunState::Cancelled, now, "cancelled by a client")
            .map(drop),
        Ok(Err(e)) => shared
            .store()
            .end(&run.id, RunState::Failed, now, &e.to_string())
            .map(drop),
        Err(_) => shared
            .store()
            .end(
                &run.id,
                RunState::Failed,
                now,
                "internal error while analysing this run (a panic); please report it",
            )
            .map(drop),
    };
    if let Err(e) = ended {
        tracing::error!("run {}: {e}", run.id);
    }
    // Only once the store says how it ended, so a poll never sees a running
    // run without its progress.
    lock(&shared.running).remove(&run.id);
}
