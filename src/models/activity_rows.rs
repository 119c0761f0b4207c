//! The activity rows (docs/api.md, "Reading your trail"), one named constructor per row kind: reading
//! this file is reading the hook table. Every service that records an
//! action builds its row here, so a row's description and metadata are
//! written once, and a new field in the table is a change in one place.
//!
//! The constructors take what the action already has in hand (the acting
//! user, the playlist, the counts); they read nothing and never fail. The
//! row is written by `ActivityLogService::log`, inside the action's
//! transaction.

use serde_json::{json, Value};

use crate::enums::{ActivityType, ActorType, ExecutionStatus, JobType, Provider};
use crate::models::playlist::Playlist;
use crate::models::schedule::Schedule;
use crate::models::snapshot::Snapshot;
use crate::models::upstream_source::UpstreamSource;
use crate::models::webhook::Webhook;
use crate::models::workshop_session::WorkshopSession;
use crate::models::{NewActivity, User};
use crate::validate::truncate_chars;

/// What a schedule run did, for its execution and its `schedule_run` row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOutcome {
    pub added: usize,
    /// Source tracks a raid could not add: the playlist was full.
    pub left_out: usize,
    pub total: usize,
    pub playlist_name: String,
    /// The automatic snapshots the run took, in the order taken.
    pub snapshot_ids: Vec<i64>,
    /// Spotify's snapshot after the run wrote a linked target there.
    pub spotify_snapshot_id: Option<String>,
    /// What the target's rotation did, when it has one and the run raided.
    pub rotation: Option<RotationOutcome>,
}

/// What a raid's rotation did: entries that left the target, where they
/// went, and how many of them the archive could not take (or all of
/// them, without an archive).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationOutcome {
    pub rotated_out: usize,
    pub archive_playlist_id: Option<String>,
    pub dropped: usize,
}

/// What a sync changed: items added and removed (counted with their
/// repeats), and whether the items both sides kept changed order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncCounts {
    pub added: usize,
    pub removed: usize,
    pub reordered: bool,
}

/// Longest text kept of a changed value, in characters.
pub const MAX_CHANGE_CHARS: usize = 200;

/// What an update changed, field by field: `metadata.changes` of its row,
/// `{field: {from, to}}`, and the list of changed fields beside it. Only
/// fields whose values really differ (compared as JSON) are kept, in the
/// order given. Text longer than [`MAX_CHANGE_CHARS`] (at any depth of a
/// value) is cut, and its entry says `"truncated": true`. Only plain
/// settings and names go in here: never a secret.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes(Vec<(&'static str, Value, Value)>);

impl Changes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `field` when `from` and `to` differ.
    pub fn field<T: serde::Serialize + ?Sized>(
        mut self,
        field: &'static str,
        from: &T,
        to: &T,
    ) -> Self {
        let (from, to) = (json!(from), json!(to));
        if from != to {
            self.0.push((field, from, to));
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `field` changed.
    pub fn contains(&self, field: &str) -> bool {
        self.0.iter().any(|(f, _, _)| *f == field)
    }

    /// The changed fields, in order.
    pub fn fields(&self) -> Vec<&'static str> {
        self.0.iter().map(|(f, _, _)| *f).collect()
    }

    /// `{field: {from, to}}`, long text cut.
    fn to_json(&self) -> Value {
        let entries = self.0.iter().map(|(field, from, to)| {
            let mut cut = false;
            let mut entry = json!({
                "from": truncated(from, &mut cut),
                "to": truncated(to, &mut cut),
            });
            if cut {
                entry["truncated"] = Value::Bool(true);
            }
            (field.to_string(), entry)
        });
        Value::Object(entries.collect())
    }
}

/// `value` with every string longer than [`MAX_CHANGE_CHARS`] cut; sets
/// `cut` when one was.
fn truncated(value: &Value, cut: &mut bool) -> Value {
    match value {
        Value::String(text) => {
            let kept = truncate_chars(text, MAX_CHANGE_CHARS);
            if kept.len() < text.len() {
                *cut = true;
            }
            Value::String(kept.to_string())
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| truncated(v, cut)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), truncated(v, cut)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn provider_name(provider: Provider) -> &'static str {
    match provider {
        Provider::Local => "local",
        Provider::Spotify => "Spotify",
    }
}

/// The algorithm a shuffle used, as its row names it.
#[derive(Debug, Clone, Copy)]
pub struct AlgorithmUsed<'a> {
    pub key: &'a str,
    pub name: &'a str,
}

