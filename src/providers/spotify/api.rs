//! The Spotify Web API calls the service makes, each given an access token
//! and answering typed values; no database here. Paged reads follow
//! Spotify's `next` links, but only to the configured API's own origin, so
//! a token is never sent anywhere else.
//!
//! Every deployment registers its own Spotify app, which runs in
//! development mode, and since 9 March 2026 Spotify serves such apps a
//! narrower Web API (its "February 2026 Web API Dev Mode Changes" migration
//! guide): a playlist's items live at `/playlists/{id}/items` (the old
//! `/tracks` path answers 403), each entry carries `item` (not `track`), a
//! playlist object carries `items: {total, href}` (not `tracks`), pages
//! hold at most 50 items, `/users/{id}/playlists` and `/audio-features`
//! are gone. Only that surface is used here. An app in extended quota mode
//! still receives the older shapes, so `track` and `tracks` are read where
//! `item` and `items` are absent.

use serde::Deserialize;
use serde_json::json;

use super::http::{CallError, Http, Repeat, BACKOFF};

/// Items Spotify takes per write.
pub const BATCH: usize = 100;
/// Items per page of a playlist's items (Spotify's maximum; a larger
/// `limit` answers 400).
pub const ITEM_PAGE: usize = 50;
/// Playlists per page of `/me/playlists` (Spotify's maximum).
pub const PLAYLIST_PAGE: usize = 50;
/// Liked Songs per page of `/me/tracks` (Spotify's maximum).
pub const SAVED_PAGE: usize = 50;

#[derive(Debug, Clone, Deserialize)]
pub struct Me {
    pub id: String,
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Owner {
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ItemsRef {
    pub total: u64,
}

/// A playlist as `/me/playlists` and `/playlists/{id}` describe it.
#[derive(Debug, Clone, Deserialize)]
pub struct PlaylistInfo {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub owner: Owner,
    #[serde(default)]
    pub collaborative: bool,
    pub snapshot_id: String,
    #[serde(flatten)]
    count: ItemCount,
}

/// A playlist object's item count, wherever Spotify puts it.
#[derive(Debug, Clone, Deserialize)]
struct ItemCount {
    /// Where a development-mode app finds it.
    #[serde(default)]
    items: Option<ItemsRef>,
    /// Where an extended-quota app still finds it.
    #[serde(default)]
    tracks: Option<ItemsRef>,
}

impl ItemCount {
    /// `items.total`, or `tracks.total` where `items` is absent (0 when
    /// Spotify sent neither).
    fn total(&self) -> u64 {
        self.items
            .as_ref()
            .or(self.tracks.as_ref())
            .map_or(0, |r| r.total)
    }
}

impl PlaylistInfo {
    /// How many items the playlist has.
    pub fn total(&self) -> u64 {
        self.count.total()
    }

    /// Whether the playlist belongs to `account`.
    pub fn owned_by(&self, account: &str) -> bool {
        self.owner.id == account
    }

    /// Whether `account` may read its items and write its order: its own,
    /// or collaborative. Spotify refuses a development-mode app the items
    /// of any other playlist, even one the account follows.
    pub fn writable_by(&self, account: &str) -> bool {
        self.owned_by(account) || self.collaborative
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub next: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Named {
    pub name: String,
}

/// A track or an episode in a playlist.
#[derive(Debug, Clone, Deserialize)]
pub struct Playable {
    pub uri: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub artists: Vec<Named>,
    pub album: Option<Named>,
    /// An episode's show stands in for its artist and album.
    pub show: Option<Named>,
    #[serde(default)]
    pub duration_ms: i64,
    #[serde(default)]
    pub is_local: bool,
}

/// An entry of a playlist's items: `{added_at, item, is_local}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "Entry")]
pub struct PlaylistItem {
    /// `None` for an item Spotify no longer serves.
    pub item: Option<Playable>,
    /// When the item was added to the playlist, in unix seconds; `None`
    /// when Spotify gives no time (very old playlists) or one that is not
    /// RFC 3339.
    pub added_at: Option<i64>,
}

/// An entry as it comes: `item` for a development-mode app, `track` for
/// an extended-quota one. `item: null` (an item no longer served) is not
/// absent, so it does not fall back to `track`.
#[derive(Deserialize)]
struct Entry {
    #[serde(default, deserialize_with = "present")]
    item: Option<Option<Playable>>,
    #[serde(default)]
    track: Option<Playable>,
    /// Read leniently: an odd time never costs the entry.
    #[serde(default)]
    added_at: Option<serde_json::Value>,
}

impl From<Entry> for PlaylistItem {
    fn from(entry: Entry) -> Self {
        let added_at = entry
            .added_at
            .as_ref()
            .and_then(serde_json::Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp());
        PlaylistItem {
            item: entry.item.unwrap_or(entry.track),
            added_at,
        }
    }
}

/// A field that is present (`null` included) as `Some`; with
/// `#[serde(default)]` an absent one stays `None`. Hand-written: the
/// `serde_with` crate's `double_option` does this, but one function does
/// not justify a dependency.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

impl PlaylistItem {
    /// The item's URI, whatever it is (a local file's included), for
    /// comparing and naming; `None` for an entry with no item.
    pub fn uri(&self) -> Option<&str> {
        self.item.as_ref().map(|t| t.uri.as_str())
    }
}

/// Whether the Web API can write `uri` back into a playlist: tracks and
/// episodes only (docs/spotify.md), not local files.
pub fn writable_uri(uri: &str) -> bool {
    let id = |prefix: &str| {
        uri.strip_prefix(prefix)
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()))
    };
    id("spotify:track:") || id("spotify:episode:")
}

#[derive(Debug, Clone, Deserialize)]
pub struct SnapshotAnswer {
    snapshot_id: String,
}

/// The Web API at `base` (`SPOTIFY_API_URL`).
pub struct Api<'a> {
    pub http: &'a Http,
    pub base: &'a str,
}

impl Api<'_> {
    fn get<T: serde::de::DeserializeOwned>(&self, token: &str, url: &str) -> Result<T, CallError> {
        self.http
            .send_ok(Repeat::Safe, |c| c.get(url).bearer_auth(token))?
            .json()
    }

