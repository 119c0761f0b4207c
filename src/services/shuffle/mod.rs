//! The seven shuffle algorithms (listed by `GET /api/algorithms`) and what they share: the track
//! facts they look at, their parameter schemas and validation, and the
//! seeded random source.
//!
//! Every algorithm returns a permutation of the input positions (duplicates
//! kept). A playlist's pinned positions are applied around the algorithm
//! ([`order_pinned`]): it orders only the entries of the free slots. Randomness comes only from a ChaCha8 stream seeded with a `u64`,
//! and the Fisher–Yates shuffle and bounded draws are written here rather
//! than borrowed from `rand`, whose algorithms may change between releases:
//! the same seed gives the same order in every release.

mod album_sequence;
mod artist_spacing;
mod balanced;
mod basic;
mod choice;
mod params;
mod percentage;
pub mod service;
mod stratified;
mod tempo_gradient;

use std::collections::{BTreeMap, BTreeSet};

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::models::track::Track;

pub use choice::{choose, ChoiceError, ChoiceFields};
pub use params::{ParamKind, ParamSchema, ParamSpec, ParamType};

/// What an algorithm may know about a track.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackFacts {
    /// The first artist; `None` counts as an artist of its own.
    pub artist: Option<String>,
    /// `None` counts as an album of its own.
    pub album: Option<String>,
    pub tempo: Option<f64>,
}

impl From<&Track> for TrackFacts {
    fn from(track: &Track) -> Self {
        TrackFacts {
            artist: track.artist_names().into_iter().next(),
            album: track.album_name.clone(),
            tempo: track.tempo,
        }
    }
}

/// The new order of `tracks` (in playlist order), as their URIs, with the
/// entries of the `pinned` slots left where they are: the one place a
/// stored playlist meets an algorithm. A workshop's order passes no pins.
pub fn order_uris(
    algorithm: &dyn Algorithm,
    params: &Params,
    tracks: &[&Track],
    seed: u64,
    pinned: &BTreeSet<usize>,
) -> Vec<String> {
    let facts: Vec<TrackFacts> = tracks.iter().map(|t| TrackFacts::from(*t)).collect();
    let order = order_pinned(
        algorithm,
        &facts,
        params,
        &mut ShuffleRng::from_seed(seed),
        pinned,
    );
    order.into_iter().map(|i| tracks[i].uri.clone()).collect()
}

/// [`Algorithm::order`] with the entries of the `pinned` slots, and of the
/// slots `0..keep_first` for the algorithms that take it, left in place:
/// the algorithm orders the entries of the other slots among themselves
/// (with `keep_first` 0), and they fill those slots in that order.
///
/// When no pin lies within the order beyond what `keep_first` already
/// holds, the algorithm runs exactly as it always has (so a playlist
/// without pins shuffles to the same order for the same seed).
pub fn order_pinned(
    algorithm: &dyn Algorithm,
    tracks: &[TrackFacts],
    params: &Params,
    rng: &mut ShuffleRng,
    pinned: &BTreeSet<usize>,
) -> Vec<usize> {
    let n = tracks.len();
    let keep = params::int(params, "keep_first").min(n);
    if pinned.range(keep..n).next().is_none() {
        return algorithm.order(tracks, params, rng);
    }
    let held = crate::services::pins::held_slots(pinned, keep, n);
    let free: Vec<usize> = (0..n).filter(|i| !held.contains(i)).collect();
    let rest: Vec<TrackFacts> = free.iter().map(|&i| tracks[i].clone()).collect();
    let mut rest_params = params.clone();
    if let Some(keep_first) = rest_params.get_mut("keep_first") {
        *keep_first = Value::from(0);
    }
    let rest_order = algorithm.order(&rest, &rest_params, rng);
    let mut order: Vec<usize> = (0..n).collect();
    for (slot, k) in free.iter().zip(rest_order) {
        order[*slot] = free[k];
    }
    order
}

/// The seeded random source of one shuffle.
pub struct ShuffleRng(ChaCha8Rng);

impl ShuffleRng {
    pub fn from_seed(seed: u64) -> Self {
        ShuffleRng(ChaCha8Rng::seed_from_u64(seed))
    }

    /// A uniform integer in `0..n` (n > 0), by rejection: no modulo bias.
    pub fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let v = self.0.next_u64();
            if v < zone {
                return (v % n) as usize;
            }
        }
    }

    /// Fisher–Yates, from the end.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// Validated parameters: every parameter of the algorithm, defaults filled in.
pub type Params = Map<String, Value>;

