//! The shape of request values: every length limit of the API, in
//! characters, with the one wording its 400 uses. Where a field is checked
//! is decided in `error.rs` (shape and length in the route's body type,
//! rules that need the database in the service); what its limit is, here.
//! The limits match their columns, so input the database would refuse never
//! reaches it.
//!
//! The API's description states the same numbers: [`schema`] turns each
//! limit into the JSON Schema of its field, for `#[schema(schema_with = ..)]`.

use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;

use crate::error::FieldError;

/// How many characters a value may have (counted as Unicode scalar values;
/// a trimmed field must also have `min` once trimmed).
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

    /// `value` cut to at most `max` characters, for text taken from a
    /// provider rather than a client (a client's is refused instead).
    pub fn truncate(self, value: &str) -> &str {
        truncate_chars(value, self.max)
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

    /// The limit of a field that is trimmed before it is stored: at most
    /// `max` characters as sent (what the API's description states as
    /// `maxLength`), and at least `min` once trimmed.
    pub fn fits_trimmed(self, value: &str) -> bool {
        value.chars().count() <= self.max && value.trim().chars().count() >= self.min
    }

    /// Adds `field`'s error to `errors` unless `value` fits as a trimmed
    /// field ([`Self::fits_trimmed`]).
    pub fn check_trimmed(
        self,
        field: impl Into<String>,
        value: &str,
        errors: &mut Vec<FieldError>,
    ) {
        if !self.fits_trimmed(value) {
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

/// Cuts `text` to at most `max` characters, on a character boundary.
pub fn truncate_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((byte_index, _)) => &text[..byte_index],
        None => text,
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
pub const EMAIL: Chars = Chars::at_most(254);

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

/// No NUL anywhere: it is refused in every body, query and path.
const NO_NUL: &str = "^[^\\u0000]*$";
/// Rust's whitespace (`char::is_whitespace`, what `trim` removes) as the
/// inside of a regex class. Spelt out rather than `\\s`, whose set differs
/// between regex dialects (ECMA-262's lacks U+0085).
macro_rules! whitespace {
    () => {
        "\\u0009-\\u000D\\u0020\\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000"
    };
}

/// No NUL, and at least one character that is not whitespace.
const NOT_BLANK: &str = concat!("^[^\\u0000]*[^\\u0000", whitespace!(), "][^\\u0000]*$");
/// The username rule of [`username_chars`], with its lengths.
pub const USERNAME_PATTERN: &str = "^[a-z0-9_.-]*$";
/// The email rule of registration: text, `@`, a domain with a dot, no
/// whitespace.
const EMAIL_PATTERN: &str = concat!(
    "^[^@\\u0000",
    whitespace!(),
    "]+@[^\\u0000",
    whitespace!(),
    "]*\\.[^\\u0000",
    whitespace!(),
    "]*$"
);

/// How a field's text is read before it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// As given.
    AsGiven,
    /// Trimmed, and refused when nothing is left.
    NotBlank,
}

impl Chars {
    /// The JSON Schema of a string field with this limit. Lengths count
    /// the text as sent (`maxLength` is on the untrimmed text, which can
    /// only be longer than what is checked).
    pub fn schema(self, read: Read, pattern: Option<&str>) -> ObjectBuilder {
        let pattern = pattern.unwrap_or(match read {
            Read::NotBlank if self.min > 0 => NOT_BLANK,
            _ => NO_NUL,
        });
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length((self.min > 0).then_some(self.min))
            .max_length(Some(self.max))
            .pattern(Some(pattern))
    }
}

/// Schema functions for `#[schema(schema_with = validate::schema::name)]`,
/// one per field limit, and `nullable_*` for the fields where `null` reads
/// as absent.
pub mod schema {
    use super::*;

    macro_rules! string_schemas {
        ($($name:ident $(or $nullable:ident)? => $limit:expr, $read:expr, $pattern:expr;)*) => {$(
            pub fn $name() -> RefOr<Schema> {
                $limit.schema($read, $pattern).into()
            }
            $(
                pub fn $nullable() -> RefOr<Schema> {
                    $limit
                        .schema($read, $pattern)
                        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                        .into()
                }
            )?
        )*};
    }

    // `or nullable_x`: where `null` reads as absent.
    string_schemas! {
        username => USERNAME, Read::AsGiven, Some(USERNAME_PATTERN);
        password => PASSWORD, Read::AsGiven, None;
        login_password => LOGIN_PASSWORD, Read::AsGiven, None;
        display_name or nullable_display_name => DISPLAY_NAME, Read::NotBlank, None;
        email or nullable_email => EMAIL, Read::AsGiven, Some(EMAIL_PATTERN);
        playlist_name => PLAYLIST_NAME, Read::NotBlank, None;
        description or nullable_description => DESCRIPTION, Read::AsGiven, None;
        track_uri => TRACK_URI, Read::NotBlank, None;
        track_name => TRACK_NAME, Read::NotBlank, None;
        artist_name => ARTIST_NAME, Read::NotBlank, None;
        album_name or nullable_album_name => ALBUM_NAME, Read::AsGiven, None;
        session_name => SESSION_NAME, Read::NotBlank, None;
        snapshot_description or nullable_snapshot_description => SNAPSHOT_DESCRIPTION, Read::AsGiven, None;
        source_url or nullable_source_url => SOURCE_URL, Read::AsGiven, None;
        source_name or nullable_source_name => SOURCE_NAME, Read::AsGiven, None;
        schedule_value or nullable_schedule_value => SCHEDULE_VALUE, Read::AsGiven, None;
    }

    /// A track's artists: at most [`MAX_ARTISTS`] names.
    pub fn artists() -> RefOr<Schema> {
        utoipa::openapi::schema::ArrayBuilder::new()
            .items(artist_name())
            .max_items(Some(MAX_ARTISTS))
            .description(Some(format!("At most {MAX_ARTISTS} names")))
            .into()
    }

    /// A playlist's pinned positions: distinct slots, at most
    /// [`MAX_PINNED`](crate::models::playlist::MAX_PINNED).
    pub fn pinned_positions() -> RefOr<Schema> {
        use crate::models::playlist::{MAX_PINNED, MAX_PINNED_POSITION};
        utoipa::openapi::schema::ArrayBuilder::new()
            .items(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .maximum(Some(MAX_PINNED_POSITION as i64)),
            )
            .max_items(Some(MAX_PINNED))
            .unique_items(true)
            .description(Some(format!(
                "0-based slots whose entries every shuffle leaves in place and a dedupe \
                 never removes: distinct integers from 0 to {MAX_PINNED_POSITION}, at most \
                 {MAX_PINNED}; `[]` clears them. A slot past the end pins nothing."
            )))
            .into()
    }

    /// Any text without NUL (ids, cursors, search terms).
    pub fn text() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(NO_NUL))
            .into()
    }
}

