//! The HTTP API: thin handlers over the store and the batch, errors mapped
//! to status codes in one place ([`ApiError`]).

use std::path::{Component, Path};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{FromRequest, Multipart, Path as UrlPath, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use tower_http::limit::RequestBodyLimitLayer;

pub use super::error::ApiError;
use super::job::{Job, Outcome};
use super::store::StoredRun;
use super::submit::{self, SubmitJson};
use super::{unix_now, RunState, Shared};

/// The routes, as the OpenAPI document lists them: (method, path).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/v1/openapi.json"),
    ("get", "/v1/runs"),
    ("post", "/v1/runs"),
    ("get", "/v1/runs/{id}"),
    ("delete", "/v1/runs/{id}"),
    ("get", "/v1/runs/{id}/files/{name}"),
];

/// The service's routes: every one but `/healthz` needs a bearer token.
pub fn router(shared: Arc<Shared>) -> Router {
    let limit = shared.options.max_upload_bytes;
    let authenticated = Router::new()
        .route("/metrics", get(super::metrics::metrics))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/runs", get(list_runs).post(submit_run))
        .route("/v1/runs/{id}", get(get_run).delete(cancel_run))
        .route("/v1/runs/{id}/files/{*name}", get(get_file))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            require_token,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(authenticated)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(limit))
        .with_state(shared)
}

/// The name of the token a request came with.
#[derive(Debug, Clone)]
struct TokenName(String);

async fn require_token(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(name) = presented.and_then(|t| shared.options.tokens.check(t.trim())) else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "a valid bearer token is required (Authorization: Bearer TOKEN)",
        )
        .into_response();
    };
    let name = TokenName(name.to_string());
    request.extensions_mut().insert(name);
    next.run(request).await
}

/// Runs blocking work (the store, the filesystem) off the async threads.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)?
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn openapi() -> Json<serde_json::Value> {
    Json(super::openapi::document())
}

/// A run as the API shows it.
#[derive(Debug, Serialize)]
pub struct RunView {
    pub id: String,
    pub state: RunState,
    pub created_utc: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_utc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_utc: Option<String>,
    pub progress: ProgressView,
    pub operator: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

#[derive(Debug, Serialize)]
pub struct ProgressView {
    pub done: usize,
    pub total: usize,
}

fn view(shared: &Shared, run: StoredRun) -> RunView {
    let outcome: Option<Outcome> = run
        .outcome
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok());
    let progress = match (&outcome, shared.running(&run.id)) {
        (Some(o), _) => ProgressView {
            done: o.summary.images as usize,
            total: o.summary.images as usize,
        },
        (None, Some(r)) => ProgressView {
            done: r.done.load(Ordering::Relaxed),
            total: r.total.load(Ordering::Relaxed),
        },
        (None, None) => ProgressView { done: 0, total: 0 },
    };
    let operator = serde_json::from_str::<Job>(&run.job)
        .map(|j| j.operator)
        .unwrap_or_default();
    RunView {
        id: run.id,
        state: run.state,
        created_utc: crate::report::utc_iso8601(run.created_unix_s),
        started_utc: run.started_unix_s.map(crate::report::utc_iso8601),
        finished_utc: run.finished_unix_s.map(crate::report::utc_iso8601),
        progress,
        operator,
        error: run.error,
        outcome,
    }
}

/// A fresh run id: 16 random hex digits.
fn new_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).map_err(ApiError::internal)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// 429 when the queue is full.
fn queue_has_room(shared: &Shared) -> Result<(), ApiError> {
    let queued = shared.store().queued()?;
    if queued >= shared.options.max_queue as u64 {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("{queued} runs are waiting; try again later"),
        ));
    }
    Ok(())
}

/// Queues a checked job, unless the queue is full.
fn enqueue(shared: &Shared, id: &str, job: &Job) -> Result<(), ApiError> {
    let text = serde_json::to_string(job).map_err(ApiError::internal)?;
    let store = shared.store();
    let queued = store.queued()?;
    if queued >= shared.options.max_queue as u64 {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("{queued} runs are waiting; try again later"),
        ));
    }
    store.insert(id, &text, unix_now())?;
    drop(store);
    shared.notify();
    Ok(())
}

