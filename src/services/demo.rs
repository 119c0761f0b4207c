//! `serve --demo`: a user `demo` with three playlists of made-up tracks, so
//! a newcomer has something to shuffle. Created once; the password is
//! random and shown only then. Demo data writes no activity rows.

use crate::db::DbConnection;
use crate::error::AppResult;
use crate::models::User;
use crate::services::auth::{new_token, AuthService, Registration};
use crate::services::playlists::{NewPlaylistInput, PlaylistService, TrackInput};

pub const DEMO_USER: &str = "demo";

const ARTISTS: [&str; 6] = [
    "The Quiet Hours",
    "Neon Harbor",
    "Marisol Vega",
    "Copper Lanes",
    "Dust & Daylight",
    "Kite Theory",
];
const ALBUMS: [&str; 5] = [
    "First Light",
    "Night Ferry",
    "Open Roads",
    "Paper Moons",
    "Static Bloom",
];
const WORDS: [&str; 12] = [
    "Lantern",
    "Echo",
    "Harbor",
    "Velvet",
    "Signal",
    "Orbit",
    "Meadow",
    "Ember",
    "Tide",
    "Glass",
    "Northbound",
    "Satellite",
];

fn tracks(playlist: usize, count: usize) -> Vec<TrackInput> {
    (0..count)
        .map(|i| {
            let n = playlist * 100 + i;
            TrackInput {
                uri: format!("demo:track:{n:04}"),
                name: format!(
                    "{} {}",
                    WORDS[n % WORDS.len()],
                    WORDS[(n / 3 + 5) % WORDS.len()]
                ),
                artists: vec![ARTISTS[(n * 7 + playlist) % ARTISTS.len()].to_string()],
                album_name: (i % 7 != 6).then(|| ALBUMS[(n * 3) % ALBUMS.len()].to_string()),
                duration_ms: 150_000 + ((n * 7919) % 120_000) as i32,
                tempo: (i % 9 != 8).then(|| 70.0 + ((n * 37) % 110) as f64),
            }
        })
        .collect()
}

/// Creates the demo user and playlists unless the user exists; returns the
/// new password when it created them.
pub fn ensure_demo(conn: &mut DbConnection) -> AppResult<Option<String>> {
    if User::find_by_username(conn, DEMO_USER)?.is_some() {
        return Ok(None);
    }
    let password = new_token()[..16].to_string();
    let user = AuthService::register(
        conn,
        &Registration {
            username: DEMO_USER.into(),
            password: password.clone(),
            display_name: Some("Demo".into()),
            email: None,
        },
    )?;
    for (i, (name, count)) in [("Morning Run", 15), ("Deep Focus", 12), ("Road Trip", 18)]
        .into_iter()
        .enumerate()
    {
        let input = NewPlaylistInput {
            name: name.into(),
            description: format!("{count} sample tracks"),
            is_public: false,
            tracks: tracks(i, count),
        };
        PlaylistService::create_unlogged(conn, &user, &input)?;
    }
    Ok(Some(password))
}

/// The walkthrough printed after the demo data is created.
pub fn walkthrough(base: &str, password: &str) -> String {
    format!(
        r#"Demo user created: username "demo", password "{password}" (shown once).

Open {base}/ in a browser and sign in as demo, or try the API:
  TOKEN=$(curl -s -XPOST {base}/api/auth/login -d '{{"username":"demo","password":"{password}"}}' | sed -E 's/.*"token":"([^"]+)".*/\1/')
  curl -s {base}/api/playlists -H "Authorization: Bearer $TOKEN"
  curl -s -XPOST {base}/api/playlists/PLAYLIST_ID/shuffle -H "Authorization: Bearer $TOKEN" -d '{{"algorithm":"artist_spacing"}}'
  curl -s {base}/api/activity -H "Authorization: Bearer $TOKEN"
"#
    )
}
