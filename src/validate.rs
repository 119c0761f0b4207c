//! The shape of request values: every length limit of the API, in
//! characters, with the one wording its 400 uses. Where a field is checked
//! is decided in `error.rs` (shape and length in the route's body type,
//! rules that need the database in the service); what its limit is, here.
//! The limits match their columns, so input the database would refuse never
//! reaches it.

use crate::error::FieldError;

/// How many characters a value may have (counted as Unicode scalar values,
/// after trimming where the field is trimmed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chars {
    pub min: usize,
    pub max: usize,
}

impl Chars {
    pub const fn between(min: usize, max: usize) -> Chars {
        Chars { min, max }
    }

    pub const fn at_most(max: usize) -> Chars {
        Chars { min: 0, max }
    }

    pub fn fits(self, value: &str) -> bool {
        let n = value.chars().count();
        (self.min..=self.max).contains(&n)
    }

    /// "must be 1 to 200 characters", or "must be at most 500 characters".
    pub fn message(self) -> String {
        if self.min == 0 {
            format!("must be at most {} characters", self.max)
        } else {
            format!("must be {} to {} characters", self.min, self.max)
        }
    }

    /// Adds `field`'s error to `errors` unless `value` fits.
    pub fn check(self, field: impl Into<String>, value: &str, errors: &mut Vec<FieldError>) {
        if !self.fits(value) {
            errors.push(FieldError::new(field, self.message()));
        }
    }

    /// As [`Self::check`], for an optional value (absent fits).
    pub fn check_optional(
        self,
        field: impl Into<String>,
        value: Option<&str>,
        errors: &mut Vec<FieldError>,
    ) {
        if let Some(value) = value {
            self.check(field, value, errors);
        }
    }
}

// Accounts.
pub const USERNAME: Chars = Chars::between(3, 32);
/// A new password.
pub const PASSWORD: Chars = Chars::between(8, 128);
/// A password at login: no longer than any can be.
pub const LOGIN_PASSWORD: Chars = Chars::between(1, 128);
pub const DISPLAY_NAME: Chars = Chars::between(1, 100);
/// Part of the email check, which has a wording of its own.
pub const EMAIL_MAX_BYTES: usize = 254;

// Playlists and the catalog (names trimmed).
pub const PLAYLIST_NAME: Chars = Chars::between(1, 200);
pub const DESCRIPTION: Chars = Chars::at_most(5000);
pub const TRACK_URI: Chars = Chars::between(1, 255);
pub const TRACK_NAME: Chars = Chars::between(1, 500);
pub const ARTIST_NAME: Chars = Chars::between(1, 200);
/// Most artists one track may name.
pub const MAX_ARTISTS: usize = 50;
pub const ALBUM_NAME: Chars = Chars::at_most(500);

// The workshop, snapshots, sources and schedules.
pub const SESSION_NAME: Chars = Chars::between(1, 100);
pub const SNAPSHOT_DESCRIPTION: Chars = Chars::at_most(500);
pub const SOURCE_URL: Chars = Chars::at_most(2000);
pub const SOURCE_NAME: Chars = Chars::at_most(200);
/// The width of `schedules.schedule_value` (the cron parser accepts padded
/// or long lists).
pub const SCHEDULE_VALUE: Chars = Chars::at_most(100);

/// Username characters: a-z, 0-9, `_`, `.` and `-`.
pub fn username_chars(username: &str) -> bool {
    username
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_characters_and_word_their_limits() {
        assert!(PLAYLIST_NAME.fits("é".repeat(200).as_str()));
        assert!(!PLAYLIST_NAME.fits(&"é".repeat(201)));
        assert!(!PLAYLIST_NAME.fits(""));
        assert!(DESCRIPTION.fits(""));
        assert_eq!(PLAYLIST_NAME.message(), "must be 1 to 200 characters");
        assert_eq!(DESCRIPTION.message(), "must be at most 5000 characters");
        let mut errors = Vec::new();
        SESSION_NAME.check("session_name", "", &mut errors);
        SESSION_NAME.check_optional("other", None, &mut errors);
        assert_eq!(
            errors,
            vec![FieldError::new(
                "session_name",
                "must be 1 to 100 characters"
            )]
        );
    }
}