    /// A `next` link, if it points at the API we were configured with.
    fn follow(&self, next: Option<String>) -> Result<Option<String>, CallError> {
        match next {
            None => Ok(None),
            Some(url) if url.starts_with(&format!("{}/", self.base)) => Ok(Some(url)),
            Some(_) => Err(CallError::Failed(
                "Spotify's next page points at another host; not followed".into(),
            )),
        }
    }

    /// A playlist's items: read (GET), replaced (PUT) and appended to
    /// (POST) at this one URL; never the old `/tracks` path, which Spotify
    /// refuses a development-mode app.
    fn items_url(&self, id: &str) -> String {
        format!("{}/playlists/{id}/items", self.base)
    }

    pub fn me(&self, token: &str) -> Result<Me, CallError> {
        self.get(token, &format!("{}/me", self.base))
    }

    /// The caller's playlists from `offset`, up to `limit`, following
    /// `next` to fill the window; and Spotify's total.
    pub fn my_playlists(
        &self,
        token: &str,
        offset: u64,
        limit: usize,
    ) -> Result<(Vec<PlaylistInfo>, u64), CallError> {
        let first = format!(
            "{}/me/playlists?offset={offset}&limit={}",
            self.base,
            limit.min(PLAYLIST_PAGE)
        );
        self.pages(token, first, limit, false)
    }

    pub fn playlist(&self, token: &str, id: &str) -> Result<PlaylistInfo, CallError> {
        self.get(
            token,
            &format!(
                "{}/playlists/{id}?fields=id,name,description,owner(id),collaborative,snapshot_id,items(total),tracks(total)",
                self.base
            ),
        )
    }

    /// A playlist's current snapshot id: one call, where its items take
    /// one per hundred.
    pub fn snapshot_id(&self, token: &str, id: &str) -> Result<String, CallError> {
        self.get::<SnapshotAnswer>(
            token,
            &format!("{}/playlists/{id}?fields=snapshot_id", self.base),
        )
        .map(|a| a.snapshot_id)
    }

    /// Every item of a playlist, in order, page by page;
    /// [`CallError::TooLarge`] (after the first page) beyond `max` items.
    pub fn playlist_items(
        &self,
        token: &str,
        id: &str,
        max: usize,
    ) -> Result<Vec<PlaylistItem>, CallError> {
        self.items(token, id, max, true).map(|(items, _)| items)
    }