impl NewActivity {
    /// `login`: a session opened; the row's context names it (the request
    /// carried no session yet).
    pub fn login(user: &User, session_id: i64) -> Self {
        Self::by(user, ActivityType::Login, "Logged in")
            .metadata(json!({
                "session_id": session_id,
            }))
            .session(session_id)
    }

    /// `login_failed`: a wrong password for an existing user.
    pub fn login_failed(user: &User) -> Self {
        Self::by(user, ActivityType::LoginFailed, "Failed login attempt")
    }

    /// `account_export`: the one read that logs, written as the export of
    /// everything the user owns starts.
    pub fn account_export(user: &User) -> Self {
        Self::by(
            user,
            ActivityType::AccountExport,
            "Exported all account data",
        )
    }

    /// `logout`: a session revoked by its holder.
    pub fn logout(user: &User, session_id: i64) -> Self {
        Self::by(user, ActivityType::Logout, "Logged out").metadata(json!({
            "session_id": session_id,
        }))
    }

    /// `logout` of a session its user ended from another one (`DELETE
    /// /api/me/sessions/{id}`): `metadata.session_id` names the ended
    /// session, as a logout's does; the row's context names the session
    /// that ended it.
    pub fn session_end(user: &User, session_id: i64) -> Self {
        Self::by(user, ActivityType::Logout, "Signed out another session").metadata(json!({
            "session_id": session_id,
        }))
    }

    /// `password_change`: the password changed and every other session
    /// ended (`sessions_ended` counts them). Never the password itself.
    pub fn password_change(user: &User, sessions_ended: usize) -> Self {
        Self::by(user, ActivityType::PasswordChange, "Changed password").metadata(json!({
            "sessions_ended": sessions_ended,
        }))
    }

    /// `profile_update`: the display name or email changed;
    /// `changed_fields` lists only what really changed, and `changes` each
    /// one's old and new value.
    pub fn profile_update(user: &User, changes: &Changes) -> Self {
        let changed_fields = changes.fields();
        Self::by(
            user,
            ActivityType::ProfileUpdate,
            format!("Updated profile: {}", changed_fields.join(", ")),
        )
        .metadata(json!({ "changed_fields": changed_fields, "changes": changes.to_json() }))
    }

    /// `playlist_create`.
    pub fn playlist_create(user: &User, playlist: &Playlist, track_count: usize) -> Self {
        Self::on_playlist(
            user,
            ActivityType::PlaylistCreate,
            format!("Created playlist \"{}\"", playlist.name),
            playlist,
        )
        .metadata(json!({ "track_count": track_count }))
    }

    /// `playlist_update`: a rename, a new description, or public/private;
    /// `changed_fields` lists only what really changed, and `changes` each
    /// one's old and new value.
    pub fn playlist_update(
        user: &User,
        playlist: &Playlist,
        track_count: i64,
        changes: &Changes,
    ) -> Self {
        Self::on_playlist(
            user,
            ActivityType::PlaylistUpdate,
            format!("Updated playlist \"{}\"", playlist.name),
            playlist,
        )
        .metadata(json!({
            "track_count": track_count,
            "changed_fields": changes.fields(),
            "changes": changes.to_json(),
        }))
    }

    /// `playlist_update` of a rotation's archive: a raid of
    /// `rotated_from` moved entries to its end (`changes.track_count`).
    /// Its actor is the run's: the owner for a run-now, the scheduler else.
    pub fn rotation_archive(
        archive: &Playlist,
        (actor, actor_name): (ActorType, String),
        changes: &Changes,
        track_count: usize,
        rotated_from: &str,
    ) -> Self {
        Self::new(
            archive.owner_id,
            ActivityType::PlaylistUpdate,
            format!("Rotated tracks into playlist \"{}\"", archive.name),
        )
        .playlist(&archive.id, &archive.name)
        .actor(actor, actor_name)
        .metadata(json!({
            "track_count": track_count,
            "changed_fields": changes.fields(),
            "changes": changes.to_json(),
            "rotated_from_playlist_id": rotated_from,
        }))
    }

    /// `playlist_delete`.
    pub fn playlist_delete(user: &User, playlist: &Playlist, track_count: i64) -> Self {
        Self::on_playlist(
            user,
            ActivityType::PlaylistDelete,
            format!("Deleted playlist \"{}\"", playlist.name),
            playlist,
        )
        .metadata(json!({ "track_count": track_count }))
    }

