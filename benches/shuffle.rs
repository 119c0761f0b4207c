//! Each shuffle algorithm on a playlist of the maximum size (10,000 tracks,
//! 400 artists, 900 albums). Run: `cargo bench --bench shuffle`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use serde_json::json;

use shuffify::services::shuffle::{all, validate_params, ShuffleRng, TrackFacts};

fn tracks(n: usize) -> Vec<TrackFacts> {
    (0..n)
        .map(|i| TrackFacts {
            artist: Some(format!("artist {}", (i * 7919) % 400)),
            album: Some(format!("album {}", (i * 104_729) % 900)),
            tempo: (i % 10 != 0).then(|| 60.0 + ((i * 37) % 140) as f64),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let tracks = tracks(10_000);
    let mut group = c.benchmark_group("shuffle_10k");
    for algorithm in all() {
        let given = if algorithm.key() == "artist_spacing" {
            json!({"min_spacing": 3})
        } else {
            json!({})
        };
        let params = validate_params(*algorithm, &given).unwrap();
        group.bench_function(algorithm.key(), |b| {
            let mut seed = 0u64;
            b.iter(|| {
                seed += 1;
                black_box(algorithm.order(&tracks, &params, &mut ShuffleRng::from_seed(seed)))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
