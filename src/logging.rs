//! Log lines, in one of two formats chosen by `LOG_FORMAT`:
//!
//! - `text` (the default): env_logger's own lines, filtered by `RUST_LOG`
//!   (default `info`).
//! - `json`: every line `serve` writes, on stdout or stderr, from start to
//!   exit, is one JSON object with `time` (RFC 3339 UTC, microseconds),
//!   `level`, `target` and `message`; the access log's lines add
//!   `request_id`, `method`, `path`, `status`, `duration_ms`, `client_ip`
//!   and `bytes` (see `crate::access_log`). Fatal errors ([`fatal`]), the
//!   demo walkthrough ([`print`]) and panics are JSON objects too.
//!
//! Only `serve` writes JSON: the other commands print for a person (or a
//! pipe), so they keep plain text whatever `LOG_FORMAT` says.
//!
//! The access log's fields travel as the `log` crate's key-values (its
//! `kv` feature) rather than inside the message: the formatter then
//! writes each one as a typed JSON member (`status` a number, `client_ip`
//! `null` when unknown), with no message to parse back, and the text
//! format leaves them out, so its line stays as it is.

use std::io::Write;
use std::sync::OnceLock;

use serde_json::{Map, Value};

/// `LOG_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("LOG_FORMAT must be text or json, got {value:?}")),
        }
    }
}

impl std::fmt::Display for LogFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// The format the process's log was set up with (text until [`init`]).
pub fn format() -> LogFormat {
    FORMAT.get().copied().unwrap_or_default()
}

/// `LOG_FORMAT` as the environment says, read before the settings so that
/// their own errors come out in it; a value that is neither gives text
/// (`Settings::from_env` then refuses it, naming the variable).
pub fn format_from_env() -> LogFormat {
    std::env::var("LOG_FORMAT")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or_default()
}

/// Sets up the process's logger once, in `format`, filtered by `RUST_LOG`
/// (default `info`). In JSON, a panic's report is a log line too.
pub fn init(format: LogFormat) {
    let _ = FORMAT.set(format);
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    match format {
        // The access log's key-values are for JSON; text keeps its lines.
        LogFormat::Text => builder.format_key_values(env_logger::fmt::hidden_kv_format),
        LogFormat::Json => builder.format(|buf, record| {
            let mut fields = Map::new();
            let _ = record.key_values().visit(&mut Fields(&mut fields));
            writeln!(
                buf,
                "{}",
                json_line(
                    record.level().as_str(),
                    record.target(),
                    &record.args().to_string(),
                    fields
                )
            )
        }),
    };
    builder.init();
    if format == LogFormat::Json {
        std::panic::set_hook(Box::new(|info| {
            log::error!(target: "panic", "{info}");
        }));
    }
}

/// An error that ends the process, on stderr: `shuffify: MESSAGE` in text,
/// a JSON line at level `ERROR` in JSON. Written directly, so `RUST_LOG`
/// cannot hide it.
pub fn fatal(message: &str) {
    match format() {
        LogFormat::Text => {
            for line in message.lines() {
                eprintln!("shuffify: {line}");
            }
        }
        LogFormat::Json => eprintln!("{}", json_line("ERROR", "shuffify", message, Map::new())),
    }
}

/// Text meant for the person who started `serve` (the demo walkthrough),
/// on stdout: as it is in text, one JSON line per line of it in JSON.
pub fn print(text: &str) {
    match format() {
        LogFormat::Text => println!("{text}"),
        LogFormat::Json => {
            let mut out = std::io::stdout().lock();
            for line in text.lines().filter(|line| !line.trim().is_empty()) {
                let _ = writeln!(out, "{}", json_line("INFO", "shuffify", line, Map::new()));
            }
        }
    }
}

