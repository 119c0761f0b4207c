//! `activity_log`: the append-only trail. Rows are written only through
//! [`crate::services::activity_log::ActivityLogService`], which owns the
//! never-fail policy; this module holds the row and insert structs.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::activity_log;
use crate::db::Json;
use crate::enums::{ActivityType, ActorType};
use crate::models::User;

/// One row, serialized exactly as an activity item of SPEC §6.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = activity_log)]
pub struct ActivityLog {
    pub id: i64,
    #[serde(skip)]
    pub user_id: i64,
    pub activity_type: ActivityType,
    pub description: String,
    pub playlist_id: Option<String>,
    pub playlist_name: Option<String>,
    pub actor_type: ActorType,
    pub actor_name: Option<String>,
    pub metadata: Option<Json>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: NaiveDateTime,
}

/// What a caller wants recorded. Built with [`NewActivity::new`] and the
/// chained setters; the service stamps the time and truncates the text.
#[derive(Debug, Clone, PartialEq)]
pub struct NewActivity {
    pub user_id: i64,
    pub activity_type: ActivityType,
    pub description: String,
    pub playlist_id: Option<String>,
    pub playlist_name: Option<String>,
    pub actor_type: ActorType,
    pub actor_name: Option<String>,
    pub metadata: Option<serde_json::Value>,
}

impl NewActivity {
    /// An activity by the user themselves (actor `user`).
    pub fn new(user_id: i64, activity_type: ActivityType, description: impl Into<String>) -> Self {
        NewActivity {
            user_id,
            activity_type,
            description: description.into(),
            playlist_id: None,
            playlist_name: None,
            actor_type: ActorType::User,
            actor_name: None,
            metadata: None,
        }
    }

    /// An activity by `user` through the API: actor `user`, named by the
    /// username.
    pub fn by(user: &User, activity_type: ActivityType, description: impl Into<String>) -> Self {
        Self::new(user.id, activity_type, description).actor(ActorType::User, &user.username)
    }

    pub fn playlist(mut self, id: impl Into<String>, name: impl Into<String>) -> Self {
        self.playlist_id = Some(id.into());
        self.playlist_name = Some(name.into());
        self
    }

    pub fn actor(mut self, actor_type: ActorType, name: impl Into<String>) -> Self {
        self.actor_type = actor_type;
        self.actor_name = Some(name.into());
        self
    }

    pub fn metadata(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = Some(metadata);
        self
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = activity_log)]
pub(crate) struct ActivityLogInsert<'a> {
    pub user_id: i64,
    pub activity_type: ActivityType,
    pub description: &'a str,
    pub playlist_id: Option<&'a str>,
    pub playlist_name: Option<&'a str>,
    pub actor_type: ActorType,
    pub actor_name: Option<&'a str>,
    pub metadata: Option<Json>,
    pub created_at: NaiveDateTime,
}
