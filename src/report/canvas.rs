//! An overlay's pixels as codes into one fixed colour table: the 256 grey
//! levels of the field, then the colours drawn over it. An overlay is drawn
//! at 2 bytes a pixel and written as an indexed-colour PNG straight from its
//! codes; drawing 3-byte RGB and then searching it for its colours cost
//! more than the PNG encoding itself (`perf`, `analyze` on forty 2048×1536
//! fields: drawing 5.6 % and colour search 1.4 % of the CPU).

use image::{Rgb, RgbImage};

/// A colour drawn over the field's greys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Live,
    Dead,
    Debris,
    Gated,
    Region,
    Text,
}

impl Mark {
    const ALL: [Mark; 6] = [
        Mark::Live,
        Mark::Dead,
        Mark::Debris,
        Mark::Gated,
        Mark::Region,
        Mark::Text,
    ];

    /// The mark's colour.
    ///
    /// ```
    /// use cellvia::report::canvas::Mark;
    /// assert_eq!(Mark::Live.colour().0, [0, 220, 0]);
    /// ```
    pub const fn colour(self) -> Rgb<u8> {
        match self {
            Mark::Live => Rgb([0, 220, 0]),
            Mark::Dead => Rgb([255, 40, 40]),
            // Magenta: a grey outline vanished on the grey field (issue 16),
            // and magenta is far from every other outline colour and stain.
            Mark::Debris => Rgb([230, 0, 230]),
            Mark::Gated => Rgb([60, 140, 255]),
            Mark::Region => Rgb([0, 220, 220]),
            Mark::Text => Rgb([255, 255, 0]),
        }
    }

    /// The mark's code on a [`Canvas`].
    pub(crate) fn code(self) -> u16 {
        GREY_LEVELS as u16 + self as u16
    }
}

const GREY_LEVELS: usize = 256;
const CODES: usize = GREY_LEVELS + Mark::ALL.len();

/// The RGB colour of every code.
const COLOURS: [[u8; 3]; CODES] = {
    let mut colours = [[0u8; 3]; CODES];
    let mut code = 0;
    while code < CODES {
        colours[code] = if code < GREY_LEVELS {
            [code as u8; 3]
        } else {
            Mark::ALL[code - GREY_LEVELS].colour().0
        };
        code += 1;
    }
    colours
};

/// An overlay picture: grey levels with marks drawn over them.
///
/// ```
/// use cellvia::report::canvas::{Canvas, Mark};
/// let mut canvas = Canvas::new(4, 2);
/// canvas.put(1, 1, Mark::Dead);
/// canvas.put(9, 9, Mark::Live); // outside: nothing drawn
/// let rgb = canvas.to_rgb();
/// assert_eq!(rgb.get_pixel(1, 0).0, [0, 0, 0]);
/// assert_eq!(rgb.get_pixel(1, 1).0, [255, 40, 40]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canvas {
    width: u32,
    height: u32,
    codes: Vec<u16>,
}

