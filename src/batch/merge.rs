//! `merge`: shards of one batch back into one set of outputs, byte for byte
//! what one run writes (but for its `run` block), from the shards' image
//! records, after checking they are whole, alike and unedited.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::assemble::{absolute, thumbnail_name, Assembly, Closing, FieldFile};
use super::fields::{export_name, overlay_name};
use super::outputs::{self, verified_log};
use super::plan::{PlannedSample, SamplePlan};
use super::run::unix_now;
use super::shard::{plan_sha256, ShardFile, SHARD_FILE, SHARD_SCHEMA};
use super::{BatchError, BatchOutcome, Observer};
use crate::aggregate::spec::SpecUsed;
use crate::audit::signature::RecordSigner;
use crate::audit::MergedShard;
use crate::io::commit::Staging;
use crate::io::published::{parse_checksum_list, Folder};
use crate::io::{self};
use crate::report::{Results, RunFacts, Software};

/// What a merge needs.
#[derive(Debug, Clone)]
pub struct MergeRequest {
    /// The shards' output folders, in any order.
    pub shards: Vec<PathBuf>,
    /// The run log holding the shards' records, when they share one;
    /// else each shard's `run-log.jsonl`.
    pub shard_log: Option<PathBuf>,
    pub out: PathBuf,
    pub run_log: Option<PathBuf>,
    pub overwrite: bool,
    /// The release spec; the shards' own when `None`.
    pub spec: Option<SpecUsed>,
    /// Write results.asm.json too.
    pub asm: bool,
    pub operator: Option<String>,
    pub signer: Option<RecordSigner>,
}

fn refuse(message: String) -> BatchError {
    BatchError::Merge(message)
}

/// A shard folder whose files its run-log record vouches for.
struct CheckedShard {
    dir: PathBuf,
    file: ShardFile,
    record_sha256: String,
    /// SHA-256 of its results.json, as logged.
    results_sha256: String,
    /// SHA-256 of its list of skipped files: the list itself (as long as
    /// the batch's, in every shard) is kept of shard 0 only.
    skipped_sha256: String,
    /// Per published folder: file name -> SHA-256, from its checksum list.
    folders: BTreeMap<Folder, BTreeMap<String, String>>,
}

/// Reads a shard folder and checks its files against its log record.
fn check_shard(dir: &Path, shard_log: Option<&Path>) -> Result<CheckedShard, BatchError> {
    let log = shard_log.map_or_else(|| dir.join(super::RUN_LOG_NAME), Path::to_path_buf);
    let text = verified_log(&log, "its shards cannot be vouched for")?;
    let records = crate::audit::latest_records(&text).map_err(|source| BatchError::LogBroken {
        path: log.clone(),
        consequence: "its shards cannot be vouched for",
        source,
    })?;
    let key = absolute(dir).display().to_string();
    let shown = dir.display();
    let record = records.get(&key).ok_or_else(|| {
        refuse(format!(
            "{shown}: no record in {} names this folder",
            log.display()
        ))
    })?;
    let read_vouched = |name: &str, expected: Option<&String>| -> Result<Vec<u8>, BatchError> {
        let bytes = io::read_bytes(&dir.join(name))?;
        if expected != Some(&crate::sha256_hex(&bytes)) {
            return Err(refuse(format!(
                "{shown}: {name} was changed after its run-log record (or is not listed in it)"
            )));
        }
        Ok(bytes)
    };
    let shard_bytes = read_vouched(SHARD_FILE, record.outputs.get(SHARD_FILE))?;
    let mut file: ShardFile = serde_json::from_slice(&shard_bytes)
        .map_err(|e| refuse(format!("{shown}: {SHARD_FILE}: {e}")))?;
    let skipped_sha256 = crate::sha256_hex(file.skipped.join("\n").as_bytes());
    if file.shard.index != 0 {
        file.skipped = Vec::new();
    }
    if file.schema != SHARD_SCHEMA {
        return Err(refuse(format!(
            "{shown}: {SHARD_FILE} is {}, not {SHARD_SCHEMA}",
            file.schema
        )));
    }
    for name in record.outputs.keys() {
        read_vouched(name, record.outputs.get(name))?;
    }
    let mut folders = BTreeMap::new();
    for folder in Folder::ALL {
        if record.outputs.contains_key(folder.sums()) {
            let sums = io::read_text(&dir.join(folder.sums()))?;
            folders.insert(folder, parse_checksum_list(&sums));
        }
    }
    let results_sha256 = record
        .outputs
        .get("results.json")
        .cloned()
        .ok_or_else(|| refuse(format!("{shown}: its record lists no results.json")))?;
    Ok(CheckedShard {
        dir: dir.to_path_buf(),
        file,
        record_sha256: record.sha256.clone(),
        results_sha256,
        skipped_sha256,
        folders,
    })
}

