//! The subcommands besides `serve` (which stays in `main.rs`), each a short
//! function over the library; part of the binary only. What they share:
//! how a command opens the database (and says which it opened), how a
//! password is read, and how an `AppError` is told to an operator.
//!
//! Results go to stdout, errors to stderr (as `Err` text, which `main`
//! prints line by line after `shuffify: ` and exits 1); nothing prompts.

pub mod accounts;
pub mod activity;
pub mod backup;
mod environment;

use std::io::{BufRead, IsTerminal};

use shuffify::config::Settings;
use shuffify::db::{self, Pool};
use shuffify::error::AppError;
use shuffify::models::User;

pub use environment::{SERVE_ENVIRONMENT, SERVE_ENVIRONMENT_SHORT};

/// Builds the pool and applies pending migrations. A missing SQLite file
/// is created: callers that must not create one check first
/// ([`open_existing`]).
pub fn migrated_pool(settings: &Settings, size: u32) -> Result<Pool, String> {
    let pool = db::build_pool(&settings.database_url, size)?;
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let applied = db::migrations::run_pending(&mut conn)?;
    if !applied.is_empty() {
        log::info!("applied migrations: {}", applied.join(", "));
    }
    Ok(pool)
}

/// For `migrate` and `user create`: the database, created and migrated
/// when it is a SQLite file not there yet.
pub fn open_or_create(settings: &Settings) -> Result<Pool, String> {
    let pool = migrated_pool(settings, 1)?;
    announce(settings);
    Ok(pool)
}

/// For every other command: an existing database only. A SQLite file that
/// is not there is an error naming its path, and nothing is created.
/// Pending migrations are applied, as `serve` would apply them.
pub fn open_existing(settings: &Settings) -> Result<Pool, String> {
    db::require_existing(&settings.database_url)?;
    let pool = migrated_pool(settings, 1)?;
    announce(settings);
    Ok(pool)
}

/// The one stderr line naming the database a command opened (a
/// PostgreSQL password masked).
pub fn announce(settings: &Settings) {
    eprintln!(
        "database: {}",
        db::describe_database_url(&settings.database_url)
    );
}

/// An error as the API would word it: a validation failure as one
/// `field: message` line per detail (the API's `details`), anything else
/// by its message.
pub fn explain(err: AppError) -> String {
    match err {
        AppError::Validation { details, .. } if !details.is_empty() => details
            .iter()
            .map(|d| format!("{}: {}", d.field, d.message))
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

/// The user named `username`, or an error naming it.
pub fn find_user(pool: &Pool, username: &str) -> Result<User, String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    User::find_by_username(&mut conn, username)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user named {username:?}"))
}

/// A password from standard input: its first line, without the line
/// break. Standard input that is a terminal is refused rather than waited
/// on: no command prompts, and a typed password would be echoed.
pub fn password_from_stdin(command: &str) -> Result<String, String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(format!(
            "`{command}` reads the password from standard input, which is a terminal here; \
             pipe it in instead, e.g. `printf '%s\\n' \"$PASSWORD\" | shuffify {command}`"
        ));
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    Ok(line.strip_suffix('\r').unwrap_or(line).to_string())
}

/// Writes `text` to stdout; a closed pipe (`| head`) is an error, not a
/// panic.
pub fn print(text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write the output: {e}"))
}

/// A time as the command line prints it: RFC 3339, UTC, whole seconds.
pub fn rfc3339_seconds(t: &chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
