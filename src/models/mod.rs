//! One module per table: the row struct, its insert/update structs, and the
//! queries that touch only that table.

pub mod activity_log;
pub mod activity_rows;
pub mod address_bucket;
pub mod auth_session;
pub mod job_execution;
pub mod login_failure;
pub mod playlist;
pub mod playlist_order;
pub mod provider_connection;
pub mod provider_pause;
pub mod schedule;
pub mod snapshot;
pub mod stream_ticket;
pub mod track;
pub mod upstream_source;
pub mod user;
pub mod user_settings;
pub mod webhook;
pub mod workshop_session;

pub use activity_log::{ActivityLog, NewActivity};
pub use activity_rows::{AlgorithmUsed, Changes, RotationOutcome, RunOutcome, SyncCounts};
pub use auth_session::{AuthSession, NewAuthSession};
pub use user::{NewUser, User};
pub use user_settings::UserSettings;
