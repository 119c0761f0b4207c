//! Logic that spans tables, as unit structs with associated functions over a
//! `&mut DbConnection`, so that a write can join the caller's transaction.

pub mod account_admin;
pub mod account_deletion;
pub mod account_export;
pub mod activity_export;
pub mod activity_log;
pub mod activity_query;
pub mod activity_since;
pub mod auth;
pub mod dedupe;
pub mod demo;
pub mod export_stream;
pub mod job_executor;
pub mod job_plan;
pub mod pins;
pub mod playlists;
pub mod profile;
pub mod rewrite;
pub mod rotation;
pub mod schedule_rules;
pub mod schedules;
pub mod settings;
pub mod shuffle;
pub mod snapshots;
pub mod spotify;
pub mod upstream;
pub mod webhooks;
pub mod workshop;

pub use activity_export::{ActivityExport, ExportError, ExportFormat};
pub use activity_log::ActivityLogService;
pub use activity_query::{ActivityCursor, ActivityPage, ActivityQuery, ActivityRange, Paging};
pub use activity_since::{SinceCutoff, SincePage};
