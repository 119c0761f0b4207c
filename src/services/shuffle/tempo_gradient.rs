//! `tempo_gradient`: ordered by stored tempo, ascending or descending; tracks
//! with no tempo keep their relative order at the end. No randomness: the
//! same playlist always gives the same order.

use super::params::{self, ParamKind};
use super::{Algorithm, ParamSpec, Params, ShuffleRng, TrackFacts};

pub struct TempoGradient;

impl Algorithm for TempoGradient {
    fn key(&self) -> &'static str {
        "tempo_gradient"
    }
    fn name(&self) -> &'static str {
        "Tempo gradient"
    }
    fn description(&self) -> &'static str {
        "Orders tracks by tempo, slow to fast or fast to slow; tracks without a tempo go last."
    }
    fn parameters(&self) -> &'static [ParamSpec] {
        const P: [ParamSpec; 1] = [ParamSpec {
            name: "direction",
            kind: ParamKind::Options {
                options: &["ascending", "descending"],
                default: "ascending",
            },
            description: "Slow to fast (ascending) or fast to slow (descending)",
        }];
        &P
    }
    fn order(&self, tracks: &[TrackFacts], p: &Params, _rng: &mut ShuffleRng) -> Vec<usize> {
        let descending = params::option(p, "direction") == "descending";
        let (mut timed, untimed): (Vec<usize>, Vec<usize>) =
            (0..tracks.len()).partition(|&i| tracks[i].tempo.is_some_and(f64::is_finite));
        // A stable sort keeps equal tempos in their original order.
        timed.sort_by(|&a, &b| {
            let (x, y) = (
                tracks[a].tempo.unwrap_or(0.0),
                tracks[b].tempo.unwrap_or(0.0),
            );
            if descending {
                y.total_cmp(&x)
            } else {
                x.total_cmp(&y)
            }
        });
        timed.extend(untimed);
        timed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::shuffle::validate_params;
    use serde_json::json;

    #[test]
    fn orders_by_tempo_with_unknown_last() {
        let t: Vec<TrackFacts> = [Some(120.0), None, Some(90.0), Some(150.0), None, Some(90.0)]
            .into_iter()
            .map(|tempo| TrackFacts {
                artist: None,
                album: None,
                tempo,
            })
            .collect();
        let asc = validate_params(&TempoGradient, &json!({})).unwrap();
        assert_eq!(
            TempoGradient.order(&t, &asc, &mut ShuffleRng::from_seed(0)),
            vec![2, 5, 0, 3, 1, 4]
        );
        let desc = validate_params(&TempoGradient, &json!({"direction": "descending"})).unwrap();
        assert_eq!(
            TempoGradient.order(&t, &desc, &mut ShuffleRng::from_seed(0)),
            vec![3, 0, 2, 5, 1, 4]
        );
    }
}
