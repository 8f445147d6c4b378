//! The job store: one SQLite database in the data folder, so runs, their
//! states and outcomes survive restarts.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// How many times a run interrupted by a restart is redone before it ends
/// `failed`: a field that kills the process must not loop forever.
pub const MAX_ATTEMPTS: u32 = 3;

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl RunState {
    pub const ALL: [RunState; 5] = [
        RunState::Queued,
        RunState::Running,
        RunState::Done,
        RunState::Failed,
        RunState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Done => "done",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
        }
    }

    /// Parses the lower-case name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredRun {
    pub id: String,
    pub state: RunState,
    pub created_unix_s: f64,
    pub started_unix_s: Option<f64>,
    pub finished_unix_s: Option<f64>,
    /// The submitted job, as JSON ([`super::job::Job`]).
    pub job: String,
    pub attempts: u32,
    pub images: Option<u32>,
    pub exit_code: Option<u8>,
    pub error: Option<String>,
    /// The outcome, as JSON ([`super::job::Outcome`]), once done.
    pub outcome: Option<String>,
}

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
#[error("job store: {0}")]
pub struct StoreError(#[from] rusqlite::Error);

/// The job store.
#[derive(Debug)]
pub struct Store {
    db: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    job TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    images INTEGER,
    exit_code INTEGER,
    error TEXT,
    outcome TEXT
);
CREATE INDEX IF NOT EXISTS runs_state ON runs (state, seq);
";

const COLUMNS: &str =
    "id, state, created, started, finished, job, attempts, images, exit_code, error, outcome";

fn row_to_run(row: &rusqlite::Row) -> rusqlite::Result<StoredRun> {
    let state: String = row.get(1)?;
    Ok(StoredRun {
        id: row.get(0)?,
        // Only this module writes states; an unknown one reads as failed.
        state: RunState::parse(&state).unwrap_or(RunState::Failed),
        created_unix_s: row.get(2)?,
        started_unix_s: row.get(3)?,
        finished_unix_s: row.get(4)?,
        job: row.get(5)?,
        attempts: row.get(6)?,
        images: row.get(7)?,
        exit_code: row.get(8)?,
        error: row.get(9)?,
        outcome: row.get(10)?,
    })
}

impl Store {
    /// Opens (or creates) the store at `path`. Writes are durable when they
    /// return (WAL, synchronous=FULL): an accepted run is never lost.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "FULL")?;
        db.busy_timeout(std::time::Duration::from_secs(10))?;
        db.execute_batch(SCHEMA)?;
        Ok(Self { db })
    }

    /// Adds a queued run.
    pub fn insert(&self, id: &str, job: &str, now: f64) -> Result<(), StoreError> {
        self.db.execute(
            "INSERT INTO runs (id, state, created, job) VALUES (?1, 'queued', ?2, ?3)",
            params![id, now, job],
        )?;
        Ok(())
    }

    pub fn get(&self, id: &str) -> Result<Option<StoredRun>, StoreError> {
        Ok(self
            .db
            .query_row(
                &format!("SELECT {COLUMNS} FROM runs WHERE id = ?1"),
                params![id],
                row_to_run,
            )
            .optional()?)
    }

    /// The newest runs first, optionally in one state.
    pub fn list(&self, state: Option<RunState>, limit: u32) -> Result<Vec<StoredRun>, StoreError> {
        let mut statement = self.db.prepare(&format!(
            "SELECT {COLUMNS} FROM runs WHERE (?1 IS NULL OR state = ?1) ORDER BY seq DESC LIMIT ?2"
        ))?;
        let rows = statement.query_map(params![state.map(RunState::as_str), limit], row_to_run)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Runs per state.
    pub fn count_by_state(&self) -> Result<Vec<(RunState, u64)>, StoreError> {
        RunState::ALL
            .into_iter()
            .map(|state| {
                let n: i64 = self.db.query_row(
                    "SELECT COUNT(*) FROM runs WHERE state = ?1",
                    params![state.as_str()],
                    |row| row.get(0),
                )?;
                Ok((state, n.unsigned_abs()))
            })
            .collect()
    }

    /// Images in the runs that are done.
    pub fn images_analysed(&self) -> Result<u64, StoreError> {
        let n: i64 = self.db.query_row(
            "SELECT COALESCE(SUM(images), 0) FROM runs WHERE state = 'done'",
            [],
            |row| row.get(0),
        )?;
        Ok(n.unsigned_abs())
    }

    /// Takes the oldest queued run and marks it running.
    pub fn claim(&self, now: f64) -> Result<Option<StoredRun>, StoreError> {
        let id: Option<String> = self
            .db
            .query_row(
                "UPDATE runs SET state = 'running', started = ?1, attempts = attempts + 1
                 WHERE seq = (SELECT seq FROM runs WHERE state = 'queued' ORDER BY seq LIMIT 1)
                 RETURNING id",
                params![now],
                |row| row.get(0),
            )
            .optional()?;
        match id {
            Some(id) => self.get(&id),
            None => Ok(None),
        }
    }

    /// Ends a running run as done.
    pub fn finish(
        &self,
        id: &str,
        now: f64,
        images: u32,
        exit_code: u8,
        outcome: &str,
    ) -> Result<(), StoreError> {
        self.db.execute(
            "UPDATE runs SET state = 'done', finished = ?2, images = ?3, exit_code = ?4, outcome = ?5
             WHERE id = ?1 AND state = 'running'",
            params![id, now, images, exit_code, outcome],
        )?;
        Ok(())
    }

    /// Ends a queued or running run in `state` (failed or cancelled) with
    /// a reason; false if it had already ended.
    pub fn end(
        &self,
        id: &str,
        state: RunState,
        now: f64,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let changed = self.db.execute(
            "UPDATE runs SET state = ?2, finished = ?3, error = ?4
             WHERE id = ?1 AND state IN ('queued', 'running')",
            params![id, state.as_str(), now, reason],
        )?;
        Ok(changed > 0)
    }

    /// After a restart: runs left `running` by a killed server are queued
    /// again (their output folder recovers what they left), unless they
    /// have been tried [`MAX_ATTEMPTS`] times; those end `failed`.
    /// Returns (requeued, failed).
    pub fn recover_interrupted(&self, now: f64) -> Result<(usize, usize), StoreError> {
        let failed = self.db.execute(
            "UPDATE runs SET state = 'failed', finished = ?1, error = ?2
             WHERE state = 'running' AND attempts >= ?3",
            params![
                now,
                format!("the server stopped during this run {MAX_ATTEMPTS} times; not tried again"),
                MAX_ATTEMPTS
            ],
        )?;
        let requeued = self.db.execute(
            "UPDATE runs SET state = 'queued', started = NULL WHERE state = 'running'",
            [],
        )?;
        Ok((requeued, failed))
    }

    /// Cancels a run if it is still queued; false if a worker took it (or
    /// it ended) first.
    pub fn cancel_queued(&self, id: &str, now: f64) -> Result<bool, StoreError> {
        let changed = self.db.execute(
            "UPDATE runs SET state = 'cancelled', finished = ?2, error = 'cancelled by a client'
             WHERE id = ?1 AND state = 'queued'",
            params![id, now],
        )?;
        Ok(changed > 0)
    }

    /// On a stop asked for: running runs go back to the queue without
    /// counting the attempt. Returns how many.
    pub fn release_running(&self) -> Result<usize, StoreError> {
        Ok(self.db.execute(
            "UPDATE runs SET state = 'queued', started = NULL, attempts = MAX(attempts - 1, 0)
             WHERE state = 'running'",
            [],
        )?)
    }

    /// Runs waiting in the queue.
    pub fn queued(&self) -> Result<u64, StoreError> {
        let n: i64 = self.db.query_row(
            "SELECT COUNT(*) FROM runs WHERE state = 'queued'",
            [],
            |row| row.get(0),
        )?;
        Ok(n.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_goes_from_queued_to_done_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.sqlite");
        let store = Store::open(&path).unwrap();
        store.insert("a", "{}", 1.0).unwrap();
        store.insert("b", "{}", 2.0).unwrap();
        let claimed = store.claim(3.0).unwrap().unwrap();
        assert_eq!(
            (claimed.id.as_str(), claimed.state),
            ("a", RunState::Running)
        );
        store.finish("a", 4.0, 9, 0, "{\"x\":1}").unwrap();
        drop(store);
        let store = Store::open(&path).unwrap();
        let a = store.get("a").unwrap().unwrap();
        assert_eq!(
            (a.state, a.images, a.exit_code),
            (RunState::Done, Some(9), Some(0))
        );
        assert_eq!(store.queued().unwrap(), 1);
        assert_eq!(store.images_analysed().unwrap(), 9);
        assert_eq!(store.list(None, 10).unwrap()[0].id, "b");
    }

    #[test]
    fn an_interrupted_run_is_queued_again_then_fails_after_max_attempts() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("jobs.sqlite")).unwrap();
        store.insert("a", "{}", 1.0).unwrap();
        for attempt in 1..=MAX_ATTEMPTS {
            assert_eq!(store.claim(2.0).unwrap().unwrap().attempts, attempt);
            let expected = if attempt < MAX_ATTEMPTS {
                (1, 0)
            } else {
                (0, 1)
            };
            assert_eq!(store.recover_interrupted(3.0).unwrap(), expected);
        }
        let a = store.get("a").unwrap().unwrap();
        assert_eq!(a.state, RunState::Failed);
        assert!(a.error.unwrap().contains("stopped during this run"));
        assert!(!store.end("a", RunState::Cancelled, 4.0, "late").unwrap());
    }
}
