//! Statements with literal SQL in them, cached as prepared statements all
//! the same.
//!
//! diesel never caches a statement that contains literal SQL (`sql()`):
//! the literal could differ from call to call, so the statement is parsed
//! and planned again on every run, and its text built again first. Where
//! the text is a constant and only the bound values change (the summary's
//! day, which diesel cannot type as a group key), [`FixedSql`] tells diesel
//! so: the statement is keyed by a marker type, as a query diesel can type
//! is, and prepared once per connection.

use std::marker::PhantomData;

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

/// `query`, whose SQL text is the same on every call, cached under `Id`
/// (a type named for this one statement, never shared with another).
pub struct FixedSql<Q, Id> {
    query: Q,
    id: PhantomData<Id>,
}

/// Wraps `query`, whose SQL must not depend on anything but its type: one
/// marker type `Id` per statement.
pub fn fixed_sql<Id: 'static, Q>(query: Q) -> FixedSql<Q, Id> {
    FixedSql {
        query,
        id: PhantomData,
    }
}

impl<Q, Id: 'static> QueryId for FixedSql<Q, Id> {
    type QueryId = Id;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<Q: Query, Id> Query for FixedSql<Q, Id> {
    type SqlType = Q::SqlType;
}

impl<Q: QueryFragment<DB>, Id, DB: Backend> QueryFragment<DB> for FixedSql<Q, Id> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.query.walk_ast(pass)
    }

    /// The literal parts are constants: the reason diesel would not cache
    /// the statement does not hold.
    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q, Id, Conn> RunQueryDsl<Conn> for FixedSql<Q, Id> {}
