//! The `shuffify` command line, a thin clap front over the library:
//!
//! - `serve [--demo]` (the default; `shuffify --demo` is `serve --demo`)
//!   runs the HTTP API; `--demo` first seeds a demo account. `serve --help`
//!   lists every environment variable it reads.
//! - `migrate` applies pending migrations.
//! - `user create|set-password|list|delete` manage accounts: `set-password`
//!   reads the new password from stdin and ends the user's sessions;
//!   `delete` deletes as `DELETE /api/me` does, and only with `--yes`.
//! - `activity prune --older-than AGE [--user U] [--dry-run] [--yes]` and
//!   `activity export --user U` work on the activity log; a prune prints
//!   what it deleted, the cutoff and the scope, and a cutoff under one day
//!   needs `--yes`.
//! - `backup --to FILE` copies a live SQLite database (`VACUUM INTO`).
//!
//! The database: `serve`, `migrate`, `user create` and `--demo` create and
//! migrate a missing SQLite file; every other command opens an existing
//! database only, and a missing file is an error naming its path. Each
//! command says on stderr which database it opened (a PostgreSQL password
//! masked). Results go to stdout, errors to stderr; the exit status is 0 on
//! success, 1 for a refused or failed command, 2 for a usage error. No
//! command prompts. The commands besides `serve` are in `cli/`.
//!
//! `serve` owns the process's signals: SIGTERM/SIGINT begin the shutdown
//! signal of `shuffify::shutdown` (open live streams end at once,
//! background work stops), drain requests in flight for at most 5 s and
//! stop the scheduler before its next run; `serve` then exits 0, once the
//! scheduler's runs in hand (if any) have ended.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use actix_web::{web, HttpServer};
use clap::{Parser, Subcommand};

use shuffify::config::Settings;
use shuffify::db;
use shuffify::retention;
use shuffify::AppState;

