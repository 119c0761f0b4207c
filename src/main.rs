//! The `shuffify` command line: `serve` (the default; `--demo` seeds a demo
//! account), `migrate`, `user create`, `activity prune --older-than` and
//! `activity export`. Each subcommand is a short function over the library;
//! `serve` also owns the process's signals: SIGTERM/SIGINT begin the
//! shutdown signal of `shuffify::shutdown` (open live streams end at once,
//! background work stops), drain requests in flight for at most 5 s and
//! stop the scheduler before its next run; `serve` then exits 0, once the
//! scheduler's job in hand (if any) has ended.

use std::io::Read;
use std::process::ExitCode;

use actix_web::{web, HttpServer};
use clap::{Parser, Subcommand};

use shuffify::config::Settings;
use shuffify::db;
use shuffify::models::User;
use shuffify::retention;
use shuffify::services::activity_export::EXPORT_BATCH_SIZE;
use shuffify::services::auth::{AuthService, Registration};
use shuffify::services::{ActivityExport, ActivityQuery, ExportFormat};
use shuffify::AppState;

#[derive(Parser)]
#[command(
    name = "shuffify",
    version,
    about = "A playlist service with a unified activity log"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API (the default when no command is given)
    Serve {
        /// First create user `demo` with three sample playlists, two schedules and a month of activity (once) and print a walkthrough
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit
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
}

#[derive(Subcommand)]
enum ActivityCommand {
    /// Delete activity older than an age (in batches) and print the count
    Prune {
        /// An age such as 90d or 12h
        #[arg(long, value_parser = retention::parse_age)]
        older_than: chrono::Duration,
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
        /// Read the password from standard input instead of generating one
        #[arg(long)]
        password_stdin: bool,
    },
}

fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    let result = Settings::from_env().and_then(|settings| match cli.command {
        None => serve(settings, false),
        Some(Command::Serve { demo }) => serve(settings, demo),
        Some(Command::Migrate) => migrate(&settings),
        Some(Command::User {
            command:
                UserCommand::Create {
                    username,
                    password_stdin,
                },
        }) => create_user(&settings, username, password_stdin),
        Some(Command::Activity {
            command: ActivityCommand::Prune { older_than },
        }) => prune_activity(&settings, older_than),
        Some(Command::Activity {
            command:
                ActivityCommand::Export {
                    user,
                    format,
                    since,
                },
        }) => export_activity(&settings, &user, &format, since.as_deref()),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("shuffify: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Builds the pool and applies pending migrations.
fn open_database(settings: &Settings) -> Result<db::Pool, String> {
    let pool = db::build_pool(&settings.database_url, settings.db_pool_size)?;
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let applied = db::migrations::run_pending(&mut conn)?;
    if !applied.is_empty() {
        log::info!("applied migrations: {}", applied.join(", "));
    }
    Ok(pool)
}

fn migrate(settings: &Settings) -> Result<(), String> {
    let pool = db::build_pool(&settings.database_url, 1)?;
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let applied = db::migrations::run_pending(&mut conn)?;
    println!("applied {} migration(s)", applied.len());
    Ok(())
}

fn create_user(settings: &Settings, username: String, password_stdin: bool) -> Result<(), String> {
    let pool = open_database(settings)?;
    let (password, generated) = if password_stdin {
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .map_err(|e| format!("cannot read the password: {e}"))?;
        (input.trim_end_matches(['\r', '\n']).to_string(), false)
    } else {
        (
            shuffify::services::auth::new_token()[..20].to_string(),
            true,
        )
    };
    let registration = Registration {
        username,
        password: password.clone(),
        display_name: None,
        email: None,
    };
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let user = AuthService::register(&mut conn, &registration).map_err(|e| e.to_string())?;
    println!("created user {} (id {})", user.username, user.id);
    if generated {
        println!("password: {password}");
    }
    Ok(())
}

fn prune_activity(settings: &Settings, older_than: chrono::Duration) -> Result<(), String> {
    let pool = open_database(settings)?;
    let count = retention::prune_older_than(&pool, older_than)?;
    println!("{count}");
    Ok(())
}

fn export_activity(
    settings: &Settings,
    username: &str,
    format: &str,
    since: Option<&str>,
) -> Result<(), String> {
    use std::io::Write;
    let format: ExportFormat = format.parse().map_err(|_| "format must be ndjson or csv")?;
    let since = since
        .map(|s| shuffify::timestamp::parse(s).ok_or("--since must be an RFC 3339 timestamp"))
        .transpose()?;
    let pool = open_database(settings)?;
    let user = {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        User::find_by_username(&mut conn, username)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no user named {username:?}"))?
    };
    let query = ActivityQuery {
        since,
        ..ActivityQuery::default()
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut write_error = None;
    let mut rows_written = 0usize;
    let _ = out.write_all(format.header().as_bytes());
    let read =
        ActivityExport::for_each_batch(&pool, user.id, &query, EXPORT_BATCH_SIZE, |rows| match out
            .write_all(format.render_batch(&rows).as_bytes())
        {
            Ok(()) => {
                rows_written += rows.len();
                true
            }
            Err(e) => {
                write_error = Some(e);
                false
            }
        });
    if let Some(e) = write_error {
        return Err(format!("cannot write the export: {e}"));
    }
    let flushed = out.flush();
    if let Err(e) = read {
        return Err(format!(
            "the export is incomplete: it stopped after {rows_written} row(s): {e}"
        ));
    }
    flushed.map_err(|e| format!("cannot write the export: {e}"))
}

/// How long a shutdown waits for requests in flight before it drops them
/// (they hold no lock a restart needs: a transaction cut short rolls back).
/// Live streams end as it begins, so they never hold it.
const DRAIN_SECS: u64 = 5;

fn serve(settings: Settings, demo: bool) -> Result<(), String> {
    let pool = open_database(&settings)?;
    if demo {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        match shuffify::services::demo::ensure_demo(&mut conn).map_err(|e| e.to_string())? {
            Some(password) => println!(
                "{}",
                shuffify::services::demo::walkthrough(
                    &format!("http://{}", settings.bind_addr),
                    &password
                )
            ),
            None => println!(
                "Demo user \"demo\" already exists; its password was shown when it was created."
            ),
        }
    }
    let interrupted = shuffify::scheduler::recover_interrupted(&pool, settings.lease)?;
    if interrupted > 0 {
        log::warn!("marked {interrupted} job run(s) whose lease expired as interrupted");
    }
    let state = web::Data::new(AppState::new(pool.clone(), settings.clone()));
    let scheduler = settings.scheduler_enabled.then(|| {
        shuffify::scheduler::spawn(
            pool.clone(),
            std::time::Duration::from_secs(settings.scheduler_tick_secs),
            settings.lease,
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
    let shutdown = state.shutdown.clone();
    log::info!("listening on http://{bind_addr}");
    actix_web::rt::System::new().block_on(async move {
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
            .map_err(|e| format!("cannot listen on {bind_addr}: {e}"))?
            .run();
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
    // The HTTP server has drained; let the job in hand finish.
    if let Some(scheduler) = scheduler {
        log::info!("waiting for the scheduler's job in hand");
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
