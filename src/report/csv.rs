//! `images.csv` (one row per image) and `cells.csv` (one row per cell).

use crate::aggregate::record::{CellRecord, ImageRecord, StainRecord};
use crate::aggregate::sample::{Estimate, SampleResult};
use crate::segment::scale::DiameterSource;

/// The header line of `images.csv`.
///
/// ```
/// let header = cellvia::report::csv::images_header().unwrap();
/// assert!(header.starts_with("path,sample_id,status,error,width,height,total,live,dead,debris,viability,"));
/// assert!(header.ends_with(",quality_flags,diameter_source,diameter_min_px,diameter_max_px,diameter_measured_px\n"));
/// ```
pub fn images_header() -> Result<String, csv::Error> {
    line([
        "path",
        "sample_id",
        "status",
        "error",
        "width",
        "height",
        "total",
        "live",
        "dead",
        "debris",
        "viability",
        "aggregated",
        "aggregate_fraction",
        "gated",
        "edge_width_px",
        "illumination_spread",
        "saturated_fraction",
        "cell_coverage",
        "quality_flags",
        "diameter_source",
        "diameter_min_px",
        "diameter_max_px",
        "diameter_measured_px",
    ])
}

/// One image's line of `images.csv`.
///
/// ```
/// use cellvia::aggregate::record::ImageRecord;
/// use cellvia::report::csv::image_row;
/// let row = image_row(&ImageRecord::failed("a,b.png", "truncated".into()), "lot 7").unwrap();
/// assert_eq!(row, "\"a,b.png\",lot 7,error,truncated,,,,,,,,,,,,,,,,,,,\n");
/// ```
pub fn image_row(r: &ImageRecord, sample_id: &str) -> Result<String, csv::Error> {
    let opt = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
    let fraction = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    let c = r.counts;
    let d = r.diameter;
    line([
        r.path.clone(),
        sample_id.to_string(),
        format!("{:?}", r.status).to_lowercase(),
        r.error.clone().unwrap_or_default(),
        opt(r.width),
        opt(r.height),
        opt(c.map(|c| c.total)),
        opt(c.map(|c| c.live)),
        opt(c.map(|c| c.dead)),
        opt(c.map(|c| c.debris)),
        fraction(r.viability),
        opt(c.map(|c| c.aggregated)),
        fraction(r.aggregate_fraction),
        opt(c.map(|c| c.gated)),
        r.quality
            .and_then(|q| q.edge_width_px)
            .map(|v| v.to_string())
            .unwrap_or_default(),
        fraction(r.quality.and_then(|q| q.illumination_spread)),
        r.quality
            .map(|q| q.saturated_fraction.to_string())
            .unwrap_or_default(),
        fraction(r.quality.map(|q| q.cell_coverage)),
        r.quality_flags
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join(";"),
        d.map(|d| source_name(d.source)).unwrap_or_default(),
        d.map(|d| d.min_px.to_string()).unwrap_or_default(),
        d.map(|d| d.max_px.to_string()).unwrap_or_default(),
        d.and_then(|d| d.field_px)
            .map(|v| v.to_string())
            .unwrap_or_default(),
    ])
}

/// How a diameter range was found, as written in the CSV files.
fn source_name(source: DiameterSource) -> String {
    match source {
        DiameterSource::Fixed => "fixed",
        DiameterSource::Measured => "measured",
        DiameterSource::Fallback => "fallback",
    }
    .to_string()
}

/// The header line of `cells.csv`.
///
/// ```
/// let header = cellvia::report::csv::cells_header().unwrap();
/// assert!(header.ends_with(",cluster,cluster_size,ao,pi,pi_fraction,stain_sigma,novelty\n"));
/// ```
pub fn cells_header() -> Result<String, csv::Error> {
    line([
        "path",
        "sample_id",
        "id",
        "x",
        "y",
        "area_px",
        "diameter_px",
        "diameter_um",
        "circularity",
        "mean_intensity",
        "min_intensity",
        "max_intensity",
        "bbox_x_min",
        "bbox_y_min",
        "bbox_x_max",
        "bbox_y_max",
        "label",
        "counted",
        "gated_out",
        "p_live",
        "p_cell",
        "cluster",
        "cluster_size",
        "ao",
        "pi",
        "pi_fraction",
        "stain_sigma",
        "novelty",
    ])
}

