//! `results.json` written image by image: the head (software, model,
//! config), one record per image as it completes, then the tail (summary,
//! skipped files, run facts). The bytes equal
//! [`Results::to_json`](crate::report::Results::to_json) of the
//! same content, so a streamed file and one written at once are identical,
//! and memory stays flat in the number of images.

use serde::Serialize;

use super::{pretty_json, RunFacts, Software};
use crate::aggregate::record::ImageRecord;
use crate::aggregate::sample::SampleResult;
use crate::aggregate::spec::SpecUsed;
use crate::aggregate::BatchSummary;
use crate::classify::ModelInfo;
use crate::config::Config;

/// Indent of an element of the top-level `images` array in pretty JSON.
const ITEM_INDENT: &str = "    ";

#[derive(Serialize)]
struct Head<'a> {
    schema: &'a str,
    software: &'a Software,
    model: &'a ModelInfo,
    config: &'a Config,
    config_sha256: String,
}

#[derive(Serialize)]
struct Tail<'a> {
    summary: &'a BatchSummary,
    samples: &'a [SampleResult],
    #[serde(skip_serializing_if = "Option::is_none")]
    spec: Option<&'a SpecUsed>,
    skipped: &'a [String],
    run: &'a RunFacts,
}

/// What follows the image records: the batch summary, per-sample results,
/// the spec applied, skipped files and run facts.
#[derive(Debug, Clone, Copy)]
pub struct TailParts<'a> {
    pub summary: &'a BatchSummary,
    pub samples: &'a [SampleResult],
    pub spec: Option<&'a SpecUsed>,
    pub skipped: &'a [String],
    pub run: &'a RunFacts,
}

/// What one image adds to each result file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordText {
    /// The `results.json` element, with its separator.
    pub json: String,
    /// The `images.csv` line.
    pub images_row: String,
    /// The `cells.csv` lines (none for a failed image).
    pub cell_rows: String,
}

/// Streams the pieces of one `results.json`; the caller writes each piece:
/// [`head`](Self::head), one [`image`](Self::image) per record in input
/// order, then [`tail`](Self::tail).
///
/// ```
/// use cellvia::{aggregate::BatchSummary, classify::ModelInfo, config::Config};
/// use cellvia::aggregate::record::ImageRecord;
/// use cellvia::report::{stream::{ResultsStream, TailParts}, Results, RunFacts, Software};
/// let model = ModelInfo { name: "m".into(), sha256: "00".into(), path: "m.onnx".into() };
/// let run = RunFacts { started_unix_s: 0.0, finished_unix_s: 1.0, host: "h".into(), threads: 1, operator: None, metadata: Default::default(), pixel_size_source: None };
/// let record = ImageRecord::failed("a.png", "a.png: truncated".into());
/// let mut stream = ResultsStream::default();
/// let mut json = stream.head(&Software::default(), &model, &Config::default());
/// json += &stream.image(&record);
/// let summary = BatchSummary::default();
/// json += &stream.tail(TailParts { summary: &summary, samples: &[], spec: None, skipped: &[], run: &run });
/// let parsed: Results = serde_json::from_str(&json).unwrap();
/// assert_eq!(parsed.images, vec![record]);
/// ```
#[derive(Debug, Default)]
pub struct ResultsStream {
    images: usize,
}

impl ResultsStream {
    /// Everything before the first image record.
    pub fn head(&self, software: &Software, model: &ModelInfo, config: &Config) -> String {
        let head = pretty_json(&Head {
            schema: super::RESULTS_SCHEMA,
            software,
            model,
            config,
            config_sha256: config.sha256(),
        });
        let open = head.strip_suffix("\n}").unwrap_or(&head);
        format!("{open},\n  \"images\": [")
    }

    /// One image's text for all three result files (`analyze` writes it,
    /// `bench` times it); the CSV rows name the image's sample.
    pub fn record(
        &mut self,
        record: &ImageRecord,
        sample_id: &str,
    ) -> Result<RecordText, csv::Error> {
        Ok(RecordText {
            json: self.image(record),
            images_row: super::csv::image_row(record, sample_id)?,
            cell_rows: super::csv::cell_rows(record, sample_id)?,
        })
    }

