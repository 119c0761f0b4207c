//! The closed vocabularies of the service. Each is a strum enum whose
//! snake_case string is its form on the wire (serde) and in the database
//! (a TEXT column, through the `ToSql`/`FromSql` impls below, for each
//! backend and for `MultiBackend`), so a value
//! that round-trips through one round-trips through the other.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;
use serde::{Deserialize, Serialize};
use strum::{AsRefStr, Display, EnumIter, EnumString, IntoStaticStr};

/// Declares a string enum and its TEXT column mapping.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            Display, EnumString, EnumIter, AsRefStr, IntoStaticStr,
            Serialize, Deserialize, utoipa::ToSchema,
            diesel::AsExpression, diesel::FromSqlRow,
        )]
        #[strum(serialize_all = "snake_case")]
        #[serde(rename_all = "snake_case")]
        #[diesel(sql_type = Text)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl<DB: Backend> ToSql<Text, DB> for $name
        where
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                let text: &'static str = self.into();
                text.to_sql(out)
            }
        }

        impl<DB: Backend> FromSql<Text, DB> for $name
        where
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                let text = <String as FromSql<Text, DB>>::from_sql(bytes)?;
                text.parse()
                    .map_err(|_| format!("unknown {} value {:?}", stringify!($name), text).into())
            }
        }
    };
}

text_enum! {
    /// What an `activity_log` row records.
    ActivityType {
        Shuffle,
        WorkshopCommit,
        WorkshopSessionSave,
        WorkshopSessionDelete,
        UpstreamSourceAdd,
        UpstreamSourceDelete,
        ScheduleCreate,
        ScheduleUpdate,
        ScheduleDelete,
        ScheduleToggle,
        ScheduleRun,
        SnapshotCreate,
        SnapshotRestore,
        SnapshotDelete,
        SettingsChange,
        Login,
        Logout,
        LoginFailed,
        PlaylistCreate,
        PlaylistUpdate,
        PlaylistDelete,
        ProviderConnect,
        ProviderDisconnect,
        PlaylistSync,
        AccountExport,
        WebhookCreate,
        WebhookDelete,
        WebhookDisabled,
        PasswordChange,
        ProfileUpdate,
        PlaylistDedupe,
    }
}

text_enum! {
    /// Where one event's delivery to a webhook stands.
    DeliveryStatus { Pending, Succeeded, Failed }
}

text_enum! {
    /// Who caused an activity: the user through the API, the scheduler, or
    /// the service itself.
    ActorType { User, Scheduler, System }
}

text_enum! {
    /// What a schedule does when it runs.
    JobType { Raid, Shuffle, RaidAndShuffle }
}

text_enum! {
    /// How a schedule's `schedule_value` is read.
    ScheduleType { Interval, Cron }
}

text_enum! {
    /// The intervals an `interval` schedule may use.
    IntervalValue {
        #[strum(serialize = "every_6h")]
        #[serde(rename = "every_6h")]
        Every6h,
        #[strum(serialize = "every_12h")]
        #[serde(rename = "every_12h")]
        Every12h,
        Daily,
        #[strum(serialize = "every_3d")]
        #[serde(rename = "every_3d")]
        Every3d,
        Weekly,
    }
}

impl IntervalValue {
    pub fn duration(self) -> chrono::Duration {
        match self {
            IntervalValue::Every6h => chrono::Duration::hours(6),
            IntervalValue::Every12h => chrono::Duration::hours(12),
            IntervalValue::Daily => chrono::Duration::days(1),
            IntervalValue::Every3d => chrono::Duration::days(3),
            IntervalValue::Weekly => chrono::Duration::weeks(1),
        }
    }
}

text_enum! {
    /// Why a playlist snapshot was taken.
    SnapshotType {
        Manual,
        AutoPreShuffle,
        AutoPreCommit,
        AutoPreRaid,
        AutoPreRestore,
        ScheduledPreExecution,
        AutoPreSync,
        AutoPreDedupe,
    }
}

impl SnapshotType {
    /// Automatic snapshots are pruned beyond the owner's limit; manual ones never.
    pub fn is_automatic(self) -> bool {
        self != SnapshotType::Manual
    }
}

text_enum! {
    /// Where a playlist's order lives: only here (`local`), or on Spotify,
    /// with this service holding a linked copy (docs/spotify.md).
    Provider { Local, Spotify }
}

text_enum! {
    /// Where an upstream source comes from.
    SourceType { Own, External, Spotify, SpotifyLiked }
}

text_enum! {
    /// Who started a job execution.
    TriggeredBy { Scheduler, Manual }
}

text_enum! {
    /// The state of a job execution.
    ExecutionStatus { Running, Success, Failed }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn activity_types_are_snake_case_and_round_trip() {
        // The original 21; the Spotify provider's provider_connect, provider_disconnect
        // and playlist_sync; account_export; webhook_create,
        // webhook_delete and webhook_disabled; password_change and
        // profile_update; playlist_dedupe.
        assert_eq!(ActivityType::iter().count(), 31);
        for t in ActivityType::iter() {
            let s = t.to_string();
            assert!(s.len() <= 50);
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s}");
            assert_eq!(s.parse::<ActivityType>().unwrap(), t);
            assert_eq!(serde_json::to_value(t).unwrap(), serde_json::json!(s));
        }
        assert_eq!(
            ActivityType::WorkshopSessionSave.as_ref(),
            "workshop_session_save"
        );
    }

    #[test]
    fn interval_values_use_the_spec_spelling() {
        let names: Vec<String> = IntervalValue::iter().map(|v| v.to_string()).collect();
        assert_eq!(
            names,
            ["every_6h", "every_12h", "daily", "every_3d", "weekly"]
        );
        assert_eq!(
            serde_json::from_str::<IntervalValue>("\"every_3d\"").unwrap(),
            IntervalValue::Every3d
        );
    }
}