/// Orders the shards and checks they are one batch's, each once, none missing.
fn order(mut shards: Vec<CheckedShard>) -> Result<Vec<CheckedShard>, BatchError> {
    shards.sort_by_key(|s| s.file.shard.index);
    let first = &shards
        .first()
        .ok_or_else(|| refuse("no shard folders given".into()))?
        .file;
    let count = first.shard.count;
    for pair in shards.windows(2) {
        if pair[0].file.shard.index == pair[1].file.shard.index {
            return Err(refuse(format!(
                "shard {} is given twice: {} and {}",
                pair[0].file.shard,
                pair[0].dir.display(),
                pair[1].dir.display()
            )));
        }
    }
    for shard in &shards {
        let f = &shard.file;
        let differs = |what: &str| {
            refuse(format!(
                "{} differs from {} in its {what}: not shards of one batch",
                shard.dir.display(),
                shards[0].dir.display()
            ))
        };
        if f.shard.count != count {
            return Err(differs("shard count"));
        }
        if f.inputs_sha256 != first.inputs_sha256
            || f.fields != first.fields
            || shard.skipped_sha256 != shards[0].skipped_sha256
        {
            return Err(differs("inputs"));
        }
        if f.config_sha256 != first.config_sha256 {
            return Err(differs("settings (config)"));
        }
        if f.model != first.model {
            return Err(differs("model"));
        }
        if f.spec != first.spec
            || f.metadata != first.metadata
            || f.plan_sha256 != first.plan_sha256
        {
            return Err(differs("spec, metadata or samples"));
        }
    }
    let missing: Vec<String> = (0..count)
        .filter(|k| !shards.iter().any(|s| s.file.shard.index == *k))
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(refuse(format!("shards missing: {}", missing.join(", "))));
    }
    Ok(shards)
}

/// The whole batch's sample plan, from the shards' parts of it: each
/// covering the fields after the last one's, and adding up to the plan
/// every shard names by its hash.
fn whole_plan(shards: &[CheckedShard]) -> Result<SamplePlan, BatchError> {
    let first = &shards[0].file;
    let mut samples: Vec<Option<PlannedSample>> = vec![None; first.sample_count];
    let mut field_sample = Vec::with_capacity(first.fields);
    for shard in shards {
        let f = &shard.file;
        let [start, end] = f.range;
        if start != field_sample.len() || end < start || f.field_sample.len() != end - start {
            return Err(refuse(format!(
                "{}: covers fields {start}..{end}, expected them from {}",
                shard.dir.display(),
                field_sample.len()
            )));
        }
        field_sample.extend_from_slice(&f.field_sample);
        for (&index, sample) in &f.samples {
            match samples.get_mut(index) {
                Some(slot @ None) => *slot = Some(sample.clone()),
                Some(Some(known)) if known == sample => {}
                _ => {
                    return Err(refuse(format!(
                        "{}: sample {index} does not match the other shards'",
                        shard.dir.display()
                    )))
                }
            }
        }
    }
    let plan = SamplePlan {
        samples: samples.into_iter().flatten().collect(),
        field_sample,
    };
    if plan.samples.len() != first.sample_count
        || plan.field_sample.len() != first.fields
        || plan_sha256(&plan) != first.plan_sha256
    {
        return Err(refuse(
            "the shards' samples do not add up to their batch's".into(),
        ));
    }
    Ok(plan)
}

