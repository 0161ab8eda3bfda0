//! The incident list's search box, and the full-text indexes behind it.
//!
//! What the box promises (docs/CONSOLE.md, "Search"): an incident id (`inc-…`) or a SHA-256
//! (64 hex digits, any case) is matched exactly; any other text of at least
//! [`MIN_SEARCH_CHARS`] characters is found as a substring, in any letter case, of the file
//! name, the URL or the user name. Every character of the text is literal: quotes, `*`, `-`,
//! `%`, `_`, `NEAR(` or `OR` are searched for as they are, never read as query syntax.
//!
//! Substrings are served by trigram indexes, the same semantics in both stores: SQLite's FTS5
//! `trigram` tokenizer on an external-content table kept by triggers, and PostgreSQL's
//! `pg_trgm` GIN index on the three columns joined by newlines (which the text cannot hold:
//! control characters are refused). A trigram index cannot serve fewer than three characters,
//! hence the minimum.

/// Fewest characters of a free-text search (a trigram index needs three).
pub const MIN_SEARCH_CHARS: usize = 3;

/// In SQLite, a search with fewer index hits than this is answered from the hits (each looked
/// up, filtered and sorted: at most this many lookups); one with more walks the time order and
/// tests each row (at most [`WALK_ROWS_PER_PAGE`] a page). See docs/BENCHMARKS.md.
pub const INDEX_HITS_LIMIT: usize = 2_000;

/// Rows a common text's search reads for one page at most: when they hold fewer matches than
/// a page, the page says so and continues below the last row read.
pub const WALK_ROWS_PER_PAGE: usize = 50_000;

/// The SQLite full-text table over the incidents' file name, URL and user, and how far it has
/// indexed (`console_search_state`). Inserts are indexed by [`sqlite_catch_up`], run by the
/// console (at start, every [`CATCH_UP_EVERY`], and before each search), not by a trigger: the
/// server's incident insert, on the request path, does not pay for the index. Rows are never
/// deleted and SQLite has one writer, so `rowid` grows in commit order and "after the last
/// indexed rowid" is exactly what is new. Deletes and updates of indexed rows (none today) are
/// kept by triggers.
pub const SQLITE_FTS: &str = "
CREATE VIRTUAL TABLE console_incident_search USING fts5(
    file_name, url, user_name, content = 'incidents', content_rowid = 'rowid', tokenize = 'trigram'
);
CREATE TABLE console_search_state (id INTEGER PRIMARY KEY CHECK (id = 1), last_rowid INTEGER NOT NULL);
INSERT INTO console_search_state (id, last_rowid) VALUES (1, 0);
CREATE TRIGGER console_incident_search_delete AFTER DELETE ON incidents
    WHEN OLD.rowid <= (SELECT last_rowid FROM console_search_state) BEGIN
    INSERT INTO console_incident_search (console_incident_search, rowid, file_name, url, user_name)
        VALUES ('delete', OLD.rowid, OLD.file_name, OLD.url, OLD.user_name);
END;
CREATE TRIGGER console_incident_search_update AFTER UPDATE OF file_name, url, user_name ON incidents
    WHEN OLD.rowid <= (SELECT last_rowid FROM console_search_state) BEGIN
    INSERT INTO console_incident_search (console_incident_search, rowid, file_name, url, user_name)
        VALUES ('delete', OLD.rowid, OLD.file_name, OLD.url, OLD.user_name);
    INSERT INTO console_incident_search (rowid, file_name, url, user_name)
        VALUES (NEW.rowid, NEW.file_name, NEW.url, NEW.user_name);
END;
";

