//! Case-insensitive substring search that behaves the same on both
//! backends: `lower(column) LIKE lower(pattern) ESCAPE '\'`, with the
//! pattern's own `%`, `_` and `\` escaped so they match literally.

diesel::define_sql_function! {
    /// SQL `lower()` on text.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

diesel::define_sql_function! {
    /// SQL `lower()` on nullable text.
    #[sql_name = "lower"]
    fn lower_nullable(
        x: diesel::sql_types::Nullable<diesel::sql_types::Text>,
    ) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// `%q%`, lowercased (ASCII), with `%`, `_` and `\` escaped for `ESCAPE '\'`.
pub fn like_pattern(q: &str) -> String {
    let mut pattern = String::with_capacity(q.len() + 2);
    pattern.push('%');
    for c in q.to_ascii_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(like_pattern("50%_OFF\\"), "%50\\%\\_off\\\\%");
    }
}
