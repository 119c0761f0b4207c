//! `GET /api/activity` and its siblings: the caller's own trail.
//!
//! Query values: an empty value counts as absent; an invalid value of a
//! known parameter is a 400 naming it, and so is an unknown parameter
//! (`routes::known_params`).

use std::str::FromStr;
use std::time::Duration;

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::db;
use crate::enums::{ActivityType, ActorType};
use crate::error::{AppError, AppResult, FieldError};
use crate::models::activity_log::ActivityLog;
use crate::routes::authenticated::{AuthUser, Bearer};
use crate::routes::error_responses::RateLimited;
use crate::routes::params::{parse_int, present, query};
use crate::routes::responses::{ActivitySummary, Items};
use crate::services::activity_since::SincePage;
use crate::services::activity_since::{SINCE_DEFAULT_LIMIT, SINCE_MAX_LIMIT};
use crate::services::{
    ActivityCursor, ActivityExport, ActivityLogService, ActivityPage, ActivityQuery, ActivityRange,
    ExportFormat, Paging, SinceCutoff,
};
use crate::state::AppState;

/// Raw query values of the listing (and export); validated by [`parse`](Self::parse).
/// Filters combine with AND.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListingParams {
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, default = 20)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page; a cursor made for another
    /// user or altered is a 400.
    #[param(pattern = "^[^\\u0000]*$")]
    cursor: Option<String>,
    /// A page number instead of a cursor (then the answer counts `total`);
    /// both together are a 400.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000000)]
    page: Option<String>,
    /// Activity types, comma-separated.
    #[param(value_type = Option<Vec<ActivityType>>, style = Form, explode = false)]
    types: Option<String>,
    /// Actors, comma-separated.
    #[param(value_type = Option<Vec<ActorType>>, style = Form, explode = false)]
    actors: Option<String>,
    #[param(value_type = Option<ActivityRange>)]
    range: Option<String>,
    /// Rows at or after this time.
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    since: Option<String>,
    /// Rows before this time.
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    until: Option<String>,
    #[param(pattern = "^[^\\u0000]*$")]
    playlist_id: Option<String>,
    /// Matches the description or the playlist name, case-insensitive
    /// (ASCII); `%` and `_` are taken literally.
    #[param(pattern = "^[^\\u0000]*$")]
    q: Option<String>,
    /// Rows written for requests from this client address (IPv4 or IPv6,
    /// as an item's `context.ip_address` shows it).
    #[param(max_length = 45, pattern = "^[0-9A-Fa-f:.]*$")]
    ip: Option<String>,
    /// Rows written with this session (an item's `context.session_id`).
    #[param(value_type = Option<i64>, minimum = 1)]
    session_id: Option<String>,
    /// Rows written by this request (an item's `context.request_id`, its
    /// response's `X-Request-Id`).
    #[param(max_length = 128, pattern = "^[!#-~]*$")]
    request_id: Option<String>,
}

/// The export's own query value, beside the listing's filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    #[param(value_type = Option<ExportFormat>)]
    format: Option<String>,
}

