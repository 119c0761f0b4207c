//! `shuffify user create|set-password|list|delete`.

use shuffify::config::Settings;
use shuffify::models::playlist::Playlist;
use shuffify::password::hash_password;
use shuffify::services::account_admin::{AccountAdmin, UserListing};
use shuffify::services::auth::{new_token, AuthService, Registration};

use super::{
    explain, find_user, open_existing, open_or_create, password_from_stdin, print, rfc3339_seconds,
};

/// Creates an account, validated as `POST /api/auth/register` validates
/// one (each refused field printed as `field: rule`) before the database
/// is opened; without `--password-stdin` a random password is printed
/// once.
pub fn create(settings: &Settings, username: String, password_stdin: bool) -> Result<(), String> {
    let (password, generated) = if password_stdin {
        (password_from_stdin("user create --password-stdin")?, false)
    } else {
        (new_token()[..20].to_string(), true)
    };
    let registration = Registration {
        username,
        password,
        display_name: None,
        email: None,
    };
    registration.validate().map_err(explain)?;
    let pool = open_or_create(settings)?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let user = AuthService::register(&mut conn, &registration).map_err(explain)?;
    let mut out = format!("created user {} (id {})\n", user.username, user.id);
    if generated {
        out.push_str(&format!("password: {}\n", registration.password));
    }
    print(&out)
}

/// Replaces a user's password with the first line of stdin (the rule and
/// the hashing of registration), ends their sessions and logs
/// `password_change` with actor `system`.
pub fn set_password(settings: &Settings, username: &str) -> Result<(), String> {
    let command = format!("user set-password --username {username}");
    let password = password_from_stdin(&command)?;
    AccountAdmin::validate_password(&password).map_err(explain)?;
    let pool = open_existing(settings)?;
    let user = find_user(&pool, username)?;
    let hash = hash_password(&password).map_err(explain)?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let ended = AccountAdmin::set_password(&mut conn, &user, &hash).map_err(explain)?;
    print(&format!(
        "set the password of {} (id {}); ended {ended} session{}\n",
        user.username,
        user.id,
        if ended == 1 { "" } else { "s" }
    ))
}

/// Every account as a plain-text table, by id.
pub fn list(settings: &Settings) -> Result<(), String> {
    let pool = open_existing(settings)?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let users = AccountAdmin::list(&mut conn).map_err(explain)?;
    print(&table(&users))
}

fn table(users: &[UserListing]) -> String {
    let mut rows = vec![[
        "id".to_string(),
        "username".into(),
        "created_at".into(),
        "last_login_at".into(),
        "playlists".into(),
    ]];
    rows.extend(users.iter().map(|u| {
        [
            u.id.to_string(),
            u.username.clone(),
            rfc3339_seconds(&u.created_at),
            u.last_login_at
                .as_ref()
                .map_or_else(|| "never".into(), rfc3339_seconds),
            u.playlists.to_string(),
        ]
    }));
    let mut widths = [0usize; 5];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Deletes an account and everything it owns through `DELETE /api/me`'s
/// transaction, without its password check; only with `--yes`.
pub fn delete(settings: &Settings, username: &str, yes: bool) -> Result<(), String> {
    let pool = open_existing(settings)?;
    let user = find_user(&pool, username)?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    if !yes {
        let playlists = Playlist::count_owned(&mut conn, user.id).map_err(|e| e.to_string())?;
        return Err(format!(
            "refusing to delete user {} (id {}) without --yes: it deletes the account and \
             everything it owns ({playlists} playlist{}, schedules, snapshots, webhooks, \
             activity) for good; pass --yes to delete it",
            user.username,
            user.id,
            if playlists == 1 { "" } else { "s" }
        ));
    }
    AccountAdmin::delete(&mut conn, &user).map_err(explain)?;
    print(&format!(
        "deleted user {} (id {}) and everything it owned\n",
        user.username, user.id
    ))
}