/// Reads a vouched file of a shard's published folder, if it has one.
fn vouched(
    shard: &CheckedShard,
    folder: Folder,
    name: &str,
) -> Result<Option<Vec<u8>>, BatchError> {
    let Some(expected) = shard.folders.get(&folder).and_then(|f| f.get(name)) else {
        return Ok(None);
    };
    let bytes = io::read_bytes(&shard.dir.join(folder.dir()).join(name))?;
    if &crate::sha256_hex(&bytes) != expected {
        return Err(refuse(format!(
            "{}: {}/{name} was changed after its run-log record",
            shard.dir.display(),
            folder.dir()
        )));
    }
    Ok(Some(bytes))
}

/// Merges shard folders into `request.out`: see the [module](self).
pub fn merge(
    request: MergeRequest,
    observer: &mut dyn Observer,
) -> Result<BatchOutcome, BatchError> {
    let started = unix_now();
    let shards = request
        .shards
        .iter()
        .map(|dir| check_shard(dir, request.shard_log.as_deref()))
        .collect::<Result<Vec<_>, _>>()?;
    let shards = order(shards)?;
    let first = shards[0].file.clone();
    let mut config = first.config.clone();
    config.report.asm |= request.asm;
    let spec = request.spec.clone().or(first.spec.clone());
    let plan = whole_plan(&shards)?;
    let folder = outputs::prepare(&request.out, request.run_log.as_deref(), request.overwrite)?;
    observer.started(first.fields);
    let software = Software::default();
    let mut assembly = Assembly::start(
        Staging::create(&folder.lock)?,
        &plan,
        &config,
        &software,
        &first.model,
        false,
    )?;
    for shard in &shards {
        let [start, end] = shard.file.range;
        // Read again, and checked again, in case it changed since the check.
        let bytes = io::read_bytes(&shard.dir.join("results.json"))?;
        if crate::sha256_hex(&bytes) != shard.results_sha256 {
            return Err(refuse(format!(
                "{}: results.json was changed after its run-log record",
                shard.dir.display()
            )));
        }
        let results: Results = serde_json::from_slice(&bytes)
            .map_err(|e| refuse(format!("{}: results.json: {e}", shard.dir.display())))?;
        if results.images.len() != end - start {
            return Err(refuse(format!(
                "{}: {} image records for {} fields",
                shard.dir.display(),
                results.images.len(),
                end - start
            )));
        }
        for (index, record) in (start..end).zip(&results.images) {
            let path = Path::new(&record.path);
            let names = std::iter::once((Folder::Overlays, overlay_name(index, path))).chain(
                config
                    .report
                    .exports
                    .iter()
                    .map(|&kind| (Folder::Exports, export_name(index, path, kind))),
            );
            let mut files = Vec::new();
            for (folder, name) in names {
                if let Some(bytes) = vouched(shard, folder, &name)? {
                    files.push(FieldFile {
                        folder,
                        name,
                        bytes,
                    });
                }
            }
            let thumbnail = vouched(shard, Folder::Overlays, &thumbnail_name(index))?;
            observer.field_done(index, first.fields, record);
            assembly.add(index, record, files, thumbnail);
        }
    }
    assembly.finish(Closing {
        folder: &folder,
        out: &request.out,
        software: &software,
        model: &first.model,
        spec: spec.as_ref(),
        skipped: &first.skipped,
        run: RunFacts {
            started_unix_s: started,
            finished_unix_s: unix_now(),
            host: io::host_name(),
            threads: 1,
            operator: request.operator.clone(),
            metadata: first.metadata.clone(),
            pixel_size_source: first.pixel_size_source.clone(),
        },
        signer: request.signer.as_ref(),
        shard: None,
        merged: shards
            .iter()
            .map(|s| MergedShard {
                shard: s.file.shard.to_string(),
                out: absolute(&s.dir).display().to_string(),
                record_sha256: s.record_sha256.clone(),
            })
            .collect(),
    })
}
