//! The OpenAPI 3 document of the API (`GET /v1/openapi.json`).

use serde_json::{json, Value};

use super::api::ROUTES;

fn error_responses(codes: &[&str]) -> Value {
    let mut responses = serde_json::Map::new();
    for code in codes {
        let description = match *code {
            "400" => "Bad request: settings, spec, manifest or inputs unusable",
            "401" => "Missing or unknown bearer token",
            "403" => "A path outside the folders this service may read",
            "404" => "No such run or file",
            "409" => "The run is not in a state that allows this",
            "413" => "Upload or image count over the limit",
            "429" => "The queue is full",
            _ => "Error",
        };
        responses.insert(
            (*code).to_string(),
            json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }),
        );
    }
    Value::Object(responses)
}

fn with(mut responses: Value, code: &str, body: Value) -> Value {
    if let Value::Object(map) = &mut responses {
        map.insert(code.into(), body);
    }
    responses
}

fn id_parameter() -> Value {
    json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } })
}

/// The document; its paths are exactly [`ROUTES`].
///
/// ```
/// let doc = cellvia::service::openapi::document();
/// assert_eq!(doc["openapi"], "3.0.3");
/// assert!(doc["paths"]["/v1/runs"]["post"].is_object());
/// ```
pub fn document() -> Value {
    let secured = json!([{ "bearer": [] }]);
    let run_ref = json!({ "$ref": "#/components/schemas/Run" });
    let operations: Vec<(&str, &str, Value)> = vec![
        (
            "get",
            "/healthz",
            json!({
                "summary": "Liveness: answers while runs are analysed; no token needed",
                "security": [],
                "responses": { "200": { "description": "The service is up" } }
            }),
        ),
        (
            "get",
            "/metrics",
            json!({
                "summary": "Prometheus metrics: runs by state, queue depth, images analysed, images/s",
                "security": secured,
                "responses": with(error_responses(&["401"]), "200", json!({ "description": "Prometheus text format", "content": { "text/plain": {} } }))
            }),
        ),
        (
            "get",
            "/v1/openapi.json",
            json!({
                "summary": "This document",
                "security": secured,
                "responses": with(error_responses(&["401"]), "200", json!({ "description": "OpenAPI 3 document" }))
            }),
        ),
        (
            "get",
            "/v1/runs",
            json!({
                "summary": "List runs, newest first",
                "security": secured,
                "parameters": [
                    { "name": "state", "in": "query", "schema": { "type": "string", "enum": ["queued", "running", "done", "failed", "cancelled"] } },
                    { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 100 } }
                ],
                "responses": with(error_responses(&["400", "401"]), "200", json!({ "description": "Runs", "content": { "application/json": { "schema": { "type": "object", "properties": { "runs": { "type": "array", "items": run_ref } } } } } }))
            }),
        ),
        (
            "post",
            "/v1/runs",
            json!({
                "summary": "Submit a run: paths under a root (JSON) or uploaded images (multipart)",
                "security": secured,
                "requestBody": { "required": true, "content": {
                    "application/json": { "schema": { "$ref": "#/components/schemas/Submit" } },
                    "multipart/form-data": { "schema": { "type": "object", "properties": {
                        "files": { "type": "array", "items": { "type": "string", "format": "binary" } },
                        "manifest": { "type": "string" }, "spec": { "type": "string" },
                        "settings": { "type": "string", "description": "JSON object of config keys" },
                        "assay": { "type": "string", "enum": ["trypan", "aopi"] },
                        "operator": { "type": "string" },
                        "meta": { "type": "string", "description": "JSON object of strings" }
                    } } }
                } },
                "responses": with(error_responses(&["400", "401", "403", "413", "429"]), "202", json!({
                    "description": "Queued; Location names the run",
                    "headers": { "Location": { "schema": { "type": "string" } } },
                    "content": { "application/json": { "schema": { "type": "object", "properties": { "id": { "type": "string" }, "state": { "type": "string" } } } } }
                }))
            }),
        ),
        (
            "get",
            "/v1/runs/{id}",
            json!({
                "summary": "A run: state, progress, and when done its summary and samples",
                "security": secured,
                "parameters": [id_parameter()],
                "responses": with(error_responses(&["401", "404"]), "200", json!({ "description": "The run", "content": { "application/json": { "schema": run_ref } } }))
            }),
        ),
        (
            "delete",
            "/v1/runs/{id}",
            json!({
                "summary": "Cancel a queued or running run (nothing of it is committed)",
                "security": secured,
                "parameters": [id_parameter()],
                "responses": with(with(error_responses(&["401", "404", "409"]), "200", json!({ "description": "Cancelled" })), "202", json!({ "description": "Running: cancel requested" }))
            }),
        ),
        (
            "get",
            "/v1/runs/{id}/files/{name}",
            json!({
                "summary": "An output file: results.json, samples.csv, images.csv, cells.csv, report.html, results.asm.json, overlays/...",
                "security": secured,
                "parameters": [id_parameter(), { "name": "name", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": with(error_responses(&["401", "404", "409"]), "200", json!({ "description": "The file's bytes" }))
            }),
        ),
    ];
    let mut paths = serde_json::Map::new();
    for (method, path, operation) in operations {
        debug_assert!(ROUTES.contains(&(method, path)));
        let entry = paths
            .entry(path.to_string())
            .or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(map) = entry {
            map.insert(method.to_string(), operation);
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "cellvia",
            "version": crate::SOFTWARE_VERSION,
            "description": "Cell counting and viability analysis as a service: the same analysis, outputs and run log as the cellvia command line."
        },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": { "type": "object", "required": ["error"], "properties": { "error": { "type": "string" } } },
                "Submit": { "type": "object", "additionalProperties": false, "properties": {
                    "inputs": { "type": "array", "items": { "type": "string" }, "description": "Image files and folders under a --root" },
                    "manifest": { "type": "string", "description": "Sample manifest CSV text: sample_id,image_path[,dilution,...]" },
                    "settings": { "type": "object", "description": "Config keys (cellvia config --print-default)" },
                    "spec": { "type": "string", "description": "Release spec, TOML text" },
                    "assay": { "type": "string", "enum": ["trypan", "aopi"] },
                    "operator": { "type": "string" },
                    "meta": { "type": "object", "additionalProperties": { "type": "string" } }
                } },
                "Run": { "type": "object", "required": ["id", "state", "created_utc", "progress", "operator"], "properties": {
                    "id": { "type": "string" },
                    "state": { "type": "string", "enum": ["queued", "running", "done", "failed", "cancelled"] },
                    "created_utc": { "type": "string" }, "started_utc": { "type": "string" }, "finished_utc": { "type": "string" },
                    "progress": { "type": "object", "properties": { "done": { "type": "integer" }, "total": { "type": "integer" } } },
                    "operator": { "type": "string" },
                    "error": { "type": "string" },
                    "summary": { "type": "object" },
                    "samples": { "type": "array", "items": { "type": "object" } },
                    "exit_code": { "type": "integer" },
                    "record_sha256": { "type": "string" },
                    "files": { "type": "array", "items": { "type": "string" } }
                } }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_exactly_the_routes() {
        let doc = document();
        let mut listed: Vec<(String, String)> = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                listed.push((method.clone(), path.clone()));
            }
        }
        listed.sort();
        let mut routes: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| ((*m).to_string(), (*p).to_string()))
            .collect();
        routes.sort();
        assert_eq!(listed, routes);
    }
}
