//! The `shuffify` command line: `serve` (the default), `migrate`,
//! `user create`. Each subcommand is a short function over the library.

use std::io::Read;
use std::process::ExitCode;

use actix_web::{web, HttpServer};
use clap::{Parser, Subcommand};

use shuffify::config::Settings;
use shuffify::db;
use shuffify::services::auth::{AuthService, Registration};
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
    Serve,
    /// Apply pending database migrations and exit
    Migrate,
    /// Manage accounts
    User {
        #[command(subcommand)]
        command: UserCommand,
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
        None | Some(Command::Serve) => serve(settings),
        Some(Command::Migrate) => migrate(&settings),
        Some(Command::User {
            command:
                UserCommand::Create {
                    username,
                    password_stdin,
                },
        }) => create_user(&settings, username, password_stdin),
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

fn serve(settings: Settings) -> Result<(), String> {
    let pool = open_database(&settings)?;
    let bind_addr = settings.bind_addr.clone();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let state = web::Data::new(AppState::new(pool, settings));
    log::info!("listening on http://{bind_addr}");
    actix_web::rt::System::new().block_on(async move {
        // actix stops accepting on SIGINT/SIGTERM and lets in-flight
        // requests finish (up to the shutdown timeout).
        HttpServer::new(move || shuffify::app(state.clone()))
            .workers(workers)
            .shutdown_timeout(30)
            .bind(&bind_addr)
            .map_err(|e| format!("cannot listen on {bind_addr}: {e}"))?
            .run()
            .await
            .map_err(|e| format!("server error: {e}"))
    })
}
