//! The diesel schema shared by both backends. Written by hand, with only
//! types every backend maps the same way: integer keys are `BigInt`, JSON
//! columns are `Text` (read through [`crate::db::Json`]), timestamps are
//! `Timestamp` holding UTC.
//!
//! Two tables exist on PostgreSQL only and are not declared here:
//! `address_buckets` and `login_failures`, through which instances share
//! their rate limits. Their SQL is PostgreSQL's own (an upsert with
//! arithmetic, an array of times), kept in `models::address_bucket` and
//! `models::login_failure`; on SQLite those limits live in the process.

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        display_name -> Text,
        email -> Nullable<Text>,
        password_hash -> Text,
        is_active -> Bool,
        login_count -> Integer,
        last_login_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    auth_sessions (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        ip_address -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        previous_login_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    user_settings (id) {
        id -> BigInt,
        user_id -> BigInt,
        default_algorithm -> Text,
        default_algorithm_params -> Text,
        auto_snapshot_enabled -> Bool,
        max_snapshots_per_playlist -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    tracks (id) {
        id -> BigInt,
        uri -> Text,
        name -> Text,
        artists -> Text,
        album_name -> Nullable<Text>,
        duration_ms -> Integer,
        tempo -> Nullable<Double>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    track_facts (user_id, uri) {
        user_id -> BigInt,
        uri -> Text,
        name -> Text,
        artists -> Text,
        album_name -> Nullable<Text>,
        duration_ms -> Integer,
        tempo -> Nullable<Double>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    playlists (id) {
        id -> Text,
        owner_id -> BigInt,
        name -> Text,
        description -> Text,
        is_public -> Bool,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        provider -> Text,
        provider_playlist_id -> Nullable<Text>,
        provider_account_id -> Nullable<Text>,
        provider_snapshot_id -> Nullable<Text>,
        provider_out_of_sync -> Bool,
        provider_writing_since -> Nullable<Timestamp>,
        pinned_positions -> Text,
        rotation_max_tracks -> Nullable<Integer>,
        rotation_archive_playlist_id -> Nullable<Text>,
    }
}

diesel::table! {
    playlist_orders (playlist_id) {
        playlist_id -> Text,
        track_count -> Integer,
        entries -> Text,
    }
}

diesel::table! {
    workshop_sessions (id) {
        id -> BigInt,
        user_id -> BigInt,
        playlist_id -> Text,
        session_name -> Text,
        track_uris -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    upstream_sources (id) {
        id -> BigInt,
        user_id -> BigInt,
        target_playlist_id -> Text,
        source_playlist_id -> Text,
        source_type -> Text,
        source_url -> Nullable<Text>,
        source_name -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    schedules (id) {
        id -> BigInt,
        user_id -> BigInt,
        job_type -> Text,
        target_playlist_id -> Text,
        target_playlist_name -> Text,
        source_playlist_ids -> Text,
        algorithm_name -> Nullable<Text>,
        algorithm_params -> Text,
        schedule_type -> Text,
        schedule_value -> Text,
        is_enabled -> Bool,
        next_run_at -> Nullable<Timestamp>,
        last_run_at -> Nullable<Timestamp>,
        last_status -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    job_executions (id) {
        id -> BigInt,
        schedule_id -> BigInt,
        triggered_by -> Text,
        started_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
        status -> Text,
        tracks_added -> Integer,
        tracks_total -> Integer,
        error_message -> Nullable<Text>,
        heartbeat_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    playlist_snapshots (id) {
        id -> BigInt,
        user_id -> BigInt,
        playlist_id -> Text,
        playlist_name -> Text,
        track_uris -> Text,
        track_count -> Integer,
        snapshot_type -> Text,
        trigger_description -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    activity_log (id) {
        id -> BigInt,
        user_id -> BigInt,
        activity_type -> Text,
        description -> Text,
        playlist_id -> Nullable<Text>,
        playlist_name -> Nullable<Text>,
        actor_type -> Text,
        actor_name -> Nullable<Text>,
        metadata -> Nullable<Text>,
        created_at -> Timestamp,
        request_id -> Nullable<Text>,
        ip_address -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        session_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    stream_tickets (id) {
        id -> BigInt,
        ticket_hash -> Text,
        user_id -> BigInt,
        session_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    provider_connections (id) {
        id -> BigInt,
        user_id -> BigInt,
        provider -> Text,
        account_id -> Text,
        display_name -> Nullable<Text>,
        scopes -> Text,
        access_token -> Text,
        refresh_token -> Text,
        access_expires_at -> Timestamp,
        refresh_claimed_until -> Nullable<Timestamp>,
        broken_reason -> Nullable<Text>,
        connected_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    oauth_states (id) {
        id -> BigInt,
        state_hash -> Text,
        user_id -> BigInt,
        provider -> Text,
        pkce_challenge -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        nonce_hash -> Nullable<Text>,
        session_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    provider_pauses (provider) {
        provider -> Text,
        wait_until -> Timestamp,
    }
}

diesel::table! {
    webhooks (id) {
        id -> BigInt,
        user_id -> BigInt,
        url -> Text,
        types -> Nullable<Text>,
        secret -> Text,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        consecutive_failures -> Integer,
        last_activity_id -> BigInt,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        last_activity_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        webhook_id -> BigInt,
        activity_id -> BigInt,
        status -> Text,
        attempts -> Integer,
        last_attempt_at -> Nullable<Timestamp>,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        next_attempt_at -> Nullable<Timestamp>,
        succeeded_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        activity_created_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(auth_sessions -> users (user_id));
diesel::joinable!(provider_connections -> users (user_id));
diesel::joinable!(oauth_states -> users (user_id));
diesel::joinable!(oauth_states -> auth_sessions (session_id));
diesel::joinable!(stream_tickets -> auth_sessions (session_id));
diesel::joinable!(user_settings -> users (user_id));
diesel::joinable!(track_facts -> users (user_id));
diesel::joinable!(playlists -> users (owner_id));
diesel::joinable!(playlist_orders -> playlists (playlist_id));
diesel::joinable!(workshop_sessions -> users (user_id));
diesel::joinable!(upstream_sources -> users (user_id));
diesel::joinable!(schedules -> users (user_id));
diesel::joinable!(job_executions -> schedules (schedule_id));
diesel::joinable!(playlist_snapshots -> users (user_id));
diesel::joinable!(activity_log -> users (user_id));
diesel::joinable!(webhooks -> users (user_id));
diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    auth_sessions,
    user_settings,
    tracks,
    track_facts,
    playlists,
    playlist_orders,
    workshop_sessions,
    upstream_sources,
    schedules,
    job_executions,
    playlist_snapshots,
    activity_log,
    stream_tickets,
    provider_connections,
    oauth_states,
    provider_pauses,
    webhooks,
    webhook_deliveries,
);
