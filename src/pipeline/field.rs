//! Classification and the field's record: calls, gates, clusters, counts,
//! quality figures, the overlay and the exports.

use std::time::Instant;

use super::candidates::{candidates, Candidates};
use super::{within_budget, FieldError, FieldOutput, Source, StageTimes};
use crate::aggregate::confidence::CallTally;
use crate::aggregate::record::{round, CellRecord, DebrisReport, ImageRecord, StainRecord, Status};
use crate::aggregate::{clusters_of_cells, Counts};
use crate::classify::{CellClass, ClassifyError, Score, Viability};
use crate::config::Config;
use crate::gate::GateReason;
use crate::measure::focus::median_finite;
use crate::measure::ObjectMeasurement;
use crate::report::overlay::Outline;
use crate::segment::scale::FieldDiameter;

/// Scores every candidate: the model on crops (with each crop's novelty
/// where the model gives one), or the rule on stains.
fn score(
    cands: &Candidates,
    viability: &Viability,
) -> Result<(Vec<CellClass>, Vec<Score>), ClassifyError> {
    Ok(match viability {
        Viability::Model(classifier) => {
            let scores = classifier.classify(&cands.crops)?;
            (
                scores.iter().map(|s| s.probabilities.class()).collect(),
                scores,
            )
        }
        Viability::AopiRule(rule) => cands
            .stains
            .iter()
            .map(|s| {
                let (class, probabilities) = rule.score(s);
                let novelty = None;
                (
                    class,
                    Score {
                        probabilities,
                        novelty,
                    },
                )
            })
            .unzip(),
    })
}

