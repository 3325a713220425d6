//! What the lab's SVG plots share: an axis scale that turns logarithmic when the values
//! spread wide, round tick steps, and XML escaping.

/// Past this max/min ratio a linear axis squashes the small values into a line.
pub const LOG_SCALE_SPREAD: f64 = 20.0;

#[derive(Debug, PartialEq)]
pub enum Scale {
    Linear { max: f64 },
    Log { min_exp: i32, max_exp: i32 },
}

impl Scale {
    /// A scale holding every positive finite value; zeros and non-finite values set no
    /// bound (zero has no logarithm: it sits at the axis' start).
    pub fn fitting(values: impl Iterator<Item = f64>) -> Scale {
        let (min, max) = values
            .filter(|v| *v > 0.0 && v.is_finite())
            .fold((f64::INFINITY, 0.0f64), |(min, max), v| {
                (min.min(v), max.max(v))
            });
        if max <= 0.0 {
            return Scale::Linear { max: 1.0 };
        }
        if max / min > LOG_SCALE_SPREAD {
            let min_exp = min.log10().floor() as i32;
            return Scale::Log {
                min_exp,
                max_exp: (max.log10().ceil() as i32).max(min_exp + 1),
            };
        }
        let step = nice_step(max / 5.0);
        Scale::Linear {
            max: (max / step).ceil() * step,
        }
    }

    /// Where `value` falls along the axis, from 0 to 1; values off the scale are clamped.
    pub fn fraction(&self, value: f64) -> f64 {
        let fraction = match *self {
            Scale::Linear { max } => value / max,
            Scale::Log { min_exp, max_exp } if value > 0.0 => {
                (value.log10() - f64::from(min_exp)) / f64::from(max_exp - min_exp)
            }
            Scale::Log { .. } => 0.0,
        };
        fraction.clamp(0.0, 1.0)
    }

    pub fn ticks(&self) -> Vec<f64> {
        match *self {
            Scale::Linear { max } => {
                let step = nice_step(max / 5.0);
                (0..)
                    .map(|i| f64::from(i) * step)
                    .take_while(|tick| *tick <= max * (1.0 + 1e-9))
                    .collect()
            }
            Scale::Log { min_exp, max_exp } => (min_exp..=max_exp).map(|e| 10f64.powi(e)).collect(),
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `rough`.
pub fn nice_step(rough: f64) -> f64 {
    let magnitude = 10f64.powf(rough.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= rough)
        .unwrap_or(10.0 * magnitude)
}

/// An SVG document's opening: the root element and a white background.
pub fn svg_start(width: f64, height: f64) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    )
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_turns_logarithmic_past_a_spread_of_twenty() {
        assert_eq!(
            Scale::fitting([1.0, 20.0].into_iter()),
            Scale::Linear { max: 20.0 }
        );
        assert_eq!(
            Scale::fitting([2.0, 41.0, 0.0].into_iter()),
            Scale::Log {
                min_exp: 0,
                max_exp: 2
            }
        );
        assert_eq!(
            Scale::fitting(std::iter::empty()),
            Scale::Linear { max: 1.0 }
        );
    }

    #[test]
    fn steps_are_round_and_text_is_escaped() {
        assert_eq!(nice_step(0.23), 0.5);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(escape("a<b & 'c'"), "a&lt;b &amp; &apos;c&apos;");
    }
}