/// The lines of `cells.csv` for one image's objects (none for a failed
/// image): its counted cells (`counted` true), then the cells a gate left
/// out (`gated_out` names the gate), then debris when listed
/// (`report.list_debris`), so Fiji or QuPath users see every object with
/// its fate.
///
/// ```
/// use cellvia::aggregate::record::ImageRecord;
/// use cellvia::report::csv::cell_rows;
/// assert_eq!(cell_rows(&ImageRecord::failed("x.png", "bad".into()), "s").unwrap(), "");
/// ```
pub fn cell_rows(r: &ImageRecord, sample_id: &str) -> Result<String, csv::Error> {
    let debris = r.debris.as_ref().map_or(&[][..], |d| d.objects.as_slice());
    let counted = r.cells.iter().map(|c| (c, true));
    let left_out = r.gated.iter().chain(debris).map(|c| (c, false));
    let mut out = String::new();
    for (c, counted) in counted.chain(left_out) {
        out.push_str(&cell_row(r, sample_id, c, counted)?);
    }
    Ok(out)
}

fn cell_row(
    r: &ImageRecord,
    sample_id: &str,
    c: &CellRecord,
    counted: bool,
) -> Result<String, csv::Error> {
    let stain = |f: fn(&StainRecord) -> f64| {
        c.stain
            .as_ref()
            .map(|s| f(s).to_string())
            .unwrap_or_default()
    };
    line([
        r.path.clone(),
        sample_id.to_string(),
        c.id.to_string(),
        c.x.to_string(),
        c.y.to_string(),
        c.area_px.to_string(),
        c.diameter_px.to_string(),
        c.diameter_um.map(|d| d.to_string()).unwrap_or_default(),
        c.circularity.to_string(),
        c.mean_intensity.to_string(),
        c.min_intensity.to_string(),
        c.max_intensity.to_string(),
        c.bbox[0].to_string(),
        c.bbox[1].to_string(),
        c.bbox[2].to_string(),
        c.bbox[3].to_string(),
        c.label.as_str().to_string(),
        counted.to_string(),
        c.gated_out
            .map(|g| g.as_str().to_string())
            .unwrap_or_default(),
        c.p_live.to_string(),
        c.p_cell.to_string(),
        c.cluster.to_string(),
        c.cluster_size.to_string(),
        stain(|s| s.ao),
        stain(|s| s.pi),
        stain(|s| s.pi_fraction),
        stain(|s| s.sigma),
        c.novelty.map(|v| v.to_string()).unwrap_or_default(),
    ])
}

/// The metadata keys of `samples` (manifest columns, `--meta`), sorted:
/// one `samples.csv` column each, after the fixed ones.
pub fn metadata_keys(samples: &[SampleResult]) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> =
        samples.iter().flat_map(|s| s.metadata.keys()).collect();
    keys.into_iter().cloned().collect()
}

/// The header line of `samples.csv`, with one column per metadata key.
///
/// ```
/// let header = cellvia::report::csv::samples_header(&["donor".into()]).unwrap();
/// assert!(header.starts_with("sample_id,fields,fields_failed,total,live,dead,debris,viability,"));
/// assert!(header.ends_with(",verdict,reasons,warnings,donor\n"));
/// ```
pub fn samples_header(metadata_keys: &[String]) -> Result<String, csv::Error> {
    let fixed = [
        "sample_id",
        "fields",
        "fields_failed",
        "total",
        "live",
        "dead",
        "debris",
        "viability",
        "viability_ci95_low",
        "viability_ci95_high",
        "dilution_factor",
        "chamber_depth_um",
        "imaged_volume_ul",
        "total_per_ml",
        "total_per_ml_ci95_low",
        "total_per_ml_ci95_high",
        "live_per_ml",
        "live_per_ml_ci95_low",
        "live_per_ml_ci95_high",
        "dead_per_ml",
        "dead_per_ml_ci95_low",
        "dead_per_ml_ci95_high",
        "mean_diameter_live_um",
        "mean_diameter_dead_um",
        "mean_diameter_live_px",
        "mean_diameter_dead_px",
        "aggregate_fraction",
        "debris_fraction",
        "fields_flagged",
        "diameter_source",
        "diameter_measured_px",
        "uncertain_fraction",
        "novel_fraction",
        "verdict",
        "reasons",
        "warnings",
    ];
    line(
        fixed
            .into_iter()
            .chain(metadata_keys.iter().map(String::as_str)),
    )
}

