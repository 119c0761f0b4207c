//! Each shuffle algorithm on a playlist of the maximum size (10,000 tracks,
//! 400 artists, 900 albums); then what a shuffle does to the stored order
//! on a SQLite file: read the order and write the next one in one write
//! transaction (the rewrite), and read the tracks in order with their
//! catalog entries (what a shuffle plans from and `GET` answers), on
//! playlists of 100 and 10,000 tracks. Run: `cargo bench --bench shuffle`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use serde_json::json;

use diesel::connection::SimpleConnection;
use shuffify::db::{self, DbConnection};
use shuffify::models::playlist::Playlist;
use shuffify::models::User;
use shuffify::services::playlists::{NewPlaylistInput, PlaylistService, TrackInput};
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

/// A playlist of `n` tracks owned by a new user on `conn`; its id.
fn stored_playlist(conn: &mut DbConnection, n: usize) -> String {
    let name = format!("bench{n}");
    conn.batch_execute(&format!(
        "INSERT INTO users (username, display_name, password_hash, created_at, updated_at) \
         VALUES ('{name}', 'b', 'x', '2026-12-01 00:00:00', '2026-12-01 00:00:00')"
    ))
    .unwrap();
    let user = User::find_by_username(conn, &name).unwrap().unwrap();
    let input = NewPlaylistInput {
        name: name.clone(),
        description: String::new(),
        is_public: false,
        tracks: (0..n)
            .map(|i| TrackInput {
                uri: format!("bench:{n}:{i}"),
                name: format!("track {i}"),
                artists: vec![format!("artist {}", i % 40)],
                album_name: Some(format!("album {}", i % 90)),
                duration_ms: 180_000,
                tempo: Some(120.0),
            })
            .collect(),
    };
    PlaylistService::create_unlogged(conn, &user, &input)
        .unwrap()
        .id
}

fn stored_order(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let pool = db::build_pool(&url, 1).unwrap();
    let mut conn = pool.get().unwrap();
    db::migrations::run_pending(&mut conn).unwrap();
    let mut group = c.benchmark_group("stored_order");
    for n in [100, 10_000] {
        let id = stored_playlist(&mut conn, n);
        let owner = Playlist::find(&mut conn, &id).unwrap().unwrap().owner_id;
        group.bench_function(format!("rewrite_{n}"), |b| {
            b.iter(|| {
                db::write_transaction(&mut conn, |conn| {
                    let mut uris = Playlist::track_uris(conn, &id)?;
                    uris.rotate_left(1);
                    Playlist::replace_tracks(conn, &id, &uris)
                })
                .unwrap()
            })
        });
        group.bench_function(format!("read_tracks_{n}"), |b| {
            b.iter(|| black_box(Playlist::tracks(&mut conn, &id, owner).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench, stored_order);
criterion_main!(benches);
