//! `GET /api/tracks`: the caller's catalog (the tracks they hold in a
//! playlist or sent facts about, as they see them), searched by name,
//! artist or album.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::db;
use crate::error::{AppError, AppResult};
use crate::models::track::{Track, TrackView};
use crate::routes::authenticated::AuthUser;
use crate::routes::params::{limit_offset, present};
use crate::routes::responses::OffsetPage;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrackSearch {
    /// Matches a track's name, artist or album, case-insensitive.
    #[param(pattern = "^[^\\u0000]*$")]
    q: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, default = 20)]
    limit: Option<String>,
    #[param(value_type = Option<i64>, minimum = 0, maximum = 2147483647, default = 0)]
    offset: Option<String>,
}

/// Searches the tracks the caller holds in a playlist or described, as
/// the caller sees them: their own facts where they sent some, else the
/// provider's (or the first sender's).
#[utoipa::path(
    get, path = "/api/tracks", tag = "catalog",
    security(("bearer" = [])),
    params(TrackSearch),
    responses((status = 200, description = "A page of tracks", body = OffsetPage<TrackView>)),
)]
pub async fn search_tracks(
    state: web::Data<AppState>,
    auth: AuthUser,
    params: web::Query<TrackSearch>,
) -> AppResult<HttpResponse> {
    let mut errors = Vec::new();
    let (limit, offset) = limit_offset(&params.limit, &params.offset, 20, &mut errors);
    AppError::ensure_valid(errors)?;
    let q = present(&params.q).map(String::from);
    let items: Vec<TrackView> = db::run(&state.pool, move |conn| {
        Ok(
            Track::search_for(conn, auth.user.id, q.as_deref(), limit, offset)?
                .iter()
                .map(Track::view)
                .collect(),
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(OffsetPage {
        items,
        limit,
        offset,
    }))
}
