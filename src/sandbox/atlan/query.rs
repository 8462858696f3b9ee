//! Atlan's list parameters: `filter` (a JSON document with `$and`, `$or`, `$in`, `$ilike`
//! and equality), `sort`, `offset`, `limit`, `count` and `columns`, applied to records in
//! their wire shape.
//!
//! The rules follow what the official SDKs send and expect (atlan-api-notes.md §4, §5, §9.3):
//! pages past the end are empty (pyatlan pages until it sees one), `count=false` zeroes the
//! totals, `columns` may be repeated or comma-joined, and unknown parameters are ignored.

use std::cmp::Ordering;

use serde_json::{Map, Value};

/// A list request's parameters, parsed from the raw query string.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ListQuery {
    filter: Option<Filter>,
    sort: Option<(String, bool)>,
    offset: usize,
    limit: Option<usize>,
    count: bool,
    columns: Vec<String>,
}

/// A parsed `filter` document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Field(String, Condition),
}

/// What a field must satisfy.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Condition {
    Eq(Value),
    Ne(Value),
    In(Vec<Value>),
    NotIn(Vec<Value>),
    ILike(String),
    Like(String),
}

/// A page of results in Atlan's wrapper.
pub(crate) fn page(records: Vec<Value>, query: &ListQuery) -> Value {
    let total = records.len();
    let mut matching: Vec<Value> =
        records.into_iter().filter(|r| query.filter.as_ref().is_none_or(|f| f.matches(r))).collect();
    let filtered = matching.len();
    if let Some((field, descending)) = &query.sort {
        // Keys computed once per record, not once per comparison: big tenants are listed a
        // page at a time, and each page sorts the whole collection.
        let mut keyed: Vec<((SortKey, SortKey), Value)> = matching
            .into_iter()
            .map(|r| ((SortKey::of(r.get(field)), SortKey::of(r.get("id"))), r))
            .collect();
        keyed.sort_by(|(a, _), (b, _)| {
            let order = a.partial_cmp(b).unwrap_or(Ordering::Equal);
            if *descending { order.reverse() } else { order }
        });
        matching = keyed.into_iter().map(|(_, r)| r).collect();
    }
    let limit = query.limit.unwrap_or(usize::MAX);
    let records: Vec<Value> = matching
        .into_iter()
        .skip(query.offset)
        .take(limit)
        .map(|record| project(record, &query.columns))
        .collect();
    let (total, filtered) = if query.count { (total, filtered) } else { (0, 0) };
    serde_json::json!({"totalRecord": total, "filterRecord": filtered, "records": records})
}

/// Keeps the requested columns; `id`, `name` and `username` always stay, as on the live API.
fn project(record: Value, columns: &[String]) -> Value {
    if columns.is_empty() {
        return record;
    }
    let Value::Object(fields) = record else { return record };
    let kept: Map<String, Value> = fields
        .into_iter()
        .filter(|(key, _)| matches!(key.as_str(), "id" | "name" | "username") || columns.contains(key))
        .collect();
    Value::Object(kept)
}

/// A record's place in a sort: numbers by value, text without regard to case, missing
/// values last.
#[derive(Debug, PartialEq, PartialOrd)]
enum SortKey {
    Number(f64),
    Text(String),
    Missing,
}

impl SortKey {
    fn of(value: Option<&Value>) -> SortKey {
        match present(value) {
            None => SortKey::Missing,
            Some(Value::Number(n)) => n.as_f64().map_or(SortKey::Missing, SortKey::Number),
            Some(other) => SortKey::Text(sort_key(other)),
        }
    }
}

fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| !v.is_null())
}

fn sort_key(value: &Value) -> String {
    match value {
        Value::String(s) => s.to_lowercase(),
        Value::Array(items) => items.first().map(sort_key).unwrap_or_default(),
        other => other.to_string(),
    }
}

impl ListQuery {
    /// Parses a form-urlencoded query string (`+` is a space), as Atlan's gateway does.
    pub(crate) fn parse(raw: Option<&str>) -> Result<ListQuery, String> {
        let mut query = ListQuery { count: true, ..ListQuery::default() };
        for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            match key.as_ref() {
                "filter" if !value.trim().is_empty() => {
                    let document: Value =
                        serde_json::from_str(&value).map_err(|e| format!("filter is not valid JSON: {e}"))?;
                    query.filter = Some(Filter::parse(&document)?);
                }
                "sort" if !value.is_empty() => {
                    query.sort = Some(match value.strip_prefix('-') {
                        Some(field) => (field.to_string(), true),
                        None => (value.to_string(), false),
                    });
                }
                "offset" => query.offset = number(&key, &value)?,
                "limit" => query.limit = Some(number(&key, &value)?),
                "count" => {
                    query.count = match value.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(format!("count must be true or false, not {value:?}")),
                    }
                }
                "columns" => query
                    .columns
                    .extend(value.split(',').map(str::trim).filter(|c| !c.is_empty()).map(String::from)),
                _ => {}
            }
        }
        Ok(query)
    }
}