#[derive(Parser)]
#[command(
    name = "shuffify",
    version,
    about = "A playlist service with a unified activity log",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    /// Same as `serve --demo` (serve is the default command)
    #[arg(long)]
    demo: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API (the default when no command is given)
    #[command(
        after_help = cli::SERVE_ENVIRONMENT_SHORT,
        after_long_help = cli::SERVE_ENVIRONMENT
    )]
    Serve {
        /// First create user `demo` with three sample playlists, two schedules and a month of activity (once) and print a walkthrough
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit (creates a missing SQLite file)
    Migrate,
    /// Manage accounts
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Prune or export the activity log
    Activity {
        #[command(subcommand)]
        command: ActivityCommand,
    },
    /// Copy the SQLite database to a new file (consistent while serve runs)
    ///
    /// Uses SQLite's VACUUM INTO: one read transaction, so the copy is the
    /// database as of one instant, and serve keeps writing meanwhile. FILE
    /// must not exist. No migration runs first. On PostgreSQL this exits 1:
    /// use pg_dump.
    Backup {
        /// The new file
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
}

#[derive(Subcommand)]
enum ActivityCommand {
    /// Delete activity older than an age (in batches) and print what was deleted
    ///
    /// Prints the count, the cutoff (RFC 3339, UTC) and the scope, e.g.
    /// `deleted 10 activity rows older than 2026-12-05T23:00:00Z (all
    /// users)`. A cutoff of one day or more runs at once; under one day
    /// (`--older-than 0d`, `12h`) the command exits 1 unless --yes is given.
    Prune {
        /// An age such as 90d or 12h
        #[arg(long, value_parser = retention::parse_age)]
        older_than: chrono::Duration,
        /// Only this user's activity (default: every user's)
        #[arg(long, value_name = "USERNAME")]
        user: Option<String>,
        /// Print what would be deleted, and delete nothing
        #[arg(long)]
        dry_run: bool,
        /// Allow a cutoff under one day old
        #[arg(long)]
        yes: bool,
    },
    /// Write one user's activity to stdout, newest first
    Export {
        /// The username
        #[arg(long)]
        user: String,
        #[arg(long, default_value = "ndjson", value_parser = ["ndjson", "csv"])]
        format: String,
        /// Only rows at or after this RFC 3339 time
        #[arg(long)]
        since: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account; without --password-stdin a random password is printed once
    Create {
        #[arg(long)]
        username: String,
        /// Read the password from standard input (its first line) instead of generating one
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password, read from standard input (its first line), and end their sessions
    ///
    /// The password follows registration's rule (8 to 128 characters). Every
    /// live session of the user ends, and one password_change activity row
    /// is written with actor `system`. Standard input must not be a
    /// terminal: pipe the password in.
    SetPassword {
        #[arg(long)]
        username: String,
    },
    /// List every account by id, oldest first: id, username, created_at, last_login_at, playlists
    ///
    /// A plain-text table with a header line; times are RFC 3339, UTC,
    /// whole seconds; a user who never logged in shows `never`.
    List,
    /// Delete an account and everything it owns, as DELETE /api/me does (needs --yes)
    ///
    /// Without --yes nothing is deleted and the command exits 1, saying what
    /// would go. There is no undo: take a `shuffify backup` first.
    Delete {
        #[arg(long)]
        username: String,
        /// Really delete it
        #[arg(long)]
        yes: bool,
    },
}

fn main() -> ExitCode {
    let dotenv = shuffify::config::load_dotenv();
    let args = Cli::parse();
    // Only `serve` writes JSON (LOG_FORMAT); other commands print plain text.
    let serving = matches!(args.command, None | Some(Command::Serve { .. }));
    shuffify::logging::init(if serving {
        shuffify::logging::format_from_env()
    } else {
        shuffify::logging::LogFormat::Text
    });
    match dotenv
        .and_then(|()| Settings::from_env())
        .and_then(|settings| run(args, settings))
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            shuffify::logging::fatal(&message);
            ExitCode::FAILURE
        }
    }
}

fn run(args: Cli, settings: Settings) -> Result<(), String> {
    match args.command {
        None => serve(settings, args.demo),
        Some(Command::Serve { demo }) => serve(settings, demo),
        Some(Command::Migrate) => migrate(&settings),
        Some(Command::User { command }) => match command {
            UserCommand::Create {
                username,
                password_stdin,
            } => cli::accounts::create(&settings, username, password_stdin),
            UserCommand::SetPassword { username } => {
                cli::accounts::set_password(&settings, &username)
            }
            UserCommand::List => cli::accounts::list(&settings),
            UserCommand::Delete { username, yes } => {
                cli::accounts::delete(&settings, &username, yes)
            }
        },
        Some(Command::Activity { command }) => match command {
            ActivityCommand::Prune {
                older_than,
                user,
                dry_run,
                yes,
            } => cli::activity::prune(
                &settings,
                cli::activity::Prune {
                    older_than,
                    user: user.as_deref(),
                    dry_run,
                    yes,
                },
            ),
            ActivityCommand::Export {
                user,
                format,
                since,
            } => cli::activity::export(&settings, &user, &format, since.as_deref()),
        },
        Some(Command::Backup { to }) => cli::backup::backup(&settings, &to),
    }
}

/// Builds the pool and applies pending migrations (creating a missing
/// SQLite file), and logs which database it opened.
/// The start-up summary has already named the database (password masked).
fn open_database(settings: &Settings) -> Result<db::Pool, String> {
    cli::migrated_pool(settings, settings.db_pool_size)
}

fn migrate(settings: &Settings) -> Result<(), String> {
    let pool = db::build_pool(&settings.database_url, 1)?;
    cli::announce(settings);
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let applied = db::migrations::run_pending(&mut conn)?;
    println!("applied {} migration(s)", applied.len());
    Ok(())
}

/// How long a shutdown waits for requests in flight before it drops them
/// (they hold no lock a restart needs: a transaction cut short rolls back).
/// Live streams end as it begins, so they never hold it.
const DRAIN_SECS: u64 = 5;

fn serve(settings: Settings, demo: bool) -> Result<(), String> {
    log::info!("{}", settings.summary());
    let pool = open_database(&settings)?;
    // Every instance keeps the partitions ahead, scheduler or not; a
    // failure only leaves rows to the DEFAULT partition until next time.
    if let Err(err) = db::partitions::upkeep_now(&pool) {
        log::warn!("partitions: upkeep failed: {err}");
    }
    if demo {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        match shuffify::services::demo::ensure_demo(&mut conn).map_err(|e| e.to_string())? {
            Some(password) => shuffify::logging::print(&shuffify::services::demo::walkthrough(
                &format!("http://{}", settings.bind_addr),
                &password,
            )),
            None => shuffify::logging::print(
                "Demo user \"demo\" already exists; its password was shown when it was created.",
            ),
        }
    }
    let interrupted = shuffify::scheduler::recover_interrupted(&pool, settings.lease)?;
    if interrupted > 0 {
        log::warn!("marked {interrupted} job run(s) whose lease expired as interrupted");
    }
    let state = web::Data::new(AppState::new(pool.clone(), settings.clone()));
    let scheduler = settings.scheduler_enabled.then(|| {
        shuffify::scheduler::spawn_with(
            pool.clone(),
            shuffify::scheduler::Options::from_settings(&settings),
            state.spotify.clone(),
        )
    });
    let scheduler_stop = scheduler.as_ref().map(|s| s.stop_signal());
    // Webhook delivery runs in every process, scheduler or not; it stops
    // taking work when shutdown begins.
    let webhooks =
        shuffify::webhooks::worker::Worker::spawn(pool.clone(), &settings, state.shutdown.clone())?;
    let stopping_state = state.clone();
    // Keeps the WAL short from a thread of its own (SQLite files only).
    let _checkpointer = db::checkpoint::spawn(&settings.database_url);
    let bind_addr = settings.bind_addr.clone();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let retention_days = settings.activity_retention_days;
    let partition_upkeep = settings.partition_upkeep;
    let shutdown = state.shutdown.clone();
    actix_web::rt::System::new().block_on(async move {
        {
            let (pool, stopped) = (pool.clone(), shutdown.clone());
            actix_web::rt::spawn(async move {
                tokio::select! {
                    _ = db::partitions::run_every(pool, partition_upkeep) => {}
                    _ = stopped.begun() => {}
                }
            });
        }
        if retention_days > 0 {
            let stopped = shutdown.clone();
            actix_web::rt::spawn(async move {
                tokio::select! {
                    _ = retention::run_daily(pool, retention_days) => {}
                    _ = stopped.begun() => {}
                }
            });
        }
        let server = HttpServer::new(move || shuffify::app(state.clone()))
            .workers(workers)
            .shutdown_timeout(DRAIN_SECS)
            .disable_signals()
            .bind(&bind_addr)
            .map_err(|e| format!("BIND_ADDR={bind_addr}: cannot listen there: {e}"))?;
        for addr in server.addrs() {
            log::info!("listening on http://{addr}");
        }
        let server = server.run();
        // Our own signal handling: shutdown begins (open live streams end,
        // background work stops taking more), the scheduler stops starting
        // runs, and actix stops accepting and lets in-flight requests
        // finish, for at most `DRAIN_SECS`.
        let handle = server.handle();
        actix_web::rt::spawn(async move {
            shutdown_signal().await;
            log::info!("shutting down: streams end, no new scheduled runs; draining requests");
            shutdown.begin();
            if let Some(stop) = scheduler_stop {
                stop.send();
            }
            // Queued Spotify work answers 503; calls in flight are
            // abandoned, for their clients to retry.
            stopping_state.spotify_pool.stop();
            handle.stop(true).await;
        });
        server.await.map_err(|e| format!("server error: {e}"))
    })?;
    webhooks.stop();
    // The HTTP server has drained; let the runs in hand finish.
    if let Some(scheduler) = scheduler {
        log::info!("waiting for the scheduler's runs in hand");
        scheduler.stop();
    }
    Ok(())
}

/// SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(err) => {
                    log::warn!("cannot listen for SIGTERM: {err}");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
