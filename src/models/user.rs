//! `users`: accounts. The password hash never leaves this module's struct in
//! any serialized form; [`User::public`] is what clients see.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::users;
use crate::db::DbConnection;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub is_active: bool,
    pub login_count: i32,
    pub last_login_at: Option<NaiveDateTime>,
    #[diesel(deserialize_as = crate::db::StoredTime)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = crate::db::StoredTime)]
    pub updated_at: NaiveDateTime,
}

/// The user as `GET /api/me` and login answer it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = User)]
pub struct PublicUser {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    #[schema(required = true)]
    pub email: Option<String>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    #[schema(required = true)]
    pub last_login_at: Option<NaiveDateTime>,
    pub login_count: i32,
}

impl User {
    pub fn public(&self) -> PublicUser {
        PublicUser {
            id: self.id,
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            email: self.email.clone(),
            created_at: self.created_at,
            last_login_at: self.last_login_at,
            login_count: self.login_count,
        }
    }

    pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<User>> {
        users::table
            .find(id)
            .select(User::as_select())
            .first(conn)
            .optional()
    }

    pub fn find_by_username(conn: &mut DbConnection, username: &str) -> QueryResult<Option<User>> {
        users::table
            .filter(users::username.eq(username))
            .select(User::as_select())
            .first(conn)
            .optional()
    }

    /// Locks the user's row until the transaction ends, so per-user caps
    /// (playlists, schedules, workshop sessions) are counted and written
    /// atomically. Write transactions lock user, then schedule, then
    /// playlist, so two of them never wait on each other in a circle.
    /// PostgreSQL takes `FOR NO KEY UPDATE`: it excludes every other
    /// holder of this lock, but not the `KEY SHARE` that an insert of a
    /// row referring to the user takes for its foreign key. With `FOR
    /// UPDATE`, a writer holding a playlist and inserting its snapshot
    /// waited for the user's row while a writer holding the user's row
    /// waited for that playlist: a deadlock. On SQLite the `BEGIN
    /// IMMEDIATE` of `db::write_transaction` already holds the one write
    /// lock.
    pub fn lock(conn: &mut DbConnection, id: i64) -> QueryResult<()> {
        let query = users::table.find(id).select(users::id);
        match conn {
            DbConnection::Postgres(pg) => query.for_no_key_update().first::<i64>(pg),
            DbConnection::Sqlite(c) => query.first::<i64>(c),
        }
        .map(|_| ())
    }

    /// Counts a successful login.
    pub fn record_login(conn: &mut DbConnection, id: i64, at: NaiveDateTime) -> QueryResult<User> {
        crate::db::with_backend!(conn, |c| diesel::update(users::table.find(id))
            .set((
                users::login_count.eq(users::login_count + 1),
                users::last_login_at.eq(Some(at)),
                users::updated_at.eq(at),
            ))
            .returning(User::as_returning())
            .get_result(c))
    }

    /// Stores a new display name and email.
    pub fn set_profile(
        conn: &mut DbConnection,
        id: i64,
        display_name: &str,
        email: Option<&str>,
        at: NaiveDateTime,
    ) -> QueryResult<User> {
        crate::db::with_backend!(conn, |c| diesel::update(users::table.find(id))
            .set((
                users::display_name.eq(display_name),
                users::email.eq(email),
                users::updated_at.eq(at),
            ))
            .returning(User::as_returning())
            .get_result(c))
    }

    /// Replaces the password hash (of a password validated and hashed by
    /// the caller).
    pub fn set_password_hash(
        conn: &mut DbConnection,
        id: i64,
        password_hash: &str,
        at: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(users::table.find(id))
            .set((
                users::password_hash.eq(password_hash),
                users::updated_at.eq(at),
            ))
            .execute(conn)
    }

    /// Every user, oldest account first: the command line's list.
    pub fn list_all(conn: &mut DbConnection) -> QueryResult<Vec<User>> {
        users::table
            .order(users::id.asc())
            .select(User::as_select())
            .load(conn)
    }

    pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
        diesel::delete(users::table.find(id)).execute(conn)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub email: Option<&'a str>,
    pub password_hash: &'a str,
    pub is_active: bool,
    pub login_count: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl NewUser<'_> {
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<User> {
        crate::db::with_backend!(conn, |c| diesel::insert_into(users::table)
            .values(self)
            .returning(User::as_returning())
            .get_result(c))
    }
}