/// How often a running console indexes the incidents recorded since its last pass.
pub const CATCH_UP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Indexes the incidents after the last indexed one, in one write transaction (two consoles on
/// one store take turns; neither indexes a row twice). Cheap when there is nothing new: one
/// read of the newest `rowid`.
pub fn sqlite_catch_up(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    let newest = "SELECT coalesce(max(rowid), 0) FROM incidents";
    let last = "SELECT last_rowid FROM console_search_state";
    let behind: bool = conn.query_row(&format!("SELECT ({newest}) > ({last})"), [], |r| r.get(0))?;
    if !behind {
        return Ok(());
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let indexed = (|| {
        let from: i64 = conn.query_row(last, [], |r| r.get(0))?;
        let to: i64 = conn.query_row(newest, [], |r| r.get(0))?;
        conn.execute(
            "INSERT INTO console_incident_search (rowid, file_name, url, user_name) \
             SELECT rowid, file_name, url, user_name FROM incidents WHERE rowid > ?1 AND rowid <= ?2",
            rusqlite::params![from, to],
        )?;
        conn.execute("UPDATE console_search_state SET last_rowid = ?1", rusqlite::params![to.max(from)])?;
        Ok(())
    })();
    conn.execute_batch(if indexed.is_ok() { "COMMIT" } else { "ROLLBACK" })?;
    indexed
}

/// The last object [`SQLITE_FTS`] makes: when it exists, the index is complete.
pub const SQLITE_FTS_DONE: &str = "console_incident_search_update";

/// The text PostgreSQL's trigram index covers; a query must spell it the same way for the
/// planner to use the index.
pub const PG_SEARCH_TEXT: &str =
    "(coalesce(file_name, '') || E'\\n' || coalesce(url, '') || E'\\n' || coalesce(user_name, ''))";

/// The PostgreSQL trigram index (pg_trgm ships in Debian's postgresql package; it is a
/// trusted extension, so the store's owner may create it).
pub fn pg_schema() -> String {
    format!(
        "CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS dlpgate_incidents_search ON dlpgate_incidents USING gin ({PG_SEARCH_TEXT} gin_trgm_ops);"
    )
}

/// What the search box holds, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    /// An incident id.
    Id(String),
    /// A SHA-256, lower case.
    Sha256(String),
    /// Text to find as a substring.
    Text(String),
}

impl Search {
    /// Reads the box (already trimmed); an error says what to type instead.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.starts_with("inc-") && text.len() <= 64 {
            return Ok(Self::Id(text.to_string()));
        }
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Self::Sha256(text.to_ascii_lowercase()));
        }
        if text.chars().any(char::is_control) {
            return Err("the search holds a control character".to_string());
        }
        if text.chars().count() < MIN_SEARCH_CHARS {
            return Err(format!(
                "search for at least {MIN_SEARCH_CHARS} characters (or use the user, rule or client filter)"
            ));
        }
        Ok(Self::Text(text.to_string()))
    }
}

/// An FTS5 query that matches `text` as one literal phrase: inside double quotes every
/// character is literal but the quote itself, which is doubled. With the trigram tokenizer a
/// phrase is a substring.
pub fn fts5_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// A LIKE pattern (backslash escapes, PostgreSQL's default) that matches `text` anywhere.
pub fn like_substring(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
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
    use super::*;

    #[test]
    fn the_box_is_read_as_id_hash_or_literal_text() {
        assert_eq!(Search::parse("inc-12"), Ok(Search::Id("inc-12".into())));
        let hash = "AB".repeat(32);
        assert_eq!(Search::parse(&hash), Ok(Search::Sha256("ab".repeat(32))));
        assert_eq!(Search::parse("NEAR(a b)"), Ok(Search::Text("NEAR(a b)".into())));
        assert!(Search::parse("ab").unwrap_err().contains("at least 3"));
        assert!(Search::parse("été").is_ok(), "three characters, six bytes");
        assert!(Search::parse("a\nbc").is_err());
    }

    #[test]
    fn query_syntax_is_quoted_away() {
        assert_eq!(fts5_phrase(r#"a" OR "b"#), r#""a"" OR ""b""#);
        assert_eq!(fts5_phrase("x* -y NEAR("), "\"x* -y NEAR(\"");
        assert_eq!(like_substring(r"50%_a\b"), r"%50\%\_a\\b%");
    }
}