    /// `shuffle`: `params` holds the effective parameters, defaults
    /// included, and the seed when one was given.
    pub fn shuffle(
        user: &User,
        playlist: &Playlist,
        algorithm: AlgorithmUsed<'_>,
        params: Value,
        track_count: usize,
        snapshot_id: Option<i64>,
    ) -> Self {
        Self::on_playlist(
            user,
            ActivityType::Shuffle,
            format!("Shuffled \"{}\" with {}", playlist.name, algorithm.name),
            playlist,
        )
        .metadata(json!({
            "algorithm": algorithm.key,
            "params": params,
            "track_count": track_count,
            "snapshot_id": snapshot_id,
        }))
    }

    /// `playlist_dedupe`: `by` says what made two entries the same (`uri`
    /// or `track`), `removed` how many entries went, `track_count` how
    /// many are left.
    pub fn playlist_dedupe(
        user: &User,
        playlist: &Playlist,
        by: &str,
        removed: usize,
        track_count: usize,
        snapshot_id: Option<i64>,
    ) -> Self {
        let noun = if removed == 1 {
            "duplicate"
        } else {
            "duplicates"
        };
        Self::on_playlist(
            user,
            ActivityType::PlaylistDedupe,
            format!("Removed {removed} {noun} from \"{}\"", playlist.name),
            playlist,
        )
        .metadata(json!({
            "by": by,
            "removed": removed,
            "track_count": track_count,
            "snapshot_id": snapshot_id,
        }))
    }

    /// `workshop_commit`: `added` and `removed` are counts.
    pub fn workshop_commit(
        user: &User,
        playlist: &Playlist,
        track_count: usize,
        (added, removed): (usize, usize),
        snapshot_id: Option<i64>,
    ) -> Self {
        Self::on_playlist(
            user,
            ActivityType::WorkshopCommit,
            format!("Committed workshop changes to \"{}\"", playlist.name),
            playlist,
        )
        .metadata(json!({
            "track_count": track_count,
            "added": added,
            "removed": removed,
            "snapshot_id": snapshot_id,
        }))
    }

    /// `workshop_session_save`: a session created or changed.
    pub fn workshop_session_save(
        user: &User,
        session: &WorkshopSession,
        playlist_name: &str,
    ) -> Self {
        Self::workshop_session(user, ActivityType::WorkshopSessionSave, "Saved", session)
            .playlist(&session.playlist_id, playlist_name)
    }

    /// `workshop_session_delete`.
    pub fn workshop_session_delete(
        user: &User,
        session: &WorkshopSession,
        playlist_name: &str,
    ) -> Self {
        Self::workshop_session(
            user,
            ActivityType::WorkshopSessionDelete,
            "Deleted",
            session,
        )
        .playlist(&session.playlist_id, playlist_name)
    }

    fn workshop_session(
        user: &User,
        kind: ActivityType,
        verb: &str,
        session: &WorkshopSession,
    ) -> Self {
        Self::by(
            user,
            kind,
            format!("{verb} workshop session \"{}\"", session.session_name),
        )
        .metadata(json!({
            "session_id": session.id,
            "session_name": session.session_name,
            "track_count": session.track_uris.strings().len(),
        }))
    }

    /// `upstream_source_add`: only when the source was created (adding is
    /// idempotent).
    pub fn upstream_source_add(
        user: &User,
        target: &Playlist,
        source_name: &str,
        source: &UpstreamSource,
    ) -> Self {
        Self::on_playlist(
            user,
            ActivityType::UpstreamSourceAdd,
            format!("Added \"{source_name}\" as a source of \"{}\"", target.name),
            target,
        )
        .metadata(Self::source_metadata(source))
    }

    /// `upstream_source_delete`.
    pub fn upstream_source_delete(user: &User, target: &Playlist, source: &UpstreamSource) -> Self {
        Self::on_playlist(
            user,
            ActivityType::UpstreamSourceDelete,
            format!("Removed a source of \"{}\"", target.name),
            target,
        )
        .metadata(Self::source_metadata(source))
    }

    fn source_metadata(source: &UpstreamSource) -> Value {
        json!({
            "source_id": source.id,
            "source_playlist_id": source.source_playlist_id,
            "source_type": source.source_type,
        })
    }

    /// `schedule_create`.
    pub fn schedule_create(user: &User, schedule: &Schedule) -> Self {
        Self::on_schedule(
            user,
            ActivityType::ScheduleCreate,
            format!("Created schedule #{} ({})", schedule.id, schedule.job_type),
            schedule,
            json!({}),
        )
    }

