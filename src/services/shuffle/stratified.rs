//! `stratified`: the same sections as `balanced`, each shuffled in place,
//! with the sections kept in their original order: a light shuffle that
//! keeps the playlist's overall shape.

use super::balanced::shuffled_sections;
use super::params::{self, ParamKind, KEEP_FIRST};
use super::{split_kept, Algorithm, ParamSpec, Params, ShuffleRng, TrackFacts};

pub struct Stratified;

const SECTION_COUNT: ParamSpec = ParamSpec {
    name: "section_count",
    kind: ParamKind::Integer {
        min: 2,
        max: 10,
        default: 5,
    },
    description: "How many sections the tracks are split into",
};

impl Algorithm for Stratified {
    fn key(&self) -> &'static str {
        "stratified"
    }
    fn name(&self) -> &'static str {
        "Stratified shuffle"
    }
    fn description(&self) -> &'static str {
        "Splits the playlist into sections and shuffles within each, keeping the sections in order."
    }
    fn parameters(&self) -> &'static [ParamSpec] {
        const P: [ParamSpec; 2] = [KEEP_FIRST, SECTION_COUNT];
        &P
    }
    fn order(&self, tracks: &[TrackFacts], p: &Params, rng: &mut ShuffleRng) -> Vec<usize> {
        let (mut order, rest) = split_kept(tracks.len(), p);
        for section in shuffled_sections(&rest, params::int(p, "section_count"), rng) {
            order.extend(section);
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
    fn tracks_stay_in_their_section_after_the_kept_prefix() {
        let t = tracks(&["a"; 12]);
        let p =
            validate_params(&Stratified, &json!({"keep_first": 2, "section_count": 3})).unwrap();
        let order = Stratified.order(&t, &p, &mut ShuffleRng::from_seed(9));
        assert!(is_permutation(&order, 12));
        assert_eq!(&order[..2], &[0, 1]);
        // Rest 2..12 in sections [2..6), [6..9), [9..12).
        let mut first: Vec<usize> = order[2..6].to_vec();
        first.sort();
        assert_eq!(first, vec![2, 3, 4, 5]);
        let mut second: Vec<usize> = order[6..9].to_vec();
        second.sort();
        assert_eq!(second, vec![6, 7, 8]);
    }
}