    /// One image record, with the separator it needs.
    pub fn image(&mut self, record: &ImageRecord) -> String {
        let separator = if self.images == 0 { "\n" } else { ",\n" };
        self.images += 1;
        let mut out = String::from(separator);
        for (i, line) in pretty_json(record).lines().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(ITEM_INDENT);
            out.push_str(line);
        }
        out
    }

    /// Everything after the last image record, with the final newline.
    pub fn tail(&self, parts: TailParts) -> String {
        let close = if self.images == 0 { "]" } else { "\n  ]" };
        let tail = pretty_json(&Tail {
            summary: parts.summary,
            samples: parts.samples,
            spec: parts.spec,
            skipped: parts.skipped,
            run: parts.run,
        });
        let fields = tail.strip_prefix('{').unwrap_or(&tail);
        format!("{close},{fields}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Results;

    /// The whole file at once, through the stream.
    fn streamed_json(results: &Results) -> String {
        let mut stream = ResultsStream::default();
        let mut out = stream.head(&results.software, &results.model, &results.config);
        for record in &results.images {
            out.push_str(&stream.image(record));
        }
        out.push_str(&stream.tail(TailParts {
            summary: &results.summary,
            samples: &results.samples,
            spec: results.spec.as_ref(),
            skipped: &results.skipped,
            run: &results.run,
        }));
        out
    }
    use crate::aggregate::record::{CellRecord, DebrisReport, Status};
    use crate::aggregate::Counts;

    fn results(images: Vec<ImageRecord>) -> Results {
        Results {
            schema: super::super::RESULTS_SCHEMA.to_string(),
            software: Software::default(),
            model: ModelInfo {
                name: "m".into(),
                sha256: "ab".into(),
                path: "models/m.onnx".into(),
            },
            config: Config::default(),
            config_sha256: Config::default().sha256(),
            images,
            summary: BatchSummary::default(),
            samples: vec![
                crate::aggregate::sample::SampleAccumulator::default().finish(
                    "s",
                    None,
                    &Config::default(),
                ),
            ],
            spec: Some(SpecUsed {
                path: "spec.toml".into(),
                sha256: "cd".into(),
                criteria: Default::default(),
            }),
            skipped: vec!["notes.txt".into()],
            run: RunFacts {
                started_unix_s: 1.5,
                finished_unix_s: 2.5,
                host: "h".into(),
                threads: 2,
                operator: Some("A. Analyst".into()),
                metadata: [("batch".to_string(), "B-7".to_string())].into(),
                pixel_size_source: None,
            },
        }
    }

    fn ok_record() -> ImageRecord {
        let cell: CellRecord = serde_json::from_str(
            r#"{"id":1,"x":1.0,"y":2.0,"area_px":3,"diameter_px":2.0,"circularity":1.0,
            "mean_intensity":0.5,"min_intensity":0.1,"max_intensity":0.9,"bbox":[0,0,1,1],
            "label":"live","p_live":0.9,"p_cell":0.99,"touches_border":false}"#,
        )
        .unwrap();
        ImageRecord {
            path: "a \"quoted\"\nname.png".into(),
            pi_path: None,
            sha256: Some("ef".into()),
            pi_sha256: None,
            status: Status::Ok,
            error: None,
            width: Some(4),
            height: Some(4),
            diameter: None,
            calls: None,
            counts: Some(Counts::from_classes([crate::classify::CellClass::Live])),
            viability: Some(1.0),
            aggregate_fraction: Some(0.0),
            debris: Some(DebrisReport::default()),
            quality: None,
            quality_flags: vec![crate::aggregate::quality::QualityFlag::OutOfFocus],
            cells: vec![cell],
            gated: Vec::new(),
        }
    }

    #[test]
    fn streamed_bytes_equal_the_whole_document() {
        for images in [
            vec![],
            vec![ok_record()],
            vec![
                ok_record(),
                ImageRecord::failed("b.png", "b.png: truncated".into()),
            ],
        ] {
            let r = results(images);
            assert_eq!(streamed_json(&r), r.to_json());
            let parsed: Results = serde_json::from_str(&streamed_json(&r)).unwrap();
            assert_eq!(parsed, r);
        }
    }
}