/// One sample's line of `samples.csv` (reasons and warnings joined by "; "),
/// then its value of each metadata key (empty where it has none).
pub fn sample_row(s: &SampleResult, metadata_keys: &[String]) -> Result<String, csv::Error> {
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let estimate = |e: Option<Estimate>| {
        [
            opt(e.map(|e| e.value)),
            opt(e.map(|e| e.ci95[0])),
            opt(e.map(|e| e.ci95[1])),
        ]
    };
    let c = s.concentration_per_ml;
    let mut fields = vec![
        s.sample_id.clone(),
        s.fields.to_string(),
        s.fields_failed.to_string(),
        s.counts.total.to_string(),
        s.counts.live.to_string(),
        s.counts.dead.to_string(),
        s.counts.debris.to_string(),
    ];
    fields.extend(estimate(s.viability));
    fields.extend([
        s.dilution_factor.to_string(),
        s.chamber_depth_um.to_string(),
        opt(s.imaged_volume_ul),
    ]);
    fields.extend(estimate(c.map(|c| c.total)));
    fields.extend(estimate(c.map(|c| c.live)));
    fields.extend(estimate(c.map(|c| c.dead)));
    fields.extend([
        opt(s.mean_diameter_um.live),
        opt(s.mean_diameter_um.dead),
        opt(s.mean_diameter_px.live),
        opt(s.mean_diameter_px.dead),
        opt(s.aggregate_fraction),
        opt(s.debris_fraction),
        s.fields_flagged.to_string(),
        s.diameter
            .map(|d| source_name(d.source))
            .unwrap_or_default(),
        opt(s.diameter.and_then(|d| d.measured_px)),
        opt(s.call_confidence.and_then(|c| c.uncertain_fraction)),
        opt(s.call_confidence.and_then(|c| c.novel_fraction)),
        s.verdict
            .as_ref()
            .map(|v| v.verdict.as_str().to_string())
            .unwrap_or_default(),
        s.verdict
            .as_ref()
            .map(|v| v.reasons.join("; "))
            .unwrap_or_default(),
        s.warnings.join("; "),
    ]);
    fields.extend(
        metadata_keys
            .iter()
            .map(|k| s.metadata.get(k).cloned().unwrap_or_default()),
    );
    line(fields)
}

/// One CSV record, quoted as needed, with its line end.
fn line<I, T>(fields: I) -> Result<String, csv::Error>
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    let mut w = csv::Writer::from_writer(Vec::new());
    for field in fields {
        w.write_field(inert(field.as_ref()))?;
    }
    w.write_record(None::<&[u8]>)?;
    finish(w)
}

/// A field a spreadsheet will not run as a formula: text (sample ids,
/// metadata, file names, errors) that starts with `= + - @`, a tab or a
/// carriage return gets a leading `'` (OWASP's CSV-injection advice).
/// Numbers, negative ones included, are left alone.
///
/// ```
/// # use cellvia::report::csv::inert;
/// assert_eq!(inert(b"=HYPERLINK(\"x\")").as_ref(), b"'=HYPERLINK(\"x\")");
/// assert_eq!(inert(b"-0.25").as_ref(), b"-0.25");
/// assert_eq!(inert(b"donor 7").as_ref(), b"donor 7");
/// ```
pub fn inert(field: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let risky = matches!(
        field.first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    );
    let number = std::str::from_utf8(field).is_ok_and(|t| t.parse::<f64>().is_ok());
    if risky && !number {
        let mut quoted = Vec::with_capacity(field.len() + 1);
        quoted.push(b'\'');
        quoted.extend_from_slice(field);
        std::borrow::Cow::Owned(quoted)
    } else {
        std::borrow::Cow::Borrowed(field)
    }
}

fn finish(w: csv::Writer<Vec<u8>>) -> Result<String, csv::Error> {
    let bytes = w
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