async fn submit_run(
    State(shared): State<Arc<Shared>>,
    Extension(token): Extension<TokenName>,
    request: Request,
) -> Result<Response, ApiError> {
    let id = new_id()?;
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if is_multipart {
        let multipart = Multipart::from_request(request, &())
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        let upload = submit::read_upload(multipart).await?;
        let shared = Arc::clone(&shared);
        let id = id.clone();
        blocking(move || {
            let inputs = shared.run_dir(&id).join("inputs");
            let job = submit::job_from_upload(&shared, &upload, &inputs, &token.0)?;
            queue_has_room(&shared)?;
            let queued =
                submit::save_upload(&inputs, &upload).and_then(|()| enqueue(&shared, &id, &job));
            if queued.is_err() {
                // Nothing of a refused upload stays on disk.
                let _ = crate::io::folders::remove_all(&shared.run_dir(&id));
            }
            queued
        })
        .await?;
    } else {
        let Json(submitted) = Json::<SubmitJson>::from_request(request, &())
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        let shared = Arc::clone(&shared);
        let id = id.clone();
        blocking(move || {
            let job = submit::job_from_json(&shared, submitted, &token.0)?;
            enqueue(&shared, &id, &job)
        })
        .await?;
    }
    let location = format!("/v1/runs/{id}");
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(serde_json::json!({ "id": id, "state": "queued" })),
    )
        .into_response())
}

async fn get_run(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<RunView>, ApiError> {
    blocking(move || {
        let run = shared.store().get(&id)?;
        let run = run.ok_or_else(|| ApiError::not_found(format!("no run {id}")))?;
        Ok(Json(view(&shared, run)))
    })
    .await
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    state: Option<String>,
    limit: Option<u32>,
}

/// Most runs one list answer holds.
const MAX_LIST: u32 = 1000;

async fn list_runs(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<ListQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let state = match query.state.as_deref() {
        None => None,
        Some(text) => Some(RunState::parse(text).ok_or_else(|| {
            ApiError::bad_request(format!(
                "state {text:?}: queued, running, done, failed or cancelled"
            ))
        })?),
    };
    let limit = query.limit.unwrap_or(100).min(MAX_LIST);
    blocking(move || {
        let runs = shared.store().list(state, limit)?;
        let views: Vec<RunView> = runs.into_iter().map(|r| view(&shared, r)).collect();
        Ok(Json(serde_json::json!({ "runs": views })))
    })
    .await
}

async fn cancel_run(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    blocking(move || {
        // Atomic in the store: a worker cannot claim it half-way.
        if shared.store().cancel_queued(&id, unix_now())? {
            return Ok(Json(serde_json::json!({ "id": id, "state": "cancelled" })).into_response());
        }
        let run = shared.store().get(&id)?;
        let run = run.ok_or_else(|| ApiError::not_found(format!("no run {id}")))?;
        if run.state != RunState::Running {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("run {id} has ended ({})", run.state.as_str()),
            ));
        }
        shared.running_entry(&id).cancel.cancel();
        Ok((
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "id": id, "state": "running", "cancel_requested": true })),
        )
            .into_response())
    })
    .await
}

/// The content type of an output file.
fn content_type(name: &str) -> &'static str {
    match Path::new(name).extension().and_then(|e| e.to_str()) {
        Some("json") => "application/json",
        Some("csv") => "text/csv; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("png") => "image/png",
        Some("jsonl") => "application/jsonl",
        _ => "text/plain; charset=utf-8",
    }
}

async fn get_file(
    State(shared): State<Arc<Shared>>,
    UrlPath((id, name)): UrlPath<(String, String)>,
) -> Result<Response, ApiError> {
    blocking(move || {
        let run = shared.store().get(&id)?;
        let run = run.ok_or_else(|| ApiError::not_found(format!("no run {id}")))?;
        let outcome: Option<Outcome> = run
            .outcome
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok());
        let Some(outcome) = outcome else {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("run {id} has no files yet ({})", run.state.as_str()),
            ));
        };
        let plain = Path::new(&name)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        let listed = outcome.files.contains(&name)
            || (name.starts_with("overlays/") && name.matches('/').count() == 1);
        if !plain || !listed {
            return Err(ApiError::not_found(format!("run {id} has no file {name}")));
        }
        let path = shared.run_dir(&id).join("out").join(&name);
        let bytes = crate::io::read_bytes(&path)
            .map_err(|_| ApiError::not_found(format!("run {id} has no file {name}")))?;
        Ok((
            [
                (header::CONTENT_TYPE, content_type(&name)),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                // report.html: its own inline styles and data: images only.
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; img-src data:; style-src 'unsafe-inline'",
                ),
            ],
            bytes,
        )
            .into_response())
    })
    .await
}