impl Canvas {
    /// A black canvas.
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            codes: vec![0; width as usize * height as usize],
        }
    }

    pub fn dimensions(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Each row's codes, top to bottom, for painting rows in one pass.
    pub(crate) fn rows_mut(&mut self) -> impl Iterator<Item = &mut [u16]> {
        self.codes.chunks_exact_mut(self.width.max(1) as usize)
    }

    /// Draws `mark` at (x, y); outside the canvas nothing is drawn.
    pub fn put(&mut self, x: u32, y: u32, mark: Mark) {
        if x < self.width && y < self.height {
            self.codes[y as usize * self.width as usize + x as usize] = mark.code();
        }
    }

    /// Row `y` as RGB triples into `out` (3 × width bytes).
    pub fn rgb_row(&self, y: u32, out: &mut [u8]) {
        let w = self.width as usize;
        let row = &self.codes[y as usize * w..(y as usize + 1) * w];
        for (px, &code) in out.chunks_exact_mut(3).zip(row) {
            px.copy_from_slice(&COLOURS[usize::from(code)]);
        }
    }

    /// The picture as RGB.
    pub fn to_rgb(&self) -> RgbImage {
        let mut out = RgbImage::new(self.width, self.height);
        for (y, row) in out
            .chunks_exact_mut(3 * self.width.max(1) as usize)
            .enumerate()
        {
            self.rgb_row(y as u32, row);
        }
        out
    }

    /// The colours the picture uses as a palette (the greys ascending, then
    /// the marks' colours ascending) and each code's index into it; `None`
    /// when it uses more than 256 colours.
    fn palette(&self) -> Option<(Vec<u8>, [u8; CODES])> {
        let mut used = [false; CODES];
        for &code in &self.codes {
            used[usize::from(code)] = true;
        }
        if used.iter().filter(|&&u| u).count() > 256 {
            return None;
        }
        let mut marks: Vec<usize> = (GREY_LEVELS..CODES).filter(|&c| used[c]).collect();
        marks.sort_unstable_by_key(|&c| COLOURS[c]);
        let mut index = [0u8; CODES];
        let mut palette = Vec::new();
        for code in (0..GREY_LEVELS).filter(|&c| used[c]).chain(marks) {
            index[code] = (palette.len() / 3) as u8;
            palette.extend(COLOURS[code]);
        }
        Some((palette, index))
    }

    /// Encodes the picture as PNG with fast compression: indexed colour
    /// when it uses at most 256 colours (an 8-bit field's greys and the
    /// marks, the usual case), RGB otherwise.
    ///
    /// ```
    /// use cellvia::report::canvas::{Canvas, Mark};
    /// let mut canvas = Canvas::new(64, 32);
    /// canvas.put(5, 5, Mark::Live);
    /// let png = canvas.encode_png()?;
    /// assert_eq!(png[25], 3); // IHDR colour type: indexed
    /// assert_eq!(image::load_from_memory(&png)?.to_rgb8(), canvas.to_rgb());
    /// # Ok::<(), image::ImageError>(())
    /// ```
    pub fn encode_png(&self) -> Result<Vec<u8>, image::ImageError> {
        match self.palette() {
            Some((palette, index)) => {
                let indices: Vec<u8> = self
                    .codes
                    .iter()
                    .map(|&code| index[usize::from(code)])
                    .collect();
                super::png::encode_indexed(self.width, self.height, &palette, &indices)
            }
            None => super::png::encode_png(&self.to_rgb()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_picture_of_every_grey_and_a_mark_is_written_as_rgb_unchanged() {
        let mut canvas = Canvas::new(256, 2);
        if let Some(first) = canvas.rows_mut().next() {
            for (x, code) in first.iter_mut().enumerate() {
                *code = x as u16;
            }
        }
        canvas.put(3, 1, Mark::Text);
        let png = canvas.encode_png().unwrap();
        assert_eq!(png[25], 2, "257 colours: RGB");
        assert_eq!(
            image::load_from_memory(&png).unwrap().to_rgb8(),
            canvas.to_rgb()
        );
    }

    proptest::proptest! {
        /// The palette holds exactly the colours used, in the order the
        /// RGB search of `png::encode_png` gives them, so both encode the
        /// same bytes.
        #[test]
        fn indexed_encoding_equals_encoding_the_rgb_picture(
            w in 1u32..20,
            h in 1u32..20,
            greys in proptest::collection::vec(0u16..256, 400),
            marks in proptest::collection::vec((0u32..20, 0u32..20, 0usize..6), 0..30),
        ) {
            let mut canvas = Canvas::new(w, h);
            for (y, row) in canvas.rows_mut().enumerate() {
                for (x, code) in row.iter_mut().enumerate() {
                    *code = greys[y * 20 + x];
                }
            }
            for (x, y, m) in marks {
                canvas.put(x, y, Mark::ALL[m]);
            }
            let rgb = canvas.to_rgb();
            proptest::prop_assert_eq!(canvas.encode_png().unwrap(), super::super::png::encode_png(&rgb).unwrap());
        }
    }
}