/// One algorithm: its description and its permutation.
pub trait Algorithm: Sync {
    fn key(&self) -> &'static str;
    fn name(&self) -> &'static str;
    fn description(&self) -> &'static str;
    fn parameters(&self) -> &'static [ParamSpec];
    /// A permutation of `0..tracks.len()`.
    fn order(&self, tracks: &[TrackFacts], params: &Params, rng: &mut ShuffleRng) -> Vec<usize>;
}

impl std::fmt::Debug for dyn Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

static ALGORITHMS: [&dyn Algorithm; 7] = [
    &basic::Basic,
    &balanced::Balanced,
    &stratified::Stratified,
    &percentage::Percentage,
    &artist_spacing::ArtistSpacing,
    &album_sequence::AlbumSequence,
    &tempo_gradient::TempoGradient,
];

pub fn all() -> &'static [&'static dyn Algorithm] {
    &ALGORITHMS
}

pub fn find(key: &str) -> Option<&'static dyn Algorithm> {
    ALGORITHMS.iter().copied().find(|a| a.key() == key)
}

pub fn keys() -> Vec<&'static str> {
    ALGORITHMS.iter().map(|a| a.key()).collect()
}

/// The algorithm keys as a schema of the API's description: a string
/// enum written from [`ALGORITHMS`], so the document lists exactly the
/// algorithms the service has.
pub struct AlgorithmKey;

impl utoipa::PartialSchema for AlgorithmKey {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .enum_values(Some(keys()))
            .description(Some("A shuffle algorithm (see GET /api/algorithms)."))
            .into()
    }
}

impl utoipa::ToSchema for AlgorithmKey {}

/// Algorithm parameters in the API's description: every parameter name an
/// algorithm knows, with the widest bounds any of them gives it, and no
/// other name. Which ones an algorithm takes is in `GET /api/algorithms`;
/// another algorithm's parameter is a 400 naming the valid ones.
pub struct AlgorithmParams;

impl utoipa::PartialSchema for AlgorithmParams {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::AdditionalProperties;
        use utoipa::openapi::{ObjectBuilder, Type};
        let mut merged: BTreeMap<&str, ParamKind> = BTreeMap::new();
        for spec in ALGORITHMS.iter().flat_map(|a| a.parameters()) {
            let kind = match (merged.get(spec.name), spec.kind) {
                (
                    Some(ParamKind::Integer { min, max, default }),
                    ParamKind::Integer {
                        min: lo, max: hi, ..
                    },
                ) => ParamKind::Integer {
                    min: (*min).min(lo),
                    max: (*max).max(hi),
                    default: *default,
                },
                _ => spec.kind,
            };
            merged.insert(spec.name, kind);
        }
        let mut schema = ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .description(Some(
                "The chosen algorithm's parameters by name (GET /api/algorithms); \
                 absent ones take their defaults",
            ));
        for (name, kind) in merged {
            let property = match kind {
                ParamKind::Integer { min, max, .. } => ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(min))
                    .maximum(Some(max)),
                ParamKind::Options { options, .. } => ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(options.iter().copied())),
            };
            schema = schema.property(name, property);
        }
        schema.into()
    }
}

impl utoipa::ToSchema for AlgorithmParams {}

/// A shuffle seed in the API's description: what [`service::parse_seed`]
/// takes.
pub struct Seed;

