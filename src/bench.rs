//! Throughput measurement: the real pipeline over images held in memory,
//! against the decode-only floor on the same images and threads.
//!
//! What `cellvia bench` prints and what users size hardware with. Inputs are
//! read (or rendered) before timing starts, so disk speed is not measured;
//! the report stage includes serialising each record as `analyze` does.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::classify::Viability;
use crate::config::Config;
use crate::io::decode::decode;
use crate::pipeline::{analyze, Source, StageTimes};
use crate::report::stream::ResultsStream;
use crate::scheduler::{for_each_ordered, SchedulerError};

/// One image to run: a label and its encoded bytes (brightfield, or an
/// AO/PI composite).
#[derive(Debug, Clone)]
pub struct BenchInput {
    pub label: String,
    pub bytes: Vec<u8>,
}

/// Seconds spent in each stage, summed over images (CPU time across threads).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StageSeconds {
    pub decode: f64,
    pub preprocess: f64,
    pub segment: f64,
    pub measure: f64,
    pub classify: f64,
    pub report: f64,
    /// Drawing and PNG-encoding overlays (0 unless asked for).
    pub overlay: f64,
}

impl From<&StageTimes> for StageSeconds {
    fn from(t: &StageTimes) -> Self {
        Self {
            decode: t.decode.as_secs_f64(),
            preprocess: t.preprocess.as_secs_f64(),
            segment: t.segment.as_secs_f64(),
            measure: t.measure.as_secs_f64(),
            classify: t.classify.as_secs_f64(),
            report: t.report.as_secs_f64(),
            overlay: t.overlay.as_secs_f64(),
        }
    }
}

/// Throughput at one thread count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScalingPoint {
    pub threads: usize,
    pub images_per_s: f64,
    /// Throughput relative to one thread (when one thread was measured).
    pub speedup: Option<f64>,
}

/// Everything `cellvia bench` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub images: usize,
    pub images_failed: usize,
    pub megapixels: f64,
    pub threads: usize,
    pub wall_s: f64,
    pub images_per_s: f64,
    pub megapixels_per_s: f64,
    /// Counted cells (live + dead) per second.
    pub cells_per_s: f64,
    /// Candidate objects classified per second (cells + debris).
    pub objects_per_s: f64,
    /// Decode only, same images, same threads.
    pub floor_images_per_s: f64,
    /// Pipeline time over decode-only time (1 = as fast as decoding).
    pub ratio_to_floor: f64,
    /// Peak resident memory during the measured runs (Linux), bytes.
    pub peak_rss_bytes: Option<u64>,
    pub stages: StageSeconds,
    pub scaling: Vec<ScalingPoint>,
}

/// Outcome of one timed pass of the full pipeline.
struct Pass {
    wall: Duration,
    times: StageTimes,
    failed: usize,
    cells: u64,
    objects: u64,
}

/// How `bench` runs: threads, whether to measure thread scaling, and
/// whether each field's overlay is drawn and encoded as `analyze
/// --overlays always` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchOptions {
    pub threads: usize,
    pub scaling: bool,
    pub overlays: bool,
}

fn pipeline_pass(
    inputs: &[BenchInput],
    config: &Config,
    viability: &Viability,
    threads: usize,
    overlays: bool,
) -> Result<Pass, SchedulerError> {
    let start = Instant::now();
    let mut pass = Pass {
        wall: Duration::ZERO,
        times: StageTimes::default(),
        failed: 0,
        cells: 0,
        objects: 0,
    };
    let mut stream = ResultsStream::default();
    let mut written = 0usize;
    for_each_ordered(
        inputs,
        threads,
        |input| {
            let mut analysis = analyze(
                &input.label,
                Source::Image(&input.bytes),
                config,
                viability,
                overlays,
                None,
            );
            // Encoded on the worker, as `analyze` does.
            if let Some(overlay) = analysis.overlay.take() {
                let t = Instant::now();
                let png = overlay.encode_png();
                analysis.times.overlay += t.elapsed();
                std::hint::black_box(png.map(|p| p.len()).unwrap_or(0));
            }
            analysis
        },
        |_, analysis| {
            // What `analyze` writes per image: a JSON record and CSV rows.
            let t = Instant::now();
            if let Ok(text) = stream.record(&analysis.record, "bench") {
                written += text.json.len() + text.images_row.len() + text.cell_rows.len();
            }
            pass.times.add(&analysis.times);
            pass.times.report += t.elapsed();
            match analysis.record.counts {
                Some(c) => {
                    pass.cells += u64::from(c.total);
                    pass.objects += u64::from(c.total + c.debris + c.gated);
                }
                None => pass.failed += 1,
            }
        },
    )?;
    pass.wall = start.elapsed();
    std::hint::black_box(written);
    Ok(pass)
}

