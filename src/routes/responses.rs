//! The envelopes the handlers answer with, one type per shape, so that what
//! a handler returns and what the API's description says are the same
//! types. The bodies inside them are the services' views (`PlaylistView`,
//! `PlaylistChange`, `SettingsView`, `SincePage`, `ActivityPage`) and the
//! models' public rows (`ActivityLog`, `Schedule`, `JobExecution`, ...).

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::enums::ActivityType;
use crate::services::activity_log::DayCount;

/// `{items}`: every list that is not paged (docs/api.md, "API conventions").
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

impl<T> Items<T> {
    pub fn new(items: Vec<T>) -> Self {
        Items { items }
    }
}

/// `{items, total, limit, offset}`: a page by offset that counts its total
/// (the playlists).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CountedPage<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// `{items, limit, offset}`: a page by offset with no total (the catalog).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OffsetPage<T> {
    pub items: Vec<T>,
    pub limit: i64,
    pub offset: i64,
}

/// `GET /api/activity/summary`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActivitySummary {
    pub days: u32,
    pub total: i64,
    /// Rows per activity type; types with none are absent.
    #[schema(value_type = BTreeMap<ActivityType, i64>)]
    pub counts: BTreeMap<String, i64>,
    /// Every day of the window, oldest first, zeros included.
    pub per_day: Vec<DayCount>,
}

/// `POST /api/playlists/{id}/workshop/preview`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Preview {
    pub track_uris: Vec<String>,
}

/// `GET /health`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    pub status: HealthStatus,
    pub version: &'static str,
    pub checks: HealthChecks,
}

/// `degraded` when the database does not answer.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
    Degraded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Ok,
    Unavailable,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HealthChecks {
    pub database: CheckStatus,
}

/// `GET /health/live`: the process answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Liveness {
    pub status: LiveStatus,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LiveStatus {
    Ok,
}

/// `GET /health/ready`: `ok` (200) when every check passes, else
/// `unavailable` (503) with the checks that failed in `failed`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Readiness {
    pub status: ReadyStatus,
    /// The checks that failed, by name; empty when ready.
    pub failed: Vec<ReadyCheck>,
    pub checks: ReadinessChecks,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadyStatus {
    Ok,
    Unavailable,
}

/// A readiness check, as `failed` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadyCheck {
    Database,
    Migrations,
    Shutdown,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReadinessChecks {
    /// Whether a connection answers `SELECT 1` within 2 s.
    pub database: CheckStatus,
    /// `pending` while an embedded migration is not applied; `unknown`
    /// when the database does not answer.
    pub migrations: MigrationsStatus,
    /// `shutting_down` once SIGTERM or SIGINT has been received.
    pub shutdown: ShutdownStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MigrationsStatus {
    Ok,
    Pending,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShutdownStatus {
    Running,
    ShuttingDown,
}