    /// `schedule_update`: `updated_fields` lists only what really changed,
    /// and `changes` each one's old and new value.
    pub fn schedule_update(user: &User, schedule: &Schedule, changes: &Changes) -> Self {
        let updated_fields = changes.fields();
        Self::on_schedule(
            user,
            ActivityType::ScheduleUpdate,
            format!(
                "Updated schedule #{}: {}",
                schedule.id,
                updated_fields.join(", ")
            ),
            schedule,
            json!({ "updated_fields": updated_fields, "changes": changes.to_json() }),
        )
    }

    /// `schedule_toggle`: the schedule as it now is.
    pub fn schedule_toggle(user: &User, schedule: &Schedule) -> Self {
        let verb = if schedule.is_enabled {
            "Enabled"
        } else {
            "Disabled"
        };
        Self::on_schedule(
            user,
            ActivityType::ScheduleToggle,
            format!("{verb} schedule #{}", schedule.id),
            schedule,
            json!({ "is_enabled": schedule.is_enabled }),
        )
    }

    /// `schedule_delete`.
    pub fn schedule_delete(user: &User, schedule: &Schedule) -> Self {
        Self::on_schedule(
            user,
            ActivityType::ScheduleDelete,
            format!("Deleted schedule #{}", schedule.id),
            schedule,
            json!({}),
        )
    }

    fn on_schedule(
        user: &User,
        kind: ActivityType,
        description: String,
        schedule: &Schedule,
        extra: Value,
    ) -> Self {
        let mut metadata = json!({ "schedule_id": schedule.id, "job_type": schedule.job_type });
        if let (Some(m), Value::Object(more)) = (metadata.as_object_mut(), extra) {
            m.extend(more);
        }
        Self::by(user, kind, description)
            .playlist(&schedule.target_playlist_id, &schedule.target_playlist_name)
            .metadata(metadata)
    }

    /// `schedule_run`: exactly one per run, manual or scheduled, success,
    /// failure, refusal or interruption; `error` is the failure's message.
    /// The actor is the owner for a run-now, the scheduler otherwise.
    pub fn schedule_run(
        schedule: &Schedule,
        (actor, actor_name): (ActorType, String),
        execution_id: i64,
        error: Option<&str>,
        outcome: &RunOutcome,
    ) -> Self {
        let status = match error {
            None => ExecutionStatus::Success,
            Some(_) => ExecutionStatus::Failed,
        };
        let description = match error {
            None => Self::run_description(schedule, outcome),
            Some(message) => format!("Schedule #{} failed: {message}", schedule.id),
        };
        let mut metadata = json!({
            "schedule_id": schedule.id,
            "execution_id": execution_id,
            "job_type": schedule.job_type,
            "status": status,
            "tracks_added": outcome.added,
            "tracks_total": outcome.total,
            "tracks_left_out": outcome.left_out,
            "snapshot_ids": outcome.snapshot_ids,
        });
        if let Some(message) = error {
            metadata["error"] = json!(message);
        }
        if let Some(rotation) = &outcome.rotation {
            metadata["rotated_out"] = json!(rotation.rotated_out);
            metadata["archive_playlist_id"] = json!(rotation.archive_playlist_id);
            metadata["rotation_dropped"] = json!(rotation.dropped);
        }
        Self::new(schedule.user_id, ActivityType::ScheduleRun, description)
            .playlist(&schedule.target_playlist_id, &outcome.playlist_name)
            .actor(actor, actor_name)
            .metadata(metadata)
            .written_back(outcome.spotify_snapshot_id.as_deref())
    }

    /// What a successful run did, in the words of its job: a shuffle
    /// speaks of the shuffle and its algorithm, a raid of the tracks it
    /// added.
    fn run_description(schedule: &Schedule, outcome: &RunOutcome) -> String {
        let (id, name) = (schedule.id, &outcome.playlist_name);
        let algorithm = schedule.algorithm_name.as_deref().unwrap_or("default");
        match schedule.job_type {
            JobType::Shuffle => format!(
                "Scheduled shuffle of \"{name}\" ({algorithm}), schedule #{id}: {} tracks",
                outcome.total
            ),
            JobType::Raid => format!(
                "Scheduled raid into \"{name}\", schedule #{id}: {} tracks added, {} in total",
                outcome.added, outcome.total
            ),
            JobType::RaidAndShuffle => format!(
                "Scheduled raid and shuffle of \"{name}\" ({algorithm}), schedule #{id}: \
                 {} tracks added, {} in total",
                outcome.added, outcome.total
            ),
        }
    }

