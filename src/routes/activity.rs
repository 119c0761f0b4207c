//! `GET /api/activity` and its siblings: the caller's own trail.
//!
//! Query values: unknown parameters are ignored and an empty value counts as
//! absent; an invalid value of a known one is a 400 naming it.

use std::str::FromStr;
use std::time::Duration;

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::db;
use crate::enums::{ActivityType, ActorType};
use crate::error::{AppError, AppResult, FieldError};
use crate::routes::authenticated::{AuthUser, Bearer};
use crate::routes::params::{parse_int, present, query};
use crate::routes::responses::{ActivitySummary, Items};
use crate::services::activity_since::{SINCE_DEFAULT_LIMIT, SINCE_MAX_LIMIT};
use crate::services::{
    ActivityCursor, ActivityExport, ActivityLogService, ActivityQuery, ActivityRange, ExportFormat,
    Paging, SinceCutoff,
};
use crate::state::AppState;

/// Raw query values of the listing (and export); validated by [`parse`](Self::parse).
#[derive(Debug, Default, Deserialize)]
pub struct ListingParams {
    limit: Option<String>,
    cursor: Option<String>,
    page: Option<String>,
    types: Option<String>,
    actors: Option<String>,
    range: Option<String>,
    since: Option<String>,
    until: Option<String>,
    playlist_id: Option<String>,
    q: Option<String>,
    format: Option<String>,
}

fn names<T: strum::IntoEnumIterator + AsRef<str>>() -> String {
    T::iter()
        .map(|v| v.as_ref().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A comma-separated list of enum values; an unknown one is an error naming the valid ones.
fn parse_list<T>(field: &str, raw: Option<&str>, errors: &mut Vec<FieldError>) -> Vec<T>
where
    T: FromStr + strum::IntoEnumIterator + AsRef<str>,
{
    let mut values = Vec::new();
    for item in raw
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
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

#[derive(Debug, Deserialize)]
pub struct RecentParams {
    limit: Option<String>,
    #[serde(rename = "type")]
    activity_type: Option<String>,
}

impl RecentParams {
    fn parse(&self) -> AppResult<(i64, Option<ActivityType>)> {
        let mut errors = Vec::new();
        let limit = parse_int("limit", present(&self.limit), 20i64, 1, 100, &mut errors);
        let types = parse_list::<ActivityType>("type", present(&self.activity_type), &mut errors);
        if types.len() > 1 {
            errors.push(FieldError::new("type", "takes one activity type"));
        }
        AppError::ensure_valid(errors)?;
        Ok((limit, types.first().copied()))
    }
}

pub async fn recent_activity(bearer: Bearer, req: HttpRequest) -> AppResult<HttpResponse> {
    let query_string = req.query_string().to_owned();
    let items = bearer
        .run(move |conn, auth| {
            let (limit, activity_type) = query::<RecentParams>(&query_string)?.parse()?;
            Ok(ActivityLogService::get_recent(
                conn,
                auth.id(),
                limit,
                activity_type,
            ))
        })
        .await?;
    Ok(HttpResponse::Ok().json(Items::new(items)))
}

#[derive(Debug, Deserialize)]
pub struct SinceParams {
    since: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

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

/// `since=ISO` or `since=last_login`, paged by `limit` and `cursor`; the
/// service resolves the cutoff (SPEC §10.4).
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

#[derive(Debug, Deserialize)]
pub struct SummaryParams {
    days: Option<String>,
}

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

/// Streams every matching row; the listing's paging parameters are
/// ignored. Takes one of the caller's export slots (429 when none is free);
/// the body's producer holds it until the export ends, however it ends.
pub async fn export_activity(
    state: web::Data<AppState>,
    auth: AuthUser,
    params: web::Query<ListingParams>,
) -> AppResult<HttpResponse> {
    let format = match present(&params.format) {
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