    /// The first `max` items of a playlist, in order, and how many it has.
    pub fn first_items(
        &self,
        token: &str,
        id: &str,
        max: usize,
    ) -> Result<(Vec<PlaylistItem>, u64), CallError> {
        self.items(token, id, max, false)
    }

    fn items(
        &self,
        token: &str,
        id: &str,
        max: usize,
        refuse_more: bool,
    ) -> Result<(Vec<PlaylistItem>, u64), CallError> {
        let first = format!(
            "{}?offset=0&limit={ITEM_PAGE}&additional_types=track,episode",
            self.items_url(id)
        );
        self.pages(token, first, max, refuse_more)
    }

    /// Reads a paged list from `first` on, following `next`, until it has
    /// `max` entries or the pages end; with `refuse_more`,
    /// [`CallError::TooLarge`] as soon as a page says there are more than
    /// `max`. Answers the entries (at most `max`) and Spotify's total.
    fn pages<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        first: String,
        max: usize,
        refuse_more: bool,
    ) -> Result<(Vec<T>, u64), CallError> {
        let mut url = Some(first);
        let mut entries = Vec::new();
        let mut total = 0;
        while let Some(next) = url.take() {
            let page: Page<T> = self.get(token, &next)?;
            total = page.total;
            if refuse_more && total > max as u64 {
                return Err(CallError::TooLarge { total, max });
            }
            let empty = page.items.is_empty();
            entries.extend(page.items);
            if empty || entries.len() >= max {
                break;
            }
            url = self.follow(page.next)?;
        }
        entries.truncate(max);
        Ok((entries, total))
    }

    /// The account's Liked Songs, newest first as Spotify lists them: the
    /// first `max`, page by page (50 each), and how many there are.
    pub fn saved_tracks(
        &self,
        token: &str,
        max: usize,
    ) -> Result<(Vec<PlaylistItem>, u64), CallError> {
        let first = format!("{}/me/tracks?offset=0&limit={SAVED_PAGE}", self.base);
        self.pages(token, first, max, false)
    }

    /// Replaces the playlist's items with `uris`: the first batch replaces
    /// (PUT), the rest append (POST), 100 at a time. Answers the new
    /// snapshot id, or the number of batches written before a failure.
    pub fn replace_items(
        &self,
        token: &str,
        id: &str,
        uris: &[String],
    ) -> Result<String, (usize, CallError)> {
        let url = self.items_url(id);
        let mut batches = uris.chunks(BATCH);
        let first = batches.next().unwrap_or(&[]);
        // The replace may be sent again; an append only after reading
        // whether it landed ([`Self::append`]).
        let mut snapshot = self
            .write(Repeat::Safe, |c| {
                c.put(&url)
                    .bearer_auth(token)
                    .json(&json!({ "uris": first }))
            })
            .map_err(|e| (0, e))?;
        let mut before = first.len();
        for (written, batch) in batches.enumerate() {
            snapshot = self
                .append(token, id, &url, batch, before)
                .map_err(|e| (written + 1, e))?;
            before += batch.len();
        }
        Ok(snapshot)
    }

    fn write(
        &self,
        repeat: Repeat,
        make: impl Fn(&reqwest::blocking::Client) -> reqwest::blocking::RequestBuilder,
    ) -> Result<String, CallError> {
        self.http
            .send_ok(repeat, make)?
            .json::<SnapshotAnswer>()
            .map(|a| a.snapshot_id)
    }

    /// How many items a playlist has, and its snapshot id: one read.
    pub fn length(&self, token: &str, id: &str) -> Result<(u64, String), CallError> {
        #[derive(Deserialize)]
        struct Length {
            snapshot_id: String,
            #[serde(flatten)]
            count: ItemCount,
        }
        let found: Length = self.get(
            token,
            &format!(
                "{}/playlists/{id}?fields=snapshot_id,items(total),tracks(total)",
                self.base
            ),
        )?;
        Ok((found.count.total(), found.snapshot_id))
    }

    /// Appends `batch` to a playlist that holds `before` items (the ones
    /// written so far). An answer lost on the way back (a 5xx, a broken
    /// connection) may belong to an append Spotify carried out, so the
    /// playlist's length is read before anything is sent again: with the
    /// batch there, the write goes on after it (at the snapshot read);
    /// without it, the batch is sent again, at most twice; any other
    /// length means someone else wrote meanwhile, and the write stops.
    fn append(
        &self,
        token: &str,
        id: &str,
        url: &str,
        batch: &[String],
        before: usize,
    ) -> Result<String, CallError> {
        let mut retries = 0;
        loop {
            let lost = match self.write(Repeat::Once, |c| {
                c.post(url)
                    .bearer_auth(token)
                    .json(&json!({ "uris": batch }))
            }) {
                Err(CallError::Lost(lost)) => lost,
                other => return other,
            };
            let Some(pause) = BACKOFF.get(retries) else {
                return Err(CallError::Failed(format!(
                    "{lost} after {} retries",
                    BACKOFF.len()
                )));
            };
            std::thread::sleep(*pause);
            retries += 1;
            let (total, snapshot) = self.length(token, id)?;
            if total == (before + batch.len()) as u64 {
                log::info!("spotify: an append whose answer was lost had landed; going on");
                return Ok(snapshot);
            }
            if total != before as u64 {
                return Err(CallError::Failed(format!(
                    "{lost}, and the playlist has {total} items where {before} or {} were \
                     expected: it changed on Spotify meanwhile",
                    before + batch.len()
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{writable_uri, PlaylistInfo, PlaylistItem};

    fn entry(value: serde_json::Value) -> Option<String> {
        serde_json::from_value::<PlaylistItem>(value)
            .unwrap()
            .uri()
            .map(String::from)
    }

    #[test]
    fn an_entry_keeps_spotifys_added_time_and_survives_an_odd_one() {
        let song = json!({"uri": "spotify:track:a", "name": "a"});
        let added = |value: serde_json::Value| {
            serde_json::from_value::<PlaylistItem>(json!({"added_at": value, "item": song}))
                .unwrap()
                .added_at
        };
        assert_eq!(added(json!("2026-03-09T00:00:01Z")), Some(1_773_014_401));
        assert_eq!(added(json!(null)), None);
        assert_eq!(added(json!("yesterday")), None);
        assert_eq!(added(json!(17)), None);
    }

    #[test]
    fn an_entry_reads_item_and_falls_back_to_track_only_where_item_is_absent() {
        let song = |id: &str| json!({"uri": format!("spotify:track:{id}"), "name": id});
        let today =
            json!({"added_at": "2026-03-09T00:00:00Z", "item": song("new"), "is_local": false});
        assert_eq!(entry(today).as_deref(), Some("spotify:track:new"));
        let older = json!({"added_at": "2026-03-09T00:00:00Z", "track": song("old")});
        assert_eq!(entry(older).as_deref(), Some("spotify:track:old"));
        let both = json!({"item": song("new"), "track": song("old")});
        assert_eq!(entry(both).as_deref(), Some("spotify:track:new"));
        let gone = json!({"item": null, "track": song("old")});
        assert_eq!(entry(gone), None, "an item no longer served stays gone");
        assert_eq!(entry(json!({"is_local": false})), None);
    }

    #[test]
    fn a_playlist_counts_items_and_falls_back_to_tracks_only_where_items_is_absent() {
        let info = |extra: serde_json::Value| {
            let mut value = json!({"id": "p", "name": "P", "owner": {"id": "me"},
                "snapshot_id": "s"});
            value
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            serde_json::from_value::<PlaylistInfo>(value)
                .unwrap()
                .total()
        };
        assert_eq!(info(json!({"items": {"total": 7, "href": "h"}})), 7);
        assert_eq!(info(json!({"tracks": {"total": 5, "href": "h"}})), 5);
        assert_eq!(
            info(json!({"items": {"total": 7}, "tracks": {"total": 5}})),
            7
        );
        assert_eq!(info(json!({})), 0);
    }

    #[test]
    fn only_tracks_and_episodes_can_be_written_back() {
        assert!(writable_uri("spotify:track:4uLU6hMCjMI75M1A2tKUQC"));
        assert!(writable_uri("spotify:episode:512ojhOuo1ktJprKbVcKyQ"));
        assert!(!writable_uri("spotify:local:Artist:Album:Title:215"));
        assert!(!writable_uri("spotify:track:"));
        assert!(!writable_uri("spotify:track:a/b"));
        assert!(!writable_uri("demo:1"));
    }
}
