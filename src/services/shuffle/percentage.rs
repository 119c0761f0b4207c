//! `percentage`: shuffles only the first (or last) floor(n·p/100) tracks and
//! leaves the others exactly where they are.

use super::params::{self, ParamKind};
use super::{Algorithm, ParamSpec, Params, ShuffleRng, TrackFacts};

pub struct Percentage;

impl Algorithm for Percentage {
    fn key(&self) -> &'static str {
        "percentage"
    }
    fn name(&self) -> &'static str {
        "Partial shuffle"
    }
    fn description(&self) -> &'static str {
        "Shuffles a percentage of the playlist at its front or back and leaves the rest untouched."
    }
    fn parameters(&self) -> &'static [ParamSpec] {
        const P: [ParamSpec; 2] = [
            ParamSpec {
                name: "shuffle_percentage",
                kind: ParamKind::Integer {
                    min: 0,
                    max: 100,
                    default: 50,
                },
                description: "The share of tracks to shuffle, in percent",
            },
            ParamSpec {
                name: "shuffle_location",
                kind: ParamKind::Options {
                    options: &["front", "back"],
                    default: "front",
                },
                description: "Whether the shuffled part is at the front or the back",
            },
        ];
        &P
    }
    fn order(&self, tracks: &[TrackFacts], p: &Params, rng: &mut ShuffleRng) -> Vec<usize> {
        let n = tracks.len();
        let count = n * params::int(p, "shuffle_percentage") / 100;
        let mut order: Vec<usize> = (0..n).collect();
        let part = if params::option(p, "shuffle_location") == "back" {
            &mut order[n - count..]
        } else {
            &mut order[..count]
        };
        rng.shuffle(part);
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::shuffle::{test_support::*, validate_params};
    use serde_json::json;

    #[test]
    fn the_unshuffled_part_is_untouched() {
        let t = tracks(&["a"; 10]);
        let p = validate_params(
            &Percentage,
            &json!({"shuffle_percentage": 35, "shuffle_location": "back"}),
        )
        .unwrap();
        let order = Percentage.order(&t, &p, &mut ShuffleRng::from_seed(3));
        assert!(is_permutation(&order, 10));
        assert_eq!(&order[..7], &[0, 1, 2, 3, 4, 5, 6]);
        let p = validate_params(&Percentage, &json!({})).unwrap();
        let order = Percentage.order(&t, &p, &mut ShuffleRng::from_seed(3));
        assert_eq!(&order[5..], &[5, 6, 7, 8, 9]);
    }
}