impl utoipa::PartialSchema for Seed {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .maximum(Some(u64::MAX)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[0-9]{1,20}$"))
                    .description(Some("decimal digits, at most 18446744073709551615")),
            )
            .description(Some(
                "Makes the order reproducible across releases: an unsigned 64-bit integer, \
                 or its decimal digits as a string (JavaScript loses integers above 2^53)",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Seed {}

/// `GET /api/algorithms` entry.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Algorithm)]
pub struct AlgorithmInfo {
    #[schema(value_type = AlgorithmKey)]
    pub key: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// Each parameter by name.
    pub parameters: BTreeMap<&'static str, ParamSchema>,
}

pub fn describe(algorithm: &dyn Algorithm) -> AlgorithmInfo {
    AlgorithmInfo {
        key: algorithm.key(),
        name: algorithm.name(),
        description: algorithm.description(),
        parameters: algorithm
            .parameters()
            .iter()
            .map(|p| (p.name, p.schema()))
            .collect(),
    }
}

/// Checks `given` (a JSON object or null) against the algorithm's schema;
/// `Err` holds one message per problem, naming the parameter.
pub fn validate_params(
    algorithm: &dyn Algorithm,
    given: &Value,
) -> Result<Params, Vec<(String, String)>> {
    params::validate(algorithm.parameters(), given, "params")
}

/// The split the algorithms share: `n` items into `sections` near-equal runs, the
/// earlier ones taking the remainder. Returns each run's length.
pub(crate) fn section_lengths(n: usize, sections: usize) -> Vec<usize> {
    let base = n / sections;
    let extra = n % sections;
    (0..sections)
        .map(|i| base + usize::from(i < extra))
        .collect()
}

/// `keep_first` clamped to the list: the kept prefix and the rest's indices.
pub(crate) fn split_kept(n: usize, params: &Params) -> (Vec<usize>, Vec<usize>) {
    let keep = params::int(params, "keep_first").min(n);
    ((0..keep).collect(), (keep..n).collect())
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::TrackFacts;

    pub fn tracks(artists: &[&str]) -> Vec<TrackFacts> {
        artists
            .iter()
            .map(|a| TrackFacts {
                artist: (!a.is_empty()).then(|| a.to_string()),
                album: None,
                tempo: None,
            })
            .collect()
    }

    pub fn is_permutation(order: &[usize], n: usize) -> bool {
        let mut sorted = order.to_vec();
        sorted.sort_unstable();
        sorted == (0..n).collect::<Vec<_>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_stream() {
        let mut a = ShuffleRng::from_seed(42);
        let mut b = ShuffleRng::from_seed(42);
        let mut x: Vec<u32> = (0..50).collect();
        let mut y = x.clone();
        a.shuffle(&mut x);
        b.shuffle(&mut y);
        assert_eq!(x, y);
        // Pinned: a change here breaks reproducibility for clients.
        let mut pinned: Vec<u32> = (0..10).collect();
        ShuffleRng::from_seed(7).shuffle(&mut pinned);
        assert_eq!(pinned, PINNED_SEED_7);
    }

    // Recorded from the first release; it must never change.
    const PINNED_SEED_7: [u32; 10] = [2, 7, 0, 6, 3, 4, 8, 1, 9, 5];

    #[test]
    fn sections_take_the_remainder_first() {
        assert_eq!(section_lengths(10, 4), vec![3, 3, 2, 2]);
        assert_eq!(section_lengths(3, 5), vec![1, 1, 1, 0, 0]);
    }

    #[test]
    fn seven_algorithms_with_unique_keys() {
        let mut k = keys();
        k.dedup();
        assert_eq!(
            k,
            [
                "basic",
                "balanced",
                "stratified",
                "percentage",
                "artist_spacing",
                "album_sequence",
                "tempo_gradient"
            ]
        );
    }
}

#[cfg(test)]
mod properties {
    use super::test_support::is_permutation;
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn arb_tracks() -> impl Strategy<Value = Vec<TrackFacts>> {
        prop::collection::vec(
            (
                prop::option::of(0u8..6),
                prop::option::of(0u8..4),
                prop::option::of(60.0f64..200.0),
            ),
            0..60,
        )
        .prop_map(|rows| {
            rows.into_iter()
                .map(|(artist, album, tempo)| TrackFacts {
                    artist: artist.map(|a| format!("artist{a}")),
                    album: album.map(|a| format!("album{a}")),
                    tempo,
                })
                .collect()
        })
    }

    /// Parameters that exercise `algorithm`: `keep_first`, sections, a
    /// percentage at the front or the back.
    fn any_params(key: &str, keep: i64, sections: i64, pct: i64, seed: u64) -> Value {
        match key {
            "basic" => json!({"keep_first": keep}),
            "balanced" | "stratified" => json!({"keep_first": keep, "section_count": sections}),
            "percentage" => {
                json!({"shuffle_percentage": pct, "shuffle_location": if seed.is_multiple_of(2) { "front" } else { "back" }})
            }
            _ => json!({}),
        }
    }

    proptest! {
        #[test]
        fn every_algorithm_returns_a_permutation(tracks in arb_tracks(), seed in any::<u64>(), keep in 0i64..80, sections in 2i64..=10, pct in 0i64..=100) {
            for algorithm in all() {
                let given = match algorithm.key() {
                    "basic" => json!({"keep_first": keep}),
                    "balanced" | "stratified" => json!({"keep_first": keep, "section_count": sections}),
                    "percentage" => json!({"shuffle_percentage": pct, "shuffle_location": if seed % 2 == 0 { "front" } else { "back" }}),
                    _ => json!({}),
                };
                let params = validate_params(*algorithm, &given).unwrap();
                let order = algorithm.order(&tracks, &params, &mut ShuffleRng::from_seed(seed));
                prop_assert!(is_permutation(&order, tracks.len()), "{} gave {:?}", algorithm.key(), order);
                let again = algorithm.order(&tracks, &params, &mut ShuffleRng::from_seed(seed));
                prop_assert_eq!(order, again);
            }
        }

        #[test]
        fn pinned_slots_hold_their_entries_and_the_rest_is_a_permutation_of_the_rest(
            tracks in arb_tracks(),
            seed in any::<u64>(),
            pins in prop::collection::btree_set(0usize..70, 0..12),
            keep in 0i64..80,
            sections in 2i64..=10,
            pct in 0i64..=100,
        ) {
            let n = tracks.len();
            for algorithm in all() {
                let params = validate_params(*algorithm, &any_params(algorithm.key(), keep, sections, pct, seed)).unwrap();
                let order = order_pinned(*algorithm, &tracks, &params, &mut ShuffleRng::from_seed(seed), &pins);
                let held = crate::services::pins::held_slots(&pins, params::int(&params, "keep_first"), n);
                for &slot in &held {
                    prop_assert_eq!(order[slot], slot, "{} moved pinned slot {}", algorithm.key(), slot);
                }
                let mut rest: Vec<usize> = (0..n).filter(|i| !held.contains(i)).map(|i| order[i]).collect();
                rest.sort_unstable();
                let free: Vec<usize> = (0..n).filter(|i| !held.contains(i)).collect();
                prop_assert_eq!(rest, free, "{}: the free slots hold the free entries", algorithm.key());
                let again = order_pinned(*algorithm, &tracks, &params, &mut ShuffleRng::from_seed(seed), &pins);
                prop_assert_eq!(order, again);
            }
        }

        #[test]
        fn without_pins_every_algorithm_orders_as_it_always_has(
            tracks in arb_tracks(),
            seed in any::<u64>(),
            keep in 0i64..80,
            sections in 2i64..=10,
            pct in 0i64..=100,
        ) {
            let n = tracks.len();
            for algorithm in all() {
                let params = validate_params(*algorithm, &any_params(algorithm.key(), keep, sections, pct, seed)).unwrap();
                let plain = algorithm.order(&tracks, &params, &mut ShuffleRng::from_seed(seed));
                // No pins, pins past the end, and pins the kept prefix already holds.
                let kept = params::int(&params, "keep_first").min(n);
                for pins in [BTreeSet::new(), BTreeSet::from([n, n + 5]), (0..kept).collect()] {
                    let pinned = order_pinned(*algorithm, &tracks, &params, &mut ShuffleRng::from_seed(seed), &pins);
                    prop_assert_eq!(&pinned, &plain, "{} with pins {:?}", algorithm.key(), pins);
                }
            }
        }

        #[test]
        fn kept_prefix_stays(tracks in arb_tracks(), seed in any::<u64>(), keep in 0i64..80) {
            for key in ["basic", "balanced", "stratified"] {
                let algorithm = find(key).unwrap();
                let params = validate_params(algorithm, &json!({"keep_first": keep})).unwrap();
                let order = algorithm.order(&tracks, &params, &mut ShuffleRng::from_seed(seed));
                let kept = (keep as usize).min(tracks.len());
                prop_assert_eq!(&order[..kept], &(0..kept).collect::<Vec<_>>()[..]);
            }
        }

        #[test]
        fn artist_spacing_holds_where_feasible(distinct in 3usize..8, per_artist in 1usize..5, spacing in 1i64..3, seed in any::<u64>()) {
            // With equal counts and more artists than the spacing, the
            // spacing is always achievable.
            prop_assume!(distinct as i64 > spacing);
            let tracks: Vec<TrackFacts> = (0..distinct * per_artist)
                .map(|i| TrackFacts { artist: Some(format!("a{}", i % distinct)), album: None, tempo: None })
                .collect();
            let algorithm = find("artist_spacing").unwrap();
            let params = validate_params(algorithm, &json!({"min_spacing": spacing})).unwrap();
            let order = algorithm.order(&tracks, &params, &mut ShuffleRng::from_seed(seed));
            prop_assert!(is_permutation(&order, tracks.len()));
            let s = spacing as usize;
            for (pos, &i) in order.iter().enumerate() {
                for back in 1..=s.min(pos) {
                    prop_assert_ne!(&tracks[order[pos - back]].artist, &tracks[i].artist);
                }
            }
        }
    }
}