    /// `snapshot_create`: a manual snapshot (automatic ones log nothing;
    /// their id goes in the rewrite's own row).
    pub fn snapshot_create(user: &User, playlist: &Playlist, snapshot: &Snapshot) -> Self {
        Self::on_playlist(
            user,
            ActivityType::SnapshotCreate,
            format!("Saved a snapshot of \"{}\"", playlist.name),
            playlist,
        )
        .metadata(Self::snapshot_metadata(snapshot))
    }

    /// `snapshot_restore` (restore and undo): `pre_restore_snapshot_id` is
    /// the automatic snapshot of the order it replaced.
    pub fn snapshot_restore(
        user: &User,
        playlist: &Playlist,
        snapshot_id: i64,
        track_count: usize,
        pre_restore_snapshot_id: Option<i64>,
    ) -> Self {
        Self::on_playlist(
            user,
            ActivityType::SnapshotRestore,
            format!("Restored \"{}\" from a snapshot", playlist.name),
            playlist,
        )
        .metadata(json!({
            "snapshot_id": snapshot_id,
            "track_count": track_count,
            "pre_restore_snapshot_id": pre_restore_snapshot_id,
        }))
    }

    /// `snapshot_delete`, named by the playlist as the snapshot recorded it.
    pub fn snapshot_delete(user: &User, snapshot: &Snapshot) -> Self {
        Self::by(
            user,
            ActivityType::SnapshotDelete,
            format!("Deleted a snapshot of \"{}\"", snapshot.playlist_name),
        )
        .playlist(&snapshot.playlist_id, &snapshot.playlist_name)
        .metadata(Self::snapshot_metadata(snapshot))
    }

    fn snapshot_metadata(snapshot: &Snapshot) -> Value {
        json!({ "snapshot_id": snapshot.id, "track_count": snapshot.track_count })
    }

    /// `settings_change`: `changed_fields` lists only what really changed,
    /// and `changes` each one's old and new value.
    pub fn settings_change(user: &User, changes: &Changes) -> Self {
        let changed_fields = changes.fields();
        Self::by(
            user,
            ActivityType::SettingsChange,
            format!("Changed settings: {}", changed_fields.join(", ")),
        )
        .metadata(json!({ "changed_fields": changed_fields, "changes": changes.to_json() }))
    }

    /// `playlist_create` of an import: adds the provider and its playlist.
    pub fn playlist_import(user: &User, playlist: &Playlist, track_count: usize) -> Self {
        let mut row = Self::playlist_create(user, playlist, track_count);
        row.description = format!("Imported playlist \"{}\" from Spotify", playlist.name);
        row.extend_metadata(json!({
            "provider": playlist.link.provider,
            "spotify_playlist_id": playlist.link.playlist_id,
        }))
    }

    /// `provider_connect`: an account connected (or connected again).
    pub fn provider_connect(user: &User, provider: Provider, account_id: &str) -> Self {
        Self::by(
            user,
            ActivityType::ProviderConnect,
            format!("Connected {} account {account_id}", provider_name(provider)),
        )
        .metadata(json!({ "provider": provider, "spotify_user_id": account_id }))
    }

    /// `provider_disconnect`: the account's tokens deleted.
    pub fn provider_disconnect(user: &User, provider: Provider, account_id: &str) -> Self {
        Self::by(
            user,
            ActivityType::ProviderDisconnect,
            format!(
                "Disconnected {} account {account_id}",
                provider_name(provider)
            ),
        )
        .metadata(json!({ "provider": provider, "spotify_user_id": account_id }))
    }

    /// `playlist_sync`: the provider's order pulled in; counts, and the
    /// automatic snapshot taken first.
    pub fn playlist_sync(
        user: &User,
        playlist: &Playlist,
        change: SyncCounts,
        snapshot_id: Option<i64>,
        spotify_snapshot_id: &str,
    ) -> Self {
        Self::on_playlist(
            user,
            ActivityType::PlaylistSync,
            format!("Synced \"{}\" from Spotify", playlist.name),
            playlist,
        )
        .metadata(json!({
            "provider": playlist.link.provider,
            "added": change.added,
            "removed": change.removed,
            "reordered": change.reordered,
            "snapshot_id": snapshot_id,
            "spotify_snapshot_id": spotify_snapshot_id,
        }))
    }