/// A JSON number as an `i64` when it is a whole number in range: `3`, or
/// `3.0`, which JSON Schema (and the API's description) counts as an
/// integer too.
pub fn whole_i64(n: &serde_json::Number) -> Option<i64> {
    n.as_i64().or_else(|| {
        let f = n.as_f64()?;
        // i64::MAX as f64 rounds up to 2^63, which is out of range.
        (f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64).then_some(f as i64)
    })
}

/// [`whole_i64`] for `u64`.
pub fn whole_u64(n: &serde_json::Number) -> Option<u64> {
    n.as_u64().or_else(|| {
        let f = n.as_f64()?;
        (f.fract() == 0.0 && f >= 0.0 && f < u64::MAX as f64).then_some(f as u64)
    })
}

/// An email address as registration and the profile take it: at most
/// 254 characters, text, `@`, a domain with a dot, no whitespace.
pub fn check_email(field: &str, email: &str, errors: &mut Vec<FieldError>) {
    let valid = EMAIL.fits(email)
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if !valid {
        errors.push(FieldError::new(field, "must be an email address"));
    }
}

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
    fn truncation_counts_characters_not_bytes() {
        let ascii = "a".repeat(600);
        assert_eq!(truncate_chars(&ascii, 500).len(), 500);
        let multi = "é🎵".repeat(300);
        let cut = truncate_chars(&multi, 500);
        assert_eq!(cut.chars().count(), 500);
        assert_eq!(truncate_chars("short", 500), "short");
    }

    /// The class of `whitespace!` holds exactly the characters `trim`
    /// removes.
    #[test]
    fn the_whitespace_class_is_rusts() {
        let mut class = Vec::new();
        let mut codes = whitespace!()
            .split("\\u")
            .filter(|s| !s.is_empty())
            .map(|s| {
                (
                    u32::from_str_radix(s.trim_end_matches('-'), 16).unwrap(),
                    s.ends_with('-'),
                )
            });
        while let Some((first, starts_range)) = codes.next() {
            let last = if starts_range {
                codes.next().unwrap().0
            } else {
                first
            };
            class.extend((first..=last).filter_map(char::from_u32));
        }
        let rust: Vec<char> = (0..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace())
            .collect();
        assert_eq!(class, rust);
    }

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
