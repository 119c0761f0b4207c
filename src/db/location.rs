//! Where `DATABASE_URL` points, said safely: the one line every command
//! prints about the database it opened ([`describe_database_url`], with a
//! PostgreSQL password masked), whether a SQLite file is there for the
//! commands that open an existing database only ([`require_existing`]), and
//! a URL without its password for a command line shown to an operator
//! ([`without_password`]).

use std::path::{Path, PathBuf};

use super::DatabaseUrl;

/// `DATABASE_URL` as a log line may show it: a SQLite file as
/// `sqlite:///absolute/path` (so a command run from another directory says
/// which file it opened), a PostgreSQL URL with its password (in the
/// userinfo or a `password=` parameter) replaced by `***`. A URL that does
/// not parse is masked the same way and shown as given.
pub fn describe_database_url(url: &str) -> String {
    let url = url.trim();
    match DatabaseUrl::parse(url) {
        Ok(parsed @ DatabaseUrl::Sqlite(_)) if parsed.is_private_memory() => {
            "sqlite::memory:".into()
        }
        Ok(DatabaseUrl::Sqlite(spec)) if !spec.starts_with("file:") => {
            format!("sqlite://{}", absolute(Path::new(&spec)).display())
        }
        Ok(DatabaseUrl::Sqlite(spec)) => spec,
        Ok(DatabaseUrl::Postgres(_)) | Err(_) => rewrite_secrets(url, Some("***")),
    }
}

/// `url` with its password left out altogether (`user:secret@` becomes
/// `user@`, a `password=` parameter is dropped): for a command line printed
/// as an example, whose password comes from `PGPASSWORD` or `~/.pgpass`.
pub fn without_password(url: &str) -> String {
    rewrite_secrets(url.trim(), None)
}

/// The SQLite file `url` names, absolute; `None` for PostgreSQL and
/// in-memory databases, which have no file.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    DatabaseUrl::parse(url)
        .ok()?
        .sqlite_file()
        .map(|path| absolute(&path))
}

/// For the commands that work on an existing database only: an error
/// naming the path when `url` names a SQLite file that is not there, before
/// anything opens it (opening would create it).
pub fn require_existing(url: &str) -> Result<(), String> {
    match sqlite_file(url) {
        Some(path) if !path.exists() => Err(format!(
            "no SQLite database at {}: this command opens an existing database only, and \
             created nothing; check DATABASE_URL (a relative path is read from the current \
             directory), or create the database with `shuffify migrate`",
            path.display()
        )),
        _ => Ok(()),
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `url` with the password of its userinfo and of a `password=` query
/// parameter replaced by `mask`, or removed when `mask` is `None`. The
/// userinfo ends at the last `@` before the query, as libpq reads it, so a
/// password holding an unescaped `@` or `/` is still covered.
fn rewrite_secrets(url: &str, mask: Option<&str>) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let query_at = rest.find(['?', '#']).unwrap_or(rest.len());
    let (head, tail) = rest.split_at(query_at);
    let head = match (scheme, head.rfind('@')) {
        (Some(_), Some(at)) => {
            let (userinfo, host) = head.split_at(at);
            match (userinfo.split_once(':'), mask) {
                (Some((user, _)), Some(mask)) => format!("{user}:{mask}{host}"),
                (Some((user, _)), None) => format!("{user}{host}"),
                (None, _) => head.to_string(),
            }
        }
        _ => head.to_string(),
    };
    let tail = match tail.strip_prefix('?') {
        Some(query) => {
            let (query, fragment) = match query.find('#') {
                Some(at) => query.split_at(at),
                None => (query, ""),
            };
            let pairs: Vec<String> = query
                .split('&')
                .filter_map(|pair| {
                    let key = pair.split('=').next().unwrap_or_default();
                    if !key.eq_ignore_ascii_case("password") {
                        return Some(pair.to_string());
                    }
                    mask.map(|mask| format!("{key}={mask}"))
                })
                .collect();
            if pairs.is_empty() {
                fragment.to_string()
            } else {
                format!("?{}{fragment}", pairs.join("&"))
            }
        }
        None => tail.to_string(),
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{head}{tail}"),
        None => format!("{head}{tail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_password_is_masked_wherever_it_is_given() {
        let cases = [
            (
                "postgres://shuffify:s3cret@db.example:5432/shuffify",
                "postgres://shuffify:***@db.example:5432/shuffify",
            ),
            (
                "postgresql://u:p%40ss@[::1]/db?sslmode=prefer",
                "postgresql://u:***@[::1]/db?sslmode=prefer",
            ),
            // An unescaped `@` or `/` in the password is still inside it.
            ("postgres://u:p@ss/w@h/db", "postgres://u:***@h/db"),
            (
                "postgres://u@h/db?application_name=x&password=s3cret&options=-csearch_path%3Dt",
                "postgres://u@h/db?application_name=x&password=***&options=-csearch_path%3Dt",
            ),
            ("postgres://u:@h/db", "postgres://u:***@h/db"),
            // Nothing to hide.
            ("postgres://u@h/db", "postgres://u@h/db"),
            ("postgres://h/db", "postgres://h/db"),
            (
                "postgres:///db?host=/run/postgresql",
                "postgres:///db?host=/run/postgresql",
            ),
        ];
        for (url, shown) in cases {
            assert_eq!(describe_database_url(url), shown, "{url}");
            assert!(!describe_database_url(url).contains("s3cret"));
        }
        // A URL no backend accepts is masked all the same.
        assert_eq!(
            describe_database_url("mysql://root:hunter2@localhost/x"),
            "mysql://root:***@localhost/x"
        );
    }

    #[test]
    fn a_sqlite_file_is_shown_by_its_absolute_path() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            describe_database_url("sqlite://shuffify.db"),
            format!("sqlite://{}", cwd.join("shuffify.db").display())
        );
        assert_eq!(
            describe_database_url("sqlite:///var/lib/shuffify/s.db"),
            "sqlite:///var/lib/shuffify/s.db"
        );
        assert_eq!(describe_database_url("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(
            describe_database_url("file:t1?mode=memory&cache=shared"),
            "file:t1?mode=memory&cache=shared"
        );
    }

    #[test]
    fn an_example_command_line_carries_no_password() {
        assert_eq!(
            without_password("postgres://u:s3cret@h:5432/db?password=s3cret&sslmode=prefer"),
            "postgres://u@h:5432/db?sslmode=prefer"
        );
        assert_eq!(
            without_password("postgres://u@h/db?password=x"),
            "postgres://u@h/db"
        );
    }

    #[test]
    fn only_a_sqlite_file_has_a_path() {
        assert!(sqlite_file("sqlite:///tmp/x.db").is_some_and(|p| p == Path::new("/tmp/x.db")));
        assert!(sqlite_file("file:/tmp/y.db?mode=rwc").is_some_and(|p| p == Path::new("/tmp/y.db")));
        assert!(sqlite_file("file:///tmp/z%20z.db").is_some_and(|p| p == Path::new("/tmp/z z.db")));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("file:t?mode=memory&cache=shared"), None);
        assert_eq!(sqlite_file("file::memory:?cache=shared"), None);
        assert_eq!(sqlite_file("postgres://u@h/db"), None);
    }

    #[test]
    fn a_missing_file_is_named_and_left_missing() {
        let path = std::env::temp_dir().join(format!("never-{}.db", std::process::id()));
        let err = require_existing(&format!("sqlite://{}", path.display())).unwrap_err();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(!path.exists());
        assert!(require_existing("sqlite::memory:").is_ok());
        assert!(require_existing("postgres://u@h/db").is_ok());
    }
}