fn number(key: &str, value: &str) -> Result<usize, String> {
    value.trim().parse().map_err(|_| format!("{key} must be a non-negative whole number, not {value:?}"))
}

impl Filter {
    /// Parses a filter document; an operator this emulator doesn't know is an error rather
    /// than a filter that silently matches everything.
    pub(crate) fn parse(document: &Value) -> Result<Filter, String> {
        let Value::Object(fields) = document else {
            return Err(format!("a filter must be a JSON object, not {document}"));
        };
        let mut parts = Vec::new();
        for (key, value) in fields {
            parts.push(match key.as_str() {
                "$and" => Filter::And(Self::parse_list(key, value)?),
                "$or" => Filter::Or(Self::parse_list(key, value)?),
                op if op.starts_with('$') => return Err(format!("unknown filter operator {op}")),
                field => Filter::Field(field.to_string(), Condition::parse(value)?),
            });
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Filter::And(parts) })
    }

    fn parse_list(key: &str, value: &Value) -> Result<Vec<Filter>, String> {
        let Value::Array(items) = value else {
            return Err(format!("{key} takes a list of filters"));
        };
        items.iter().map(Filter::parse).collect()
    }

    /// Whether a record (in wire shape) passes the filter.
    pub(crate) fn matches(&self, record: &Value) -> bool {
        match self {
            Filter::And(parts) => parts.iter().all(|p| p.matches(record)),
            Filter::Or(parts) => parts.iter().any(|p| p.matches(record)),
            Filter::Field(field, condition) => condition.holds(record.get(field)),
        }
    }
}

impl Condition {
    fn parse(value: &Value) -> Result<Condition, String> {
        let Value::Object(ops) = value else { return Ok(Condition::Eq(value.clone())) };
        let mut ops = ops.iter();
        let (Some((op, argument)), None) = (ops.next(), ops.next()) else {
            return Err(format!("a field condition takes exactly one operator, not {value}"));
        };
        let list = || match argument {
            Value::Array(items) => Ok(items.clone()),
            _ => Err(format!("{op} takes a list, not {argument}")),
        };
        let pattern = || match argument {
            Value::String(s) => Ok(s.clone()),
            _ => Err(format!("{op} takes a string pattern, not {argument}")),
        };
        Ok(match op.as_str() {
            "$eq" => Condition::Eq(argument.clone()),
            "$ne" => Condition::Ne(argument.clone()),
            "$in" => Condition::In(list()?),
            "$nin" => Condition::NotIn(list()?),
            "$ilike" => Condition::ILike(pattern()?),
            "$like" => Condition::Like(pattern()?),
            other => return Err(format!("unknown filter operator {other}")),
        })
    }

    fn holds(&self, field: Option<&Value>) -> bool {
        let values = field_values(field);
        match self {
            Condition::Eq(wanted) => values.iter().any(|v| same(v, wanted)),
            Condition::Ne(wanted) => !values.iter().any(|v| same(v, wanted)),
            Condition::In(wanted) => values.iter().any(|v| wanted.iter().any(|w| same(v, w))),
            Condition::NotIn(wanted) => !values.iter().any(|v| wanted.iter().any(|w| same(v, w))),
            Condition::ILike(pattern) => {
                values.iter().any(|v| like(&text(v).to_lowercase(), &pattern.to_lowercase()))
            }
            Condition::Like(pattern) => values.iter().any(|v| like(&text(v), pattern)),
        }
    }
}

