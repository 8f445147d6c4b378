//! `GET /metrics`: Prometheus text.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::api::{blocking, ApiError};
use super::{RunState, Shared};

/// Runs by state, queue depth, images analysed (all time, from the store)
/// and images per second of run time since this server started.
pub(super) async fn metrics(State(shared): State<Arc<Shared>>) -> Result<Response, ApiError> {
    blocking(move || {
        let store = shared.store();
        let by_state = store.count_by_state()?;
        let stored_images = store.images_analysed()?;
        drop(store);
        let mut text = String::new();
        text += "# HELP cellvia_runs Runs in the job store, by state.\n# TYPE cellvia_runs gauge\n";
        let mut queued = 0;
        for (state, n) in &by_state {
            text += &format!("cellvia_runs{{state=\"{}\"}} {n}\n", state.as_str());
            if *state == RunState::Queued {
                queued = *n;
            }
        }
        text += "# HELP cellvia_queue_depth Runs waiting for a worker.\n# TYPE cellvia_queue_depth gauge\n";
        text += &format!("cellvia_queue_depth {queued}\n");
        text += "# HELP cellvia_images_analysed_total Images in runs that are done (all time).\n# TYPE cellvia_images_analysed_total counter\n";
        text += &format!("cellvia_images_analysed_total {stored_images}\n");
        let images = shared.images_analysed.load(Ordering::Relaxed);
        let busy_s = shared.busy_ms.load(Ordering::Relaxed) as f64 / 1000.0;
        let rate = if busy_s > 0.0 { images as f64 / busy_s } else { 0.0 };
        text += "# HELP cellvia_images_per_second Images analysed per second of run time since this server started.\n# TYPE cellvia_images_per_second gauge\n";
        text += &format!("cellvia_images_per_second {rate:.3}\n");
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        Ok((headers, text).into_response())
    })
    .await
}