fn names<T: strum::IntoEnumIterator + AsRef<str>>() -> String {
    T::iter()
        .map(|v| v.as_ref().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A comma-separated list of enum values, as sent; an unknown one (an
/// empty one too) is an error naming the valid ones.
fn parse_list<T>(field: &str, raw: Option<&str>, errors: &mut Vec<FieldError>) -> Vec<T>
where
    T: FromStr + strum::IntoEnumIterator + AsRef<str>,
{
    let mut values = Vec::new();
    for item in raw.into_iter().flat_map(|raw| raw.split(',')) {
        match item.parse() {
            Ok(v) => values.push(v),
            Err(_) => errors.push(FieldError::new(
                field,
                format!("unknown value {item:?}; valid values: {}", names::<T>()),
            )),
        }
    }
    values
}

fn parse_time(
    field: &str,
    raw: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<chrono::NaiveDateTime> {
    let text = raw?;
    let parsed = crate::timestamp::parse(text);
    if parsed.is_none() {
        errors.push(FieldError::new(field, "must be an RFC 3339 timestamp"));
    }
    parsed
}

/// An address filter, in the form `context.ip_address` shows it (so
/// `2001:DB8::0:1` finds `2001:db8::1`, and `::ffff:192.0.2.1` finds
/// `192.0.2.1`).
fn parse_ip(raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<String> {
    let text = raw?;
    // The longest address text (IPv6 with an IPv4 tail) is 45 characters;
    // nothing longer reaches the parser.
    let parsed = (text.len() <= 45)
        .then(|| text.parse::<std::net::IpAddr>().ok())
        .flatten()
        // As `ClientAddr` records it: an IPv4-mapped IPv6 address as IPv4.
        .map(|ip| ip.to_canonical());
    if parsed.is_none() {
        errors.push(FieldError::new("ip", "must be an IPv4 or IPv6 address"));
    }
    parsed.map(|ip| ip.to_string())
}

impl ListingParams {
    /// The validated listing query of `user_id`.
    pub fn parse(&self, user_id: i64) -> AppResult<ActivityQuery> {
        let mut errors = Vec::new();
        let limit = parse_int("limit", present(&self.limit), 20i64, 1, 100, &mut errors);
        let paging = match (present(&self.cursor), present(&self.page)) {
            (Some(_), Some(_)) => {
                errors.push(FieldError::new("page", "cannot be combined with cursor"));
                Paging::Cursor(None)
            }
            (Some(cursor), None) => match ActivityCursor::decode(cursor, user_id) {
                Some(c) => Paging::Cursor(Some(c)),
                None => {
                    errors.push(FieldError::new(
                        "cursor",
                        "is not a valid cursor for this listing",
                    ));
                    Paging::Cursor(None)
                }
            },
            (None, Some(_)) => Paging::Page(parse_int(
                "page",
                present(&self.page),
                1u32,
                1,
                1_000_000,
                &mut errors,
            )),
            (None, None) => Paging::Cursor(None),
        };
        let range = match present(&self.range) {
            None => None,
            Some(text) => match text.parse::<ActivityRange>() {
                Ok(r) => Some(r),
                Err(_) => {
                    errors.push(FieldError::new(
                        "range",
                        "must be one of 24h, 7d, 30d, 90d, all",
                    ));
                    None
                }
            },
        };
        let query = ActivityQuery {
            types: parse_list::<ActivityType>("types", present(&self.types), &mut errors),
            actors: parse_list::<ActorType>("actors", present(&self.actors), &mut errors),
            since: parse_time("since", present(&self.since), &mut errors),
            until: parse_time("until", present(&self.until), &mut errors),
            playlist_id: present(&self.playlist_id).map(String::from),
            q: present(&self.q).map(String::from),
            ip_address: parse_ip(present(&self.ip), &mut errors),
            session_id: present(&self.session_id)
                .map(|raw| parse_int("session_id", Some(raw), 1, 1, i64::MAX, &mut errors)),
            request_id: present(&self.request_id).and_then(|raw| {
                let ok = crate::request_id::is_well_formed(raw);
                if !ok {
                    errors.push(FieldError::new(
                        "request_id",
                        "must be 1 to 128 printable ASCII characters, without spaces or \"",
                    ));
                }
                ok.then(|| raw.to_string())
            }),
            limit,
            paging,
        };
        AppError::ensure_valid(errors)?;
        Ok(match range {
            Some(range) => query.with_range(range, db::now()),
            None => query,
        })
    }
}

/// The caller's trail, newest first, filtered and paged by cursor (or by
/// page number).
#[utoipa::path(
    get, path = "/api/activity", tag = "activity",
    security(("bearer" = [])),
    params(ListingParams),
    responses((status = 200, description = "A page: `{items, next_cursor}` by cursor, \
        `{items, total, page, limit}` by page number", body = ActivityPage)),
)]
pub async fn list_activity(bearer: Bearer, req: HttpRequest) -> AppResult<HttpResponse> {
    let query_string = req.query_string().to_owned();
    let page = bearer
        .run(move |conn, auth| {
            let query = query::<ListingParams>(&query_string)?.parse(auth.id())?;
            Ok(ActivityLogService::query(conn, auth.id(), &query))
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecentParams {
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, default = 20)]
    limit: Option<String>,
    /// Activity types, comma-separated, as the listing takes them.
    #[param(value_type = Option<Vec<ActivityType>>, style = Form, explode = false)]
    types: Option<String>,
    /// One activity type (the older spelling; with `types`, rows of any
    /// type either names).
    #[serde(rename = "type")]
    #[param(rename = "type", value_type = Option<ActivityType>)]
    activity_type: Option<String>,
}

impl RecentParams {
    fn parse(&self) -> AppResult<(i64, Vec<ActivityType>)> {
        let mut errors = Vec::new();
        let limit = parse_int("limit", present(&self.limit), 20i64, 1, 100, &mut errors);
        let mut types = parse_list::<ActivityType>("types", present(&self.types), &mut errors);
        let single = parse_list::<ActivityType>("type", present(&self.activity_type), &mut errors);
        if single.len() > 1 {
            errors.push(FieldError::new("type", "takes one activity type"));
        }
        AppError::ensure_valid(errors)?;
        types.extend(single);
        types.sort();
        types.dedup();
        Ok((limit, types))
    }
}

/// The caller's newest rows.
#[utoipa::path(
    get, path = "/api/activity/recent", tag = "activity",
    security(("bearer" = [])),
    params(RecentParams),
    responses((status = 200, description = "The newest rows", body = Items<ActivityLog>)),
)]
pub async fn recent_activity(bearer: Bearer, req: HttpRequest) -> AppResult<HttpResponse> {
    let query_string = req.query_string().to_owned();
    let items = bearer
        .run(move |conn, auth| {
            let (limit, types) = query::<RecentParams>(&query_string)?.parse()?;
            Ok(ActivityLogService::get_recent_of(
                conn,
                auth.id(),
                limit,
                &types,
            ))
        })
        .await?;
    Ok(HttpResponse::Ok().json(Items::new(items)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SinceParams {
    /// An RFC 3339 time (inclusive), or `last_login`: the start of the
    /// session before the calling one. Repeat it on every page.
    #[param(value_type = SinceValue, required = true)]
    since: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500, default = 100)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[^\\u0000]*$")]
    cursor: Option<String>,
}

/// `since=`: a time, or `last_login` (for the API's description).
pub struct SinceValue;

impl utoipa::PartialSchema for SinceValue {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type,
        };
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["last_login"])),
            )
            .into()
    }
}

