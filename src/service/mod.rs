//! `cellvia serve`: the analysis as a long-running service for a QC system
//! or LIMS, over HTTP ([`api`]) and through a hot folder ([`watch`]).
//!
//! Runs are kept in a SQLite job store ([`store`]) in the data folder and
//! analysed by worker threads ([`worker`]) through the same entry point as
//! the CLI ([`crate::batch::run`]): the same outputs, appended to the same
//! hash-chained run log (`DATA/run-log.jsonl`). The async runtime only
//! serves requests; analysis never runs on its threads.

pub mod api;
pub mod auth;
mod error;
pub mod job;
mod metrics;
pub mod openapi;
pub mod roots;
pub mod store;
mod submit;
pub mod watch;
mod worker;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

pub(crate) use crate::batch::unix_now;
use crate::batch::Cancel;
use crate::io::IoError;

pub use store::{RunState, Store, StoreError};

/// Default most runs waiting in the queue; more are answered 429.
pub const DEFAULT_MAX_QUEUE: usize = 100;
/// Default most images one run may name; more are answered 413.
pub const DEFAULT_MAX_IMAGES: usize = 10_000;
/// Default largest request body (an upload), MiB; larger is answered 413.
pub const DEFAULT_MAX_UPLOAD_MIB: usize = 1024;

/// How the service runs.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    pub listen: SocketAddr,
    /// Job store, uploads, run outputs and the run log.
    pub data: PathBuf,
    pub roots: roots::Roots,
    pub tokens: auth::Tokens,
    /// Runs analysed at once.
    pub workers: usize,
    /// Threads each run uses.
    pub threads_per_run: usize,
    pub max_queue: usize,
    pub max_images: usize,
    pub max_upload_bytes: usize,
    /// Signs every run record (`audit keygen`).
    pub signer: Option<crate::audit::signature::RecordSigner>,
}

/// Why the service cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("async runtime: {0}")]
    Runtime(std::io::Error),
}

/// A running run's progress and cancel switch.
#[derive(Debug, Default)]
pub(crate) struct Running {
    pub cancel: Cancel,
    pub done: AtomicUsize,
    pub total: AtomicUsize,
}

/// What the request handlers and the workers share.
#[derive(Debug)]
pub struct Shared {
    pub options: ServiceOptions,
    store: Mutex<Store>,
    running: Mutex<HashMap<String, Arc<Running>>>,
    /// Workers sleep on it while the queue is empty.
    wake: (Mutex<()>, Condvar),
    /// Images analysed, and milliseconds spent analysing, since start.
    images_analysed: AtomicU64,
    busy_ms: AtomicU64,
}

/// Locks a mutex; a panic elsewhere while holding it leaves the data
/// usable (SQLite keeps its own consistency).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    /// Opens the data folder and its store, and queues again the runs a
    /// killed server left running.
    pub fn open(options: ServiceOptions) -> Result<Arc<Self>, ServiceError> {
        crate::io::write::ensure_dir(&options.data.join(RUNS_DIR))?;
        let store = Store::open(&options.data.join(STORE_FILE))?;
        let (requeued, failed) = store.recover_interrupted(unix_now())?;
        if requeued + failed > 0 {
            tracing::warn!(
                "{requeued} runs interrupted by a stop are queued again; {failed} interrupted too often ended failed"
            );
        }
        Ok(Arc::new(Self {
            options,
            store: Mutex::new(store),
            running: Mutex::default(),
            wake: (Mutex::new(()), Condvar::new()),
            images_analysed: AtomicU64::new(0),
            busy_ms: AtomicU64::new(0),
        }))
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// The folder of run `id` (uploads in `inputs/`, results in `out/`).
    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.options.data.join(RUNS_DIR).join(id)
    }

    /// The run log every run of this service is appended to.
    pub fn run_log(&self) -> PathBuf {
        self.options.data.join(RUN_LOG_FILE)
    }

    fn running(&self, id: &str) -> Option<Arc<Running>> {
        lock(&self.running).get(id).cloned()
    }

    /// The progress and cancel switch of run `id`, made if missing: by
    /// the worker that runs it, or by a cancel that comes first.
    fn running_entry(&self, id: &str) -> Arc<Running> {
        Arc::clone(lock(&self.running).entry(id.to_string()).or_default())
    }

    /// Wakes a worker: a run was queued.
    pub fn notify(&self) {
        self.wake.1.notify_one();
    }
}

/// In the data folder: the job store, the run folders, the run log.
pub const STORE_FILE: &str = "jobs.sqlite";
pub const RUNS_DIR: &str = "runs";
pub const RUN_LOG_FILE: &str = crate::batch::RUN_LOG_NAME;

/// Runs the service until SIGINT or SIGTERM: workers, optionally a hot
/// folder, and the HTTP API on `options.listen`. `on_listen` hears the
/// bound address (the port, when 0 was asked for).
pub fn serve(
    options: ServiceOptions,
    watch: Option<watch::WatchOptions>,
    on_listen: impl FnOnce(SocketAddr),
) -> Result<(), ServiceError> {
    let shared = Shared::open(options)?;
    worker::spawn(&shared);
    if let Some(watch) = watch {
        let run_log = shared.run_log();
        let threads = shared.options.threads_per_run;
        std::thread::Builder::new()
            .name("cellvia-watch".into())
            .spawn(move || {
                if let Err(e) = watch::run(&watch, &run_log, threads, &Cancel::default()) {
                    tracing::error!("hot folder stopped: {e}");
                }
            })
            .map_err(ServiceError::Runtime)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ServiceError::Runtime)?;
    runtime.block_on(async move {
        let addr = shared.options.listen;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServiceError::Listen { addr, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| ServiceError::Listen { addr, source })?;
        on_listen(bound);
        axum::serve(listener, api::router(Arc::clone(&shared)))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(ServiceError::Runtime)?;
        // A stop asked for is no failed attempt: the runs it interrupts are
        // queued again as they were.
        let released = shared.store().release_running()?;
        if released > 0 {
            tracing::info!("stopping: {released} running runs are queued again for the next start");
        }
        Ok(())
    })
}

/// SIGINT or SIGTERM. Runs in progress are redone at the next start.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
