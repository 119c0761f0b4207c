//! `album_sequence`: albums stay contiguous, in their original inner order
//! (or shuffled within, with `shuffle_within_albums=yes`), and the order of
//! the albums is shuffled. A track with no album is an album of its own.

use std::collections::HashMap;

use super::params::{self, ParamKind};
use super::{Algorithm, ParamSpec, Params, ShuffleRng, TrackFacts};

pub struct AlbumSequence;

impl Algorithm for AlbumSequence {
    fn key(&self) -> &'static str {
        "album_sequence"
    }
    fn name(&self) -> &'static str {
        "Album sequence"
    }
    fn description(&self) -> &'static str {
        "Keeps each album's tracks together and shuffles the order of the albums."
    }
    fn parameters(&self) -> &'static [ParamSpec] {
        const P: [ParamSpec; 1] = [ParamSpec {
            name: "shuffle_within_albums",
            kind: ParamKind::Options {
                options: &["no", "yes"],
                default: "no",
            },
            description: "Whether tracks are also shuffled inside each album",
        }];
        &P
    }
    fn order(&self, tracks: &[TrackFacts], p: &Params, rng: &mut ShuffleRng) -> Vec<usize> {
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut albums: Vec<Vec<usize>> = Vec::new();
        for (i, track) in tracks.iter().enumerate() {
            match track.album.as_deref() {
                Some(name) => {
                    let group = *index.entry(name).or_insert_with(|| {
                        albums.push(Vec::new());
                        albums.len() - 1
                    });
                    albums[group].push(i);
                }
                None => albums.push(vec![i]),
            }
        }
        if params::option(p, "shuffle_within_albums") == "yes" {
            for album in &mut albums {
                rng.shuffle(album);
            }
        }
        rng.shuffle(&mut albums);
        albums.into_iter().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::shuffle::{test_support::*, validate_params};
    use serde_json::json;

    #[test]
    fn albums_stay_together_in_order() {
        let album = |a: &str| TrackFacts {
            artist: None,
            album: Some(a.into()),
            tempo: None,
        };
        let t = vec![
            album("x"),
            album("y"),
            album("x"),
            album("z"),
            album("y"),
            album("x"),
        ];
        let p = validate_params(&AlbumSequence, &json!({})).unwrap();
        for seed in 0..10 {
            let order = AlbumSequence.order(&t, &p, &mut ShuffleRng::from_seed(seed));
            assert!(is_permutation(&order, 6));
            let xs: Vec<usize> = order
                .iter()
                .copied()
                .filter(|&i| t[i].album.as_deref() == Some("x"))
                .collect();
            assert_eq!(xs, vec![0, 2, 5]);
            let first_x = order.iter().position(|&i| i == 0).unwrap();
            assert_eq!(&order[first_x..first_x + 3], &[0, 2, 5]);
        }
    }
}