impl ToSchema for SinceValue {}

impl SinceParams {
    fn parse(&self, auth: &AuthUser) -> AppResult<(SinceCutoff, i64, Option<ActivityCursor>)> {
        let mut errors = Vec::new();
        let cutoff = match present(&self.since) {
            None => {
                errors.push(FieldError::new(
                    "since",
                    "is required: an RFC 3339 timestamp or last_login",
                ));
                None
            }
            Some("last_login") => Some(SinceCutoff::LastLogin {
                previous_login_at: auth.session.previous_login_at,
            }),
            Some(text) => match crate::timestamp::parse(text) {
                Some(t) => Some(SinceCutoff::At(t)),
                None => {
                    errors.push(FieldError::new(
                        "since",
                        "must be an RFC 3339 timestamp or last_login",
                    ));
                    None
                }
            },
        };
        let limit = parse_int(
            "limit",
            present(&self.limit),
            SINCE_DEFAULT_LIMIT,
            1,
            SINCE_MAX_LIMIT,
            &mut errors,
        );
        let after = present(&self.cursor).and_then(|text| {
            let cursor = ActivityCursor::decode(text, auth.id());
            if cursor.is_none() {
                errors.push(FieldError::new(
                    "cursor",
                    "is not a valid cursor for this listing",
                ));
            }
            cursor
        });
        AppError::ensure_valid(errors)?;
        let cutoff =
            cutoff.ok_or_else(|| AppError::Internal("since: no cutoff after validation".into()))?;
        Ok((cutoff, limit, after))
    }
}

