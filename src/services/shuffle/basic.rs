//! `basic`: the first `keep_first` tracks stay, the rest are shuffled.

use super::params::KEEP_FIRST;
use super::{split_kept, Algorithm, ParamSpec, Params, ShuffleRng, TrackFacts};

pub struct Basic;

impl Algorithm for Basic {
    fn key(&self) -> &'static str {
        "basic"
    }
    fn name(&self) -> &'static str {
        "Basic shuffle"
    }
    fn description(&self) -> &'static str {
        "Shuffles every track, optionally keeping the first few in place."
    }
    fn parameters(&self) -> &'static [ParamSpec] {
        &[KEEP_FIRST]
    }
    fn order(&self, tracks: &[TrackFacts], params: &Params, rng: &mut ShuffleRng) -> Vec<usize> {
        let (mut order, mut rest) = split_kept(tracks.len(), params);
        rng.shuffle(&mut rest);
        order.extend(rest);
        order
    }
}
