//! `serve --demo` data.

use shuffify::models::User;
use shuffify::services::demo::{ensure_demo, DEMO_USER};
use shuffify::services::playlists::PlaylistService;
use shuffify::services::ActivityLogService;

use crate::helpers::spawn_app;

#[actix_web::test]
async fn demo_data_is_created_once_and_can_log_in() {
    let app = spawn_app().await;
    let password = ensure_demo(&mut app.conn())
        .unwrap()
        .expect("created the first time");
    assert!(ensure_demo(&mut app.conn()).unwrap().is_none(), "not twice");
    let user = User::find_by_username(&mut app.conn(), DEMO_USER)
        .unwrap()
        .unwrap();
    let (playlists, total) = PlaylistService::list(&mut app.conn(), user.id, 50, 0).unwrap();
    assert_eq!(total, 3);
    assert!(playlists.iter().all(|p| p.track_count >= 12));
    // Demo data writes no activity.
    assert!(ActivityLogService::get_recent(&mut app.conn(), user.id, 10, None).is_empty());
    let login = app.login(DEMO_USER, &password).await;
    assert_eq!(login.status.as_u16(), 200);
}