/// What happened since a time, or since the caller's last login: paged by
/// `limit` and `cursor`, newest first; the service resolves the cutoff
/// (docs/api.md, "Reading your trail").
#[utoipa::path(
    get, path = "/api/activity/since", tag = "activity",
    security(("bearer" = [])),
    params(SinceParams),
    responses((status = 200, description = "A page and the cutoff used", body = SincePage)),
)]
pub async fn activity_since(bearer: Bearer, req: HttpRequest) -> AppResult<HttpResponse> {
    let query_string = req.query_string().to_owned();
    let page = bearer
        .run(move |conn, auth| {
            let (cutoff, limit, after) = query::<SinceParams>(&query_string)?.parse(&auth)?;
            Ok(ActivityLogService::since_page(
                conn,
                auth.id(),
                cutoff,
                limit,
                after,
            )?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryParams {
    /// Calendar UTC days, today included.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 365, default = 30)]
    days: Option<String>,
}

/// Counts per activity type and per day.
#[utoipa::path(
    get, path = "/api/activity/summary", tag = "activity",
    security(("bearer" = [])),
    params(SummaryParams),
    responses((status = 200, description = "The summary", body = ActivitySummary)),
)]
pub async fn activity_summary(bearer: Bearer, req: HttpRequest) -> AppResult<HttpResponse> {
    let query_string = req.query_string().to_owned();
    let summary = bearer
        .run(move |conn, auth| {
            let params = query::<SummaryParams>(&query_string)?;
            let mut errors = Vec::new();
            let days = parse_int("days", present(&params.days), 30u32, 1, 365, &mut errors);
            AppError::ensure_valid(errors)?;
            let (counts, per_day) = ActivityLogService::summary_counts(conn, auth.id(), days);
            Ok((days, counts, per_day))
        })
        .await?;
    let (days, counts, per_day) = summary;
    Ok(HttpResponse::Ok().json(ActivitySummary {
        days,
        total: counts.values().sum(),
        counts: counts
            .into_iter()
            .map(|(t, n)| (t.to_string(), n))
            .collect(),
        per_day,
    }))
}

/// Streams every matching row, newest first, as NDJSON (one item per
/// line) or CSV; the listing's paging parameters are ignored. Takes one of
/// the caller's export slots (429 when none is free); the body's producer
/// holds it until the export ends, however it ends.
#[utoipa::path(
    get, path = "/api/activity/export", tag = "activity",
    security(("bearer" = [])),
    params(ListingParams, ExportParams),
    responses(
        (status = 200, description = "Every matching row",
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"activity.ndjson\"` (or `.csv`)")),
            content(
                (String = "application/x-ndjson"),
                (String = "text/csv"),
            )),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn export_activity(
    state: web::Data<AppState>,
    auth: AuthUser,
    params: web::Query<ListingParams>,
    export: web::Query<ExportParams>,
) -> AppResult<HttpResponse> {
    let format = match present(&export.format) {
        None => ExportFormat::default(),
        Some(text) => text
            .parse()
            .map_err(|_| AppError::invalid("format", "must be ndjson or csv"))?,
    };
    let query = params.parse(auth.id())?;
    let slot = state.exports.try_acquire(auth.id())?;
    let body = ActivityExport::stream(
        state.pool.clone(),
        auth.id(),
        query,
        format,
        Duration::from_secs(state.settings.stream_send_timeout_secs),
        slot,
    );
    let extension = format.to_string();
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"activity.{extension}\""),
        ))
        .streaming(body))
}
