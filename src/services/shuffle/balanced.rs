//! `balanced`: after the kept prefix, the rest is split into near-equal
//! sections (earlier sections take the remainder), each section shuffled,
//! and the result dealt round-robin, one track from each section in turn, so
//! every part of the original order is spread over the whole playlist.

use super::params::{self, ParamKind, KEEP_FIRST};
use super::{section_lengths, split_kept, Algorithm, ParamSpec, Params, ShuffleRng, TrackFacts};

pub struct Balanced;

pub(crate) const SECTION_COUNT: ParamSpec = ParamSpec {
    name: "section_count",
    kind: ParamKind::Integer {
        min: 2,
        max: 10,
        default: 4,
    },
    description: "How many sections the tracks are split into",
};

/// The rest split into shuffled sections.
pub(crate) fn shuffled_sections(
    rest: &[usize],
    count: usize,
    rng: &mut ShuffleRng,
) -> Vec<Vec<usize>> {
    let mut start = 0;
    section_lengths(rest.len(), count)
        .into_iter()
        .map(|len| {
            let mut section = rest[start..start + len].to_vec();
            start += len;
            rng.shuffle(&mut section);
            section
        })
        .collect()
}

impl Algorithm for Balanced {
    fn key(&self) -> &'static str {
        "balanced"
    }
    fn name(&self) -> &'static str {
        "Balanced shuffle"
    }
    fn description(&self) -> &'static str {
        "Splits the playlist into sections, shuffles each, and deals them round-robin so every part of the original order is spread across the result."
    }
    fn parameters(&self) -> &'static [ParamSpec] {
        const P: [ParamSpec; 2] = [KEEP_FIRST, SECTION_COUNT];
        &P
    }
    fn order(&self, tracks: &[TrackFacts], p: &Params, rng: &mut ShuffleRng) -> Vec<usize> {
        let (mut order, rest) = split_kept(tracks.len(), p);
        let sections = shuffled_sections(&rest, params::int(p, "section_count"), rng);
        let longest = sections.iter().map(Vec::len).max().unwrap_or(0);
        for round in 0..longest {
            order.extend(sections.iter().filter_map(|s| s.get(round)));
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::shuffle::{test_support::*, validate_params};
    use serde_json::json;

    #[test]
    fn deals_one_track_per_section_in_turn() {
        let t = tracks(&["a"; 10]);
        let p = validate_params(&Balanced, &json!({"section_count": 4})).unwrap();
        let order = Balanced.order(&t, &p, &mut ShuffleRng::from_seed(1));
        assert!(is_permutation(&order, 10));
        // Sections: [0..3), [3..6), [6..8), [8..10).
        let section = |i: usize| match i {
            0..=2 => 0,
            3..=5 => 1,
            6..=7 => 2,
            _ => 3,
        };
        let sections: Vec<usize> = order.iter().map(|&i| section(i)).collect();
        assert_eq!(sections, vec![0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);
    }
}
