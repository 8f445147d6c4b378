//! How unlike the model's training data a crop is: the Mahalanobis distance
//! of the features the model's last layer reads from the training crops'
//! mean, in units of the training crops' own 99th percentile.
//!
//! A model trained on one microscope can be confidently wrong on another;
//! its probabilities do not say so, but its features do: a crop from optics
//! the model never saw lands far from where training crops did. A score
//! above 1 is rarer than 1 in 100 training crops.

/// The training features' statistics, from the model's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Novelty {
    mean: Vec<f32>,
    /// Inverse covariance, row-major `len × len`.
    precision: Vec<f32>,
    /// The 99th percentile of the training crops' distances.
    scale: f32,
}

impl Novelty {
    /// Parses the comma-separated metadata values.
    ///
    /// ```
    /// use cellvia::classify::novelty::Novelty;
    /// let n = Novelty::parse("0,0", "1,0,0,4", "2").unwrap();
    /// assert_eq!(n.dimensions(), 2);
    /// assert!((n.score(&[2.0, 0.0]) - 1.0).abs() < 1e-6); // distance 2, scale 2
    /// assert!((n.score(&[0.0, 1.0]) - 1.0).abs() < 1e-6); // variance 1/4
    /// assert!(Novelty::parse("0,0", "1,0,0", "2").is_err());
    /// ```
    pub fn parse(mean: &str, precision: &str, scale: &str) -> Result<Self, String> {
        let numbers = |key: &str, text: &str| -> Result<Vec<f32>, String> {
            text.split(',')
                .map(|v| v.trim().parse::<f32>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| format!("cellvia.{key} is not a list of numbers"))
        };
        let mean = numbers("feature_mean", mean)?;
        let precision = numbers("feature_precision", precision)?;
        let scale = scale
            .trim()
            .parse::<f32>()
            .map_err(|_| "cellvia.novelty_scale is not a number".to_string())?;
        if precision.len() != mean.len() * mean.len() {
            return Err(format!(
                "cellvia.feature_precision has {} numbers, expected {} (= {}²)",
                precision.len(),
                mean.len() * mean.len(),
                mean.len()
            ));
        }
        if !(scale.is_finite() && scale > 0.0) {
            return Err("cellvia.novelty_scale must be positive".into());
        }
        Ok(Self {
            mean,
            precision,
            scale,
        })
    }

    /// Length of the feature vector.
    pub fn dimensions(&self) -> usize {
        self.mean.len()
    }

    /// Novelty of one crop's features (0 at the training mean).
    pub fn score(&self, features: &[f32]) -> f32 {
        let centred: Vec<f32> = features
            .iter()
            .zip(&self.mean)
            .map(|(f, m)| f - m)
            .collect();
        let d2: f32 = self
            .precision
            .chunks_exact(centred.len().max(1))
            .zip(&centred)
            .map(|(row, ci)| ci * row.iter().zip(&centred).map(|(p, cj)| p * cj).sum::<f32>())
            .sum();
        d2.max(0.0).sqrt() / self.scale
    }
}