pub(super) fn analyze_field(
    path: &str,
    source: Source,
    config: &Config,
    viability: &Viability,
    want_overlay: bool,
    diameter: Option<&FieldDiameter>,
    times: &mut StageTimes,
) -> Result<FieldOutput, FieldError> {
    if config.assay != viability.assay() {
        return Err(FieldError::AssayMismatch {
            config: config.assay,
            stage: viability.assay(),
        });
    }
    let spec = viability.crop_spec();
    let cands = candidates(source, config, spec.as_ref(), diameter, times)?;
    let t = Instant::now();
    within_budget(times, config)?;
    let (classes, scores) = score(&cands, viability)?;
    times.classify += t.elapsed();
    within_budget(times, config)?;

    let report_start = Instant::now();
    let gates: Vec<Option<GateReason>> = cands
        .objects
        .iter()
        .zip(&classes)
        .map(|(obj, &class)| match class {
            CellClass::Debris => None,
            _ => config.gate.check(obj, config.pixel_size_um),
        })
        .collect();
    // What is counted: gated-out cells are clustered like debris.
    let counted: Vec<CellClass> = classes
        .iter()
        .zip(&gates)
        .map(|(&class, gate)| {
            if gate.is_some() {
                CellClass::Debris
            } else {
                class
            }
        })
        .collect();
    let (cluster_sizes, cluster_ids) = clusters_of_cells(&cands.clusters, &counted);
    let mut counts = Counts::from_classes(
        classes
            .iter()
            .zip(&gates)
            .filter(|(_, gate)| gate.is_none())
            .map(|(&class, _)| class),
    );
    counts.aggregated = cluster_sizes.iter().filter(|&&s| s >= 2).count() as u32;
    counts.gated = gates.iter().flatten().count() as u32;
    let mut cells = Vec::new();
    let mut gated = Vec::new();
    let mut debris = DebrisReport::default();
    for (i, (obj, score)) in cands.objects.iter().zip(&scores).enumerate() {
        let mut record = cell_record(obj, score, classes[i], config.pixel_size_um);
        if let Some(stain) = cands.stains.get(i) {
            record.stain = Some(StainRecord::from(stain));
        }
        record.cluster = cluster_ids[i];
        record.cluster_size = cluster_sizes[i];
        record.gated_out = gates[i];
        if gates[i].is_some() {
            gated.push(record);
        } else if classes[i] == CellClass::Debris {
            debris.count += 1;
            if config.report.list_debris {
                debris.objects.push(record);
            }
        } else {
            cells.push(record);
        }
    }
    let overlay_start = Instant::now();
    let overlay = want_overlay.then(|| {
        let outlines: Vec<Outline> = classes
            .iter()
            .zip(&gates)
            .map(|(&class, &gate)| Outline::of(class, gate))
            .collect();
        let region = config.gate.counting_region.as_ref();
        crate::report::overlay::render(&cands.intensity, &cands.labels, &outlines, &counts, region)
    });
    let drawing = overlay_start.elapsed();
    times.overlay += drawing;
    // Every object cells.csv lists, with its id.
    let exports = if config.report.exports.is_empty() {
        Vec::new()
    } else {
        let listed: Vec<&CellRecord> = cells.iter().chain(&gated).chain(&debris.objects).collect();
        crate::report::export::encode(&config.report.exports, &cands.labels, &listed)?
    };
    // Focus and crowding are properties of the picture: every cell counts,
    // gated out or not.
    let is_cell = |i: &usize| classes[*i] != CellClass::Debris;
    let mut quality = cands.quality;
    quality.edge_width_px = median_finite(
        (0..classes.len())
            .filter(is_cell)
            .map(|i| cands.edge_widths[i]),
    )
    .map(|v| round(f64::from(v), 3));
    let cell_area: u64 = (0..classes.len())
        .filter(is_cell)
        .map(|i| u64::from(cands.objects[i].area_px))
        .sum();
    let analysed_area = f64::from(cands.intensity.width())
        * f64::from(cands.intensity.height())
        * (1.0 - quality.excluded_fraction);
    quality.cell_coverage = round(cell_area as f64 / analysed_area.max(1.0), 4);
    let quality_flags = config.quality.flags(&quality, config.assay);
    let calls = matches!(viability, Viability::Model(_)).then(|| {
        CallTally::of(
            scores.iter().map(|s| s.novelty),
            cells.iter().map(|c| c.p_live),
        )
    });
    let record = ImageRecord {
        path: path.to_string(),
        pi_path: None,
        sha256: None,
        pi_sha256: None,
        status: Status::Ok,
        error: None,
        width: Some(cands.intensity.width()),
        height: Some(cands.intensity.height()),
        counts: Some(counts),
        viability: counts.viability().map(|v| round(v, 4)),
        aggregate_fraction: counts.aggregate_fraction().map(|v| round(v, 4)),
        debris: Some(debris),
        quality: Some(quality),
        diameter: Some(cands.diameter),
        calls,
        quality_flags,
        cells,
        gated,
    };
    times.report += report_start.elapsed().saturating_sub(drawing);
    Ok((record, overlay, exports))
}

fn cell_record(
    obj: &ObjectMeasurement,
    score: &Score,
    class: CellClass,
    pixel_size_um: Option<f64>,
) -> CellRecord {
    let p = &score.probabilities;
    CellRecord {
        id: obj.id,
        x: round(obj.x, 2),
        y: round(obj.y, 2),
        area_px: obj.area_px,
        diameter_px: round(obj.diameter_px, 2),
        diameter_um: pixel_size_um.map(|s| round(obj.diameter_px * s, 2)),
        circularity: round(obj.circularity, 3),
        mean_intensity: round(obj.mean_intensity, 4),
        min_intensity: round(obj.min_intensity, 4),
        max_intensity: round(obj.max_intensity, 4),
        bbox: obj.bbox,
        label: class,
        p_live: round(f64::from(p.p_live_given_cell()), 4),
        p_cell: round(f64::from(p.live + p.dead), 4),
        touches_border: obj.touches_border,
        cluster: 0,
        cluster_size: 0,
        gated_out: None,
        stain: None,
        novelty: score.novelty.map(|v| round(f64::from(v), 3)),
    }
}