    /// Adds `provider` and `spotify_snapshot_id` to a rewrite's row when
    /// the new order was written to the provider (docs/spotify.md).
    pub fn written_back(self, spotify_snapshot_id: Option<&str>) -> Self {
        match spotify_snapshot_id {
            None => self,
            Some(id) => self.extend_metadata(json!({
                "provider": Provider::Spotify,
                "spotify_snapshot_id": id,
            })),
        }
    }

    fn extend_metadata(mut self, extra: Value) -> Self {
        if let (Some(Value::Object(fields)), Value::Object(more)) = (&mut self.metadata, extra) {
            fields.extend(more);
        }
        self
    }

    fn on_playlist(
        user: &User,
        kind: ActivityType,
        description: String,
        playlist: &Playlist,
    ) -> Self {
        Self::by(user, kind, description).playlist(&playlist.id, &playlist.name)
    }
}

/// Webhook rows name the webhook by id and host only: a URL's path or
/// query may carry a token, and the secret is never written anywhere.
impl NewActivity {
    /// `webhook_create`: where it points and which types it takes.
    pub fn webhook_create(user: &User, webhook: &Webhook) -> Self {
        Self::by(
            user,
            ActivityType::WebhookCreate,
            format!(
                "Created webhook #{} to {}",
                webhook.id,
                webhook_host(webhook)
            ),
        )
        .metadata(json!({
            "webhook_id": webhook.id,
            "host": webhook_host(webhook),
            "types": webhook.types,
        }))
    }

    /// `webhook_delete`.
    pub fn webhook_delete(user: &User, webhook: &Webhook) -> Self {
        Self::by(
            user,
            ActivityType::WebhookDelete,
            format!(
                "Deleted webhook #{} to {}",
                webhook.id,
                webhook_host(webhook)
            ),
        )
        .metadata(json!({ "webhook_id": webhook.id, "host": webhook_host(webhook) }))
    }

    /// `webhook_disabled`: the delivery worker (actor `system`) gave up
    /// after `failures` failed attempts in a row.
    pub fn webhook_disabled(webhook: &Webhook, failures: i32, last_error: Option<&str>) -> Self {
        Self::new(
            webhook.user_id,
            ActivityType::WebhookDisabled,
            format!(
                "Disabled webhook #{} to {} after {failures} failed deliveries in a row",
                webhook.id,
                webhook_host(webhook)
            ),
        )
        .actor(ActorType::System, "webhooks")
        .metadata(json!({
            "webhook_id": webhook.id,
            "host": webhook_host(webhook),
            "consecutive_failures": failures,
            "last_error": last_error,
        }))
    }
}

/// What an operator does to an account from the command line: actor
/// `system`, named `cli`, and no request context.
impl NewActivity {
    /// `password_change` by `shuffify user set-password`: the password was
    /// replaced without the old one and every live session ended.
    pub fn password_set_by_operator(user: &User, sessions_ended: usize) -> Self {
        let sessions = match sessions_ended {
            1 => "1 session".to_string(),
            n => format!("{n} sessions"),
        };
        Self::new(
            user.id,
            ActivityType::PasswordChange,
            format!("Password set from the command line; {sessions} ended"),
        )
        .actor(ActorType::System, "cli")
        .metadata(json!({ "sessions_ended": sessions_ended }))
    }
}

fn webhook_host(webhook: &Webhook) -> String {
    url::Url::parse(&webhook.url)
        .ok()
        .and_then(|url| crate::webhooks::address::host_of(&url))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_keep_only_what_differs_and_cut_long_text() {
        let long = "x".repeat(250);
        let changes = Changes::new()
            .field("same", "a", "a")
            .field("name", "Road Trip", "Summer Road Trip")
            .field("description", "", long.as_str())
            .field(
                "algorithm_name",
                &None::<String>,
                &Some("basic".to_string()),
            );
        assert_eq!(changes.fields(), ["name", "description", "algorithm_name"]);
        let json = changes.to_json();
        assert_eq!(
            json["name"],
            json!({"from": "Road Trip", "to": "Summer Road Trip"})
        );
        assert_eq!(json["description"]["to"].as_str().unwrap().len(), 200);
        assert_eq!(json["description"]["truncated"], json!(true));
        assert_eq!(json["algorithm_name"], json!({"from": null, "to": "basic"}));
    }
}
