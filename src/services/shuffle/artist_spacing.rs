//! `artist_spacing`: keeps tracks by the same artist apart. Each artist's
//! tracks are shuffled; then, position by position, the artist with the
//! most tracks left goes next unless it appeared in the last `min_spacing`
//! positions. When every artist with tracks left is waiting, the one that
//! becomes free soonest (placed longest ago) goes. Ties in tracks left are
//! broken by a shuffled artist order, so equal artists vary between seeds.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use super::params::{self, ParamKind};
use super::{Algorithm, ParamSpec, Params, ShuffleRng, TrackFacts};

pub struct ArtistSpacing;

struct Artist {
    tracks: Vec<usize>,
    next: usize,
    last_position: Option<usize>,
    rank: usize,
}

impl Algorithm for ArtistSpacing {
    fn key(&self) -> &'static str {
        "artist_spacing"
    }
    fn name(&self) -> &'static str {
        "Artist spacing"
    }
    fn description(&self) -> &'static str {
        "Shuffles while keeping tracks by the same artist at least a few positions apart where the playlist allows it."
    }
    fn parameters(&self) -> &'static [ParamSpec] {
        const P: [ParamSpec; 1] = [ParamSpec {
            name: "min_spacing",
            kind: ParamKind::Integer {
                min: 1,
                max: 10,
                default: 1,
            },
            description: "How many other tracks should separate two tracks by one artist",
        }];
        &P
    }
    fn order(&self, tracks: &[TrackFacts], p: &Params, rng: &mut ShuffleRng) -> Vec<usize> {
        let spacing = params::int(p, "min_spacing");
        // Group by first artist; a track with no artist is its own group.
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut artists: Vec<Artist> = Vec::new();
        let new_group = |artists: &mut Vec<Artist>| {
            artists.push(Artist {
                tracks: Vec::new(),
                next: 0,
                last_position: None,
                rank: 0,
            });
            artists.len() - 1
        };
        for (i, track) in tracks.iter().enumerate() {
            let group = match track.artist.as_deref() {
                Some(name) => match index.get(name) {
                    Some(&group) => group,
                    None => {
                        let group = new_group(&mut artists);
                        index.insert(name, group);
                        group
                    }
                },
                None => new_group(&mut artists),
            };
            artists[group].tracks.push(i);
        }
        for artist in &mut artists {
            rng.shuffle(&mut artist.tracks);
        }
        let mut ranks: Vec<usize> = (0..artists.len()).collect();
        rng.shuffle(&mut ranks);
        for (artist, rank) in artists.iter_mut().zip(ranks) {
            artist.rank = rank;
        }

        place(&mut artists, tracks.len(), spacing)
    }
}