/// Decodes every input on `threads` threads; returns wall time and megapixels.
fn decode_pass(
    inputs: &[BenchInput],
    config: &Config,
    threads: usize,
) -> Result<(Duration, f64), SchedulerError> {
    let start = Instant::now();
    let mut pixels = 0u64;
    for_each_ordered(
        inputs,
        threads,
        |input| {
            decode(&input.bytes, config.max_image_pixels)
                .map_or(0, |img| u64::from(img.width()) * u64::from(img.height()))
        },
        |_, p| pixels += p,
    )?;
    Ok((start.elapsed(), pixels as f64 / 1e6))
}

fn per_second(count: f64, wall: Duration) -> f64 {
    count / wall.as_secs_f64().max(1e-9)
}

/// Thread counts for the scaling table: 1, 2, 4, … below `threads`, then `threads`.
///
/// ```
/// assert_eq!(cellvia::bench::scaling_threads(6), vec![1, 2, 4, 6]);
/// assert_eq!(cellvia::bench::scaling_threads(1), vec![1]);
/// ```
pub fn scaling_threads(threads: usize) -> Vec<usize> {
    let mut out: Vec<usize> = std::iter::successors(Some(1usize), |t| Some(t * 2))
        .take_while(|&t| t < threads)
        .collect();
    out.push(threads.max(1));
    out
}

/// Measures the pipeline on `inputs` with `options.threads` threads (after
/// one warm-up pass that also loads ONNX sessions), the decode floor, and,
/// with `options.scaling`, the throughput at each of [`scaling_threads`].
///
/// ```no_run
/// use cellvia::{bench, classify::Viability, Config};
/// let config = Config::default();
/// let viability = Viability::for_config(&config)?;
/// let bytes = cellvia::io::read_bytes("field.png".as_ref())?;
/// let inputs = [bench::BenchInput { label: "field.png".into(), bytes }];
/// let options = bench::BenchOptions { threads: 2, scaling: true, overlays: false };
/// let report = bench::run(&inputs, &config, &viability, options)?;
/// println!("{:.1} images/s, {:.1}x the decode floor", report.images_per_s, report.ratio_to_floor);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run(
    inputs: &[BenchInput],
    config: &Config,
    viability: &Viability,
    options: BenchOptions,
) -> Result<BenchReport, SchedulerError> {
    let threads = options.threads.max(1);
    let overlays = options.overlays;
    pipeline_pass(inputs, config, viability, threads, overlays)?;
    crate::io::reset_peak_rss();
    let (floor_wall, megapixels) = decode_pass(inputs, config, threads)?;
    let main = pipeline_pass(inputs, config, viability, threads, overlays)?;
    let mut points = Vec::new();
    if options.scaling {
        for t in scaling_threads(threads) {
            let wall = if t == threads {
                main.wall
            } else {
                pipeline_pass(inputs, config, viability, t, overlays)?.wall
            };
            points.push((t, per_second(inputs.len() as f64, wall)));
        }
    }
    let one_thread = points.iter().find(|(t, _)| *t == 1).map(|&(_, r)| r);
    let images = inputs.len() as f64;
    Ok(BenchReport {
        images: inputs.len(),
        images_failed: main.failed,
        megapixels,
        threads,
        wall_s: main.wall.as_secs_f64(),
        images_per_s: per_second(images, main.wall),
        megapixels_per_s: per_second(megapixels, main.wall),
        cells_per_s: per_second(main.cells as f64, main.wall),
        objects_per_s: per_second(main.objects as f64, main.wall),
        floor_images_per_s: per_second(images, floor_wall),
        ratio_to_floor: main.wall.as_secs_f64() / floor_wall.as_secs_f64().max(1e-9),
        peak_rss_bytes: crate::io::peak_rss_bytes(),
        stages: StageSeconds::from(&main.times),
        scaling: points
            .into_iter()
            .map(|(threads, images_per_s)| ScalingPoint {
                threads,
                images_per_s,
                speedup: one_thread.map(|one| images_per_s / one),
            })
            .collect(),
    })
}