/// One JSON log line (without its newline): `time`, `level`, `target`
/// and `message` first, then `fields` (none of which may replace those).
pub fn json_line(level: &str, target: &str, message: &str, fields: Map<String, Value>) -> String {
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let first: [(&str, Value); 4] = [
        ("time", time.into()),
        ("level", level.into()),
        ("target", target.into()),
        ("message", message.into()),
    ];
    let rest = fields
        .into_iter()
        .filter(|(key, _)| !first.iter().any(|(name, _)| name == key));
    let members: Vec<String> = first
        .iter()
        .map(|(key, value)| (key.to_string(), value.clone()))
        .chain(rest)
        .map(|(key, value)| format!("{}:{value}", Value::String(key)))
        .collect();
    format!("{{{}}}", members.join(","))
}

/// Collects a record's key-values as JSON members.
struct Fields<'a>(&'a mut Map<String, Value>);

impl<'kvs> log::kv::VisitSource<'kvs> for Fields<'_> {
    fn visit_pair(
        &mut self,
        key: log::kv::Key<'kvs>,
        value: log::kv::Value<'kvs>,
    ) -> Result<(), log::kv::Error> {
        let mut json = JsonValue(Value::Null);
        value.visit(&mut json)?;
        self.0.insert(key.as_str().to_string(), json.0);
        Ok(())
    }
}

/// One key-value's value as JSON, keeping its type.
struct JsonValue(Value);

impl<'v> log::kv::VisitValue<'v> for JsonValue {
    fn visit_any(&mut self, value: log::kv::Value) -> Result<(), log::kv::Error> {
        self.0 = Value::String(value.to_string());
        Ok(())
    }

    fn visit_null(&mut self) -> Result<(), log::kv::Error> {
        self.0 = Value::Null;
        Ok(())
    }

    fn visit_u64(&mut self, value: u64) -> Result<(), log::kv::Error> {
        self.0 = value.into();
        Ok(())
    }

    fn visit_i64(&mut self, value: i64) -> Result<(), log::kv::Error> {
        self.0 = value.into();
        Ok(())
    }

    fn visit_f64(&mut self, value: f64) -> Result<(), log::kv::Error> {
        self.0 = serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number);
        Ok(())
    }

    fn visit_bool(&mut self, value: bool) -> Result<(), log::kv::Error> {
        self.0 = value.into();
        Ok(())
    }

    fn visit_str(&mut self, value: &str) -> Result<(), log::kv::Error> {
        self.0 = value.into();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_format_takes_text_or_json_and_names_the_variable_otherwise() {
        assert_eq!("text".parse::<LogFormat>(), Ok(LogFormat::Text));
        assert_eq!(" JSON ".parse::<LogFormat>(), Ok(LogFormat::Json));
        let err = "xml".parse::<LogFormat>().unwrap_err();
        assert!(err.contains("LOG_FORMAT") && err.contains("xml"), "{err}");
    }

    #[test]
    fn a_json_line_has_the_four_fields_first_and_escapes_the_message() {
        let mut fields = Map::new();
        fields.insert("status".into(), 200.into());
        fields.insert("message".into(), "not this".into());
        let line = json_line("INFO", "t", "a \"quoted\"\nline", fields);
        assert!(!line.contains('\n'));
        assert!(line.starts_with("{\"time\":"), "{line}");
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["message"], "a \"quoted\"\nline");
        assert_eq!(value["level"], "INFO");
        assert_eq!(value["target"], "t");
        assert_eq!(value["status"], 200);
        let time = value["time"].as_str().unwrap();
        assert!(time.ends_with('Z') && time.len() == 27, "{time}");
        assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok());
    }

    #[test]
    fn key_values_keep_their_types() {
        let mut fields = Map::new();
        let kvs: [(&str, log::kv::Value); 5] = [
            ("n", log::kv::Value::from(7u16)),
            ("f", log::kv::Value::from(1.5f64)),
            ("s", log::kv::Value::from("x")),
            ("b", log::kv::Value::from(true)),
            ("none", log::kv::Value::null()),
        ];
        log::kv::Source::visit(&kvs[..], &mut Fields(&mut fields)).unwrap();
        assert_eq!(
            Value::Object(fields),
            serde_json::json!({"n": 7, "f": 1.5, "s": "x", "b": true, "none": null})
        );
    }
}
