//! SQLite's query planner stability guarantee (QPSG), on for every
//! connection this process opens, so that diesel's cached prepared
//! statements stay prepared.
//!
//! Why: the bundled SQLite (3.53) plans a bound `LIMIT ?` as the constant it
//! is bound to, and marks the parameter so that binding it again expires
//! the statement; STAT4, which `libsqlite3-sys` compiles in, does the same
//! for range bounds once `ANALYZE` has run. diesel binds every parameter on
//! every run, so each cached statement with a `.limit()` or `.first()` was
//! parsed and planned again on each execution (`sqlite3Reprepare` under
//! `sqlite3_step` in a profile of the recent feed; issue 10). With QPSG the
//! plan does not depend on bound values, and a statement prepared once is
//! reused as diesel intends.
//!
//! Hand-written because diesel exposes no raw handle to call
//! `sqlite3_db_config` on, and no crate sets it: one auto-extension, which
//! SQLite runs on each connection as it opens.

use std::ffi::{c_char, c_int};
use std::sync::Once;

use libsqlite3_sys as ffi;

static REGISTER: Once = Once::new();

/// Registers the extension once per process; connections opened after it
/// have QPSG on.
pub(crate) fn enable_for_new_connections() {
    REGISTER.call_once(|| {
        // SAFETY: `enable_qpsg` has the entry-point signature SQLite calls
        // it with, and lives as long as the process.
        unsafe {
            ffi::sqlite3_auto_extension(Some(enable_qpsg));
        }
    });
}

unsafe extern "C" fn enable_qpsg(
    db: *mut ffi::sqlite3,
    _error: *mut *mut c_char,
    _api: *const ffi::sqlite3_api_routines,
) -> c_int {
    // SAFETY: SQLite hands a valid, open connection; the option takes an
    // int and an optional out-pointer, per the C API.
    unsafe {
        ffi::sqlite3_db_config(
            db,
            ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as c_int,
            std::ptr::null_mut::<c_int>(),
        );
    }
    ffi::SQLITE_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection opened after registration reports QPSG on.
    #[test]
    fn new_connections_have_the_planner_guarantee() {
        enable_for_new_connections();
        let mut db = std::ptr::null_mut();
        let mut on: c_int = -1;
        // SAFETY: plain C API use on a private in-memory database.
        unsafe {
            assert_eq!(
                ffi::sqlite3_open(c":memory:".as_ptr(), &mut db),
                ffi::SQLITE_OK
            );
            ffi::sqlite3_db_config(db, ffi::SQLITE_DBCONFIG_ENABLE_QPSG, -1 as c_int, &mut on);
            ffi::sqlite3_close(db);
        }
        assert_eq!(on, 1);
    }
}