/// Attribute values are arrays: a condition holds if it holds for any element. Objects are
/// not comparable and match nothing.
fn field_values(field: Option<&Value>) -> Vec<&Value> {
    match field {
        None | Some(Value::Null | Value::Object(_)) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(value) => vec![value],
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Equality as the gateway sees it: query values arrive as JSON, stored booleans and numbers
/// also match their string spelling (`"true"`, `"3"`).
fn same(stored: &Value, wanted: &Value) -> bool {
    stored == wanted || text(stored) == text(wanted)
}

/// SQL `LIKE`: `%` matches any run of characters, `_` exactly one.
fn like(text: &str, pattern: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let pattern: Vec<char> = pattern.chars().collect();
    // Classic two-pointer wildcard match with backtracking to the last `%`.
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '_' || pattern[p] == text[t]) {
            t += 1;
            p += 1;
        } else if p < pattern.len() && pattern[p] == '%' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '%')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn users() -> Vec<Value> {
        vec![
            json!({"id": "1", "username": "jdoe", "email": "jdoe@example.com", "attributes": {"isDefault": ["true"]}}),
            json!({"id": "2", "username": "asmith", "email": "a_smith@corp.io", "attributes": {"isDefault": ["false"]}}),
            json!({"id": "3", "username": "bkim", "email": "bkim@example.com", "enabled": false}),
        ]
    }

    fn ids(raw: &str) -> Vec<String> {
        let query = ListQuery::parse(Some(raw)).unwrap();
        page(users(), &query)["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    }

    fn encoded(filter: &str) -> String {
        form_urlencoded::Serializer::new(String::new()).append_pair("filter", filter).finish()
    }

    #[test]
    fn each_filter_operator_selects_the_right_records() {
        assert_eq!(ids(&encoded(r#"{"username":"jdoe"}"#)), ["1"]);
        assert_eq!(ids(&encoded(r#"{"username":{"$eq":"bkim"}}"#)), ["3"]);
        assert_eq!(ids(&encoded(r#"{"username":{"$ne":"bkim"}}"#)), ["1", "2"]);
        assert_eq!(ids(&encoded(r#"{"username":{"$in":["jdoe", "bkim"]}}"#)), ["1", "3"]);
        assert_eq!(ids(&encoded(r#"{"username":{"$nin":["jdoe"]}}"#)), ["2", "3"]);
        assert_eq!(ids(&encoded(r#"{"email":{"$ilike":"%EXAMPLE.com%"}}"#)), ["1", "3"]);
        assert_eq!(ids(&encoded(r#"{"email":{"$like":"%EXAMPLE.com%"}}"#)), Vec::<String>::new());
        assert_eq!(
            ids(&encoded(r#"{"$and":[{"email":{"$ilike":"%example%"}},{"username":"bkim"}]}"#)),
            ["3"]
        );
        assert_eq!(ids(&encoded(r#"{"$or":[{"username":"jdoe"},{"username":"asmith"}]}"#)), ["1", "2"]);
        assert_eq!(ids(&encoded(r#"{"enabled":false}"#)), ["3"]);
        assert_eq!(ids(&encoded(r#"{"attributes":{"$ilike":"%"}}"#)), Vec::<String>::new());
    }

    #[test]
    fn like_follows_sql_wildcards() {
        assert!(like("a_smith@corp.io", "a_smith%"));
        assert!(like("abcsmith", "a_csmith"));
        assert!(like("$admin", "$%"));
        assert!(!like("admin", "$%"));
        assert!(like("anything", "%"));
        assert!(!like("abc", "a_"));
    }

    #[test]
    fn paging_sorting_counting_and_projection() {
        assert_eq!(ids("sort=username"), ["2", "3", "1"]);
        assert_eq!(ids("sort=-username"), ["1", "3", "2"]);
        assert_eq!(ids("sort=username&offset=1&limit=1"), ["3"]);
        assert!(ids("offset=3&limit=20").is_empty());
        let query = ListQuery::parse(Some("count=False&limit=1")).unwrap();
        let response = page(users(), &query);
        assert_eq!((response["totalRecord"].clone(), response["filterRecord"].clone()), (json!(0), json!(0)));
        let query =
            ListQuery::parse(Some(&format!("{}&count=True&limit=0", encoded(r#"{"username":"jdoe"}"#))))
                .unwrap();
        let response = page(users(), &query);
        assert_eq!((response["totalRecord"].clone(), response["filterRecord"].clone()), (json!(3), json!(1)));
        let query = ListQuery::parse(Some("columns=email&columns=enabled,attributes")).unwrap();
        let first = &page(users(), &query)["records"][0];
        assert_eq!(first.as_object().unwrap().len(), 4, "{first}");
    }

    #[test]
    fn malformed_parameters_are_refused_with_a_reason() {
        assert!(ListQuery::parse(Some("limit=ten")).unwrap_err().contains("limit"));
        assert!(ListQuery::parse(Some(&encoded("{nope"))).unwrap_err().contains("JSON"));
        assert!(ListQuery::parse(Some(&encoded(r#"{"a":{"$regex":"x"}}"#))).unwrap_err().contains("$regex"));
        assert!(ListQuery::parse(Some("maxLoginEvents=1&unknown=2")).is_ok());
    }
}