/// The greedy placement, in O(n log a) for n tracks by a artists: free
/// artists wait in a max-heap keyed by (tracks left, then the lower
/// shuffled rank); placed artists wait in a queue ordered by the position
/// they last took, which is the order they become free again and the order
/// "free soonest" picks from when every artist waits. An artist's key only
/// changes when it is placed, which takes it out of the heap, so the heap
/// never holds a stale entry. This gives exactly the order of the direct
/// O(n × a) scan (kept in the tests as the reference).
fn place(artists: &mut [Artist], n: usize, spacing: usize) -> Vec<usize> {
    let mut free: BinaryHeap<(usize, Reverse<usize>, usize)> = artists
        .iter()
        .enumerate()
        .filter(|(_, a)| !a.tracks.is_empty())
        .map(|(i, a)| (a.tracks.len(), Reverse(a.rank), i))
        .collect();
    let mut waiting: VecDeque<usize> = VecDeque::new();
    let mut order = Vec::with_capacity(n);
    for position in 0..n {
        while let Some(&front) = waiting.front() {
            let artist = &artists[front];
            let last = artist.last_position.unwrap_or(0);
            if position - last <= spacing {
                break;
            }
            waiting.pop_front();
            free.push((
                artist.tracks.len() - artist.next,
                Reverse(artist.rank),
                front,
            ));
        }
        let chosen = match free.pop() {
            Some((_, _, i)) => i,
            None => match waiting.pop_front() {
                Some(i) => i,
                None => break,
            },
        };
        let artist = &mut artists[chosen];
        order.push(artist.tracks[artist.next]);
        artist.next += 1;
        artist.last_position = Some(position);
        if artist.next < artist.tracks.len() {
            waiting.push_back(chosen);
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::shuffle::{test_support::*, validate_params};
    use serde_json::json;

    #[test]
    fn spreads_artists_when_it_can() {
        let t = tracks(&["a", "a", "a", "b", "b", "b", "c", "c", "c", ""]);
        let p = validate_params(&ArtistSpacing, &json!({"min_spacing": 2})).unwrap();
        for seed in 0..20 {
            let order = ArtistSpacing.order(&t, &p, &mut ShuffleRng::from_seed(seed));
            assert!(is_permutation(&order, 10));
            let artists: Vec<_> = order.iter().map(|&i| t[i].artist.clone()).collect();
            for w in artists.windows(3) {
                if w[0].is_some() {
                    assert_ne!(w[0], w[1], "{artists:?}");
                    assert_ne!(w[0], w[2], "{artists:?}");
                }
            }
        }
    }

    /// The direct scan the heap replaced: at every position, the free
    /// artist with most tracks left (lower rank on ties), else the one
    /// placed longest ago.
    fn place_by_scan(artists: &mut [Artist], n: usize, spacing: usize) -> Vec<usize> {
        let mut order = Vec::with_capacity(n);
        for position in 0..n {
            let waiting = |a: &Artist| {
                a.last_position
                    .is_some_and(|last| position - last <= spacing)
            };
            let left = |a: &Artist| a.tracks.len() - a.next;
            let free = artists
                .iter()
                .enumerate()
                .filter(|(_, a)| left(a) > 0 && !waiting(a))
                .max_by(|(_, x), (_, y)| left(x).cmp(&left(y)).then(y.rank.cmp(&x.rank)))
                .map(|(i, _)| i);
            let chosen = free.or_else(|| {
                artists
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| left(a) > 0)
                    .min_by_key(|(_, a)| a.last_position)
                    .map(|(i, _)| i)
            });
            let Some(chosen) = chosen else { break };
            let artist = &mut artists[chosen];
            order.push(artist.tracks[artist.next]);
            artist.next += 1;
            artist.last_position = Some(position);
        }
        order
    }

    proptest::proptest! {
        #[test]
        fn the_heap_places_exactly_as_the_scan_did(
            groups in proptest::collection::vec(1usize..12, 1..40),
            spacing in 1usize..11,
            seed in 0u64..1000,
        ) {
            let build = || {
                let mut rng = ShuffleRng::from_seed(seed);
                let mut ranks: Vec<usize> = (0..groups.len()).collect();
                rng.shuffle(&mut ranks);
                let mut next_track = 0;
                groups
                    .iter()
                    .zip(ranks)
                    .map(|(&size, rank)| {
                        let tracks = (next_track..next_track + size).collect();
                        next_track += size;
                        Artist { tracks, next: 0, last_position: None, rank }
                    })
                    .collect::<Vec<_>>()
            };
            let n: usize = groups.iter().sum();
            let by_heap = place(&mut build(), n, spacing);
            let by_scan = place_by_scan(&mut build(), n, spacing);
            proptest::prop_assert_eq!(by_heap, by_scan);
        }
    }

    #[test]
    fn one_artist_only_still_gives_every_track() {
        let t = tracks(&["solo"; 5]);
        let p = validate_params(&ArtistSpacing, &json!({})).unwrap();
        let order = ArtistSpacing.order(&t, &p, &mut ShuffleRng::from_seed(1));
        assert!(is_permutation(&order, 5));
    }
}
