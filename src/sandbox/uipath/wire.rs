//! How the Identity Server speaks, apart from its DTOs: .NET timestamps, the three error
//! bodies it answers with, route and query values bound the ASP.NET way, and JSON bodies
//! read the way its serializer (Newtonsoft.Json) reads them: property names in any case.
//!
//! The error shapes are the ones `shared/reference/uipath-api-notes.md` §10 records:
//! ASP.NET `ProblemDetails` for binding and validation (400), the Identity Server's own
//! `PascalCase` envelope `{StatusCode, StatusDescription, Message}` for its business rules,
//! and `{"errorMessage": ...}` for scope failures.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde_json::{Map, Value, json};

/// A .NET `DateTime` as Newtonsoft.Json writes it, without offset (UTC implied) and with
/// trailing zeros of the 7 fractional digits dropped: `2025-08-04T06:05:21.8464663`.
pub(crate) fn dotnet_time(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (date, clock) = civil(since.as_secs());
    let ticks = since.subsec_nanos() / 100;
    let fraction = format!("{ticks:07}");
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() { format!("{date}T{clock}") } else { format!("{date}T{clock}.{fraction}") }
}

/// `MM/dd/yyyy HH:mm:ss`, as ASP.NET's JWT handler names the expiry of a token.
pub(crate) fn us_time(unix_secs: u64) -> String {
    let (date, clock) = civil(unix_secs);
    let (year, rest) = date.split_at(4);
    let (month, day) = (&rest[1..3], &rest[4..6]);
    format!("{month}/{day}/{year} {clock}")
}

pub(crate) fn now() -> String {
    dotnet_time(SystemTime::now())
}

/// `(YYYY-MM-DD, HH:MM:SS)` of a Unix time (Howard Hinnant's `civil_from_days`).
fn civil(unix_secs: u64) -> (String, String) {
    let days = i64::try_from(unix_secs / 86_400).unwrap_or(0);
    let rest = unix_secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!("{:02}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60),
    )
}

/// A W3C trace id like the ones ASP.NET puts in `traceId`: `00-<32 hex>-<16 hex>-00`.
fn trace_id() -> String {
    let mut rng = rand::rng();
    format!("00-{:032x}-{:016x}-00", rng.random::<u128>(), rng.random::<u64>())
}

/// Validation problems by property, in the order ASP.NET sorts them (by key).
pub(crate) type Problems = BTreeMap<String, Vec<String>>;

/// An ASP.NET Core `ProblemDetails` 400 for binding and validation errors.
pub(crate) fn validation_problem(problems: &Problems) -> Response {
    let body = json!({
        "errors": problems,
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "One or more validation errors occurred.",
        "status": 400,
        "traceId": trace_id(),
    });
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

/// One problem with one property.
pub(crate) fn invalid(property: &str, message: impl Into<String>) -> Response {
    validation_problem(&Problems::from([(property.to_string(), vec![message.into()])]))
}

/// A bare `ProblemDetails`, as ASP.NET sends for a status without a body of its own
/// (415, 500).
pub(crate) fn problem(status: StatusCode, section: &str, title: &str, detail: Option<&str>) -> Response {
    let mut body = json!({
        "type": format!("https://tools.ietf.org/html/rfc9110#section-{section}"),
        "title": title,
        "status": status.as_u16(),
        "traceId": trace_id(),
    });
    if let Some(detail) = detail {
        body["detail"] = json!(detail);
    }
    (status, axum::Json(body)).into_response()
}

/// The Identity Server's own error envelope, e.g.
/// `{"StatusCode":404,"StatusDescription":"NotFound","Message":"…","Description":""}`.
pub(crate) fn envelope(status: StatusCode, message: &str) -> Response {
    let description: String =
        status.canonical_reason().unwrap_or("Error").chars().filter(|c| !c.is_whitespace()).collect();
    let body = json!({
        "StatusCode": status.as_u16(),
        "StatusDescription": description,
        "Message": message,
        "Description": "",
    });
    (status, axum::Json(body)).into_response()
}

/// A refusal decided before the organization's rules are consulted (binding, media type),
/// boxed: a `Response` is large to carry in every `Result`.
#[derive(Debug)]
pub(crate) struct Rejection(Box<Response>);

impl From<Response> for Rejection {
    fn from(response: Response) -> Rejection {
        Rejection(Box::new(response))
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// A route or query value that must be a GUID: the GUID in the API's form, or the
/// `ProblemDetails` ASP.NET answers, keyed by the parameter's name.
pub(crate) fn route_guid(name: &str, value: &str) -> Result<String, Rejection> {
    uuid::Uuid::parse_str(value)
        .map(|id| id.hyphenated().to_string())
        .map_err(|_| invalid(name, format!("The value '{value}' is not valid.")).into())
}

/// A query parameter bound to an `int` with a `[Range(min, max)]`, `default` when absent.
pub(crate) fn ranged_int(
    query: &BTreeMap<String, String>,
    name: &str,
    default: u32,
    max: u32,
) -> Result<u32, (String, String)> {
    let Some(text) = query.get(&name.to_lowercase()).filter(|t| !t.is_empty()) else { return Ok(default) };
    // An `int`: anything that doesn't parse as one, overflow included, is "not valid".
    let number: i32 =
        text.trim().parse().map_err(|_| (name.to_string(), format!("The value '{text}' is not valid.")))?;
    u32::try_from(number)
        .ok()
        .filter(|n| *n <= max)
        .ok_or_else(|| (name.to_string(), format!("The field {name} must be between 0 and {max}.")))
}

/// A query string as ASP.NET binds it: names case-insensitive (kept lower-cased here), the
/// first value of a repeated name.
pub(crate) fn query(raw: Option<&str>) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        values.entry(key.to_lowercase()).or_insert_with(|| value.into_owned());
    }
    values
}

/// Whether a request carries JSON, as `[FromBody]` requires (else 415).
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let media = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    media == "application/json" || media == "text/json" || media.ends_with("+json")
}

/// 415 for a body that is not JSON.
pub(crate) fn unsupported_media_type() -> Response {
    problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "15.5.16", "Unsupported Media Type", None)
}

/// A JSON request body as Newtonsoft.Json binds it to a command: property names match in any
/// case, and a body that does not bind leaves the command null ("The command field is
/// required.") besides the problem itself.
#[derive(Debug)]
pub(crate) struct Command {
    properties: Map<String, Value>,
}

impl Command {
    /// Parses a body; the error is the 400 to answer.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Command, Rejection> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(invalid("command", "The command field is required.").into());
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(object)) => {
                let properties = object.into_iter().map(|(k, v)| (k.to_lowercase(), v)).collect();
                Ok(Command { properties })
            }
            Ok(other) => Err(unbound(
                "",
                format!(
                    "Cannot deserialize the current JSON {} into the command, which needs a JSON object. Path ''.",
                    kind(&other)
                ),
            )),
            Err(error) => Err(unbound("", format!("{error}. Path ''."))),
        }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.properties.get(&name.to_lowercase()).filter(|v| !v.is_null())
    }

    /// A string property; numbers and booleans are converted as Newtonsoft does.
    pub(crate) fn string(&self, name: &str) -> Result<Option<String>, Rejection> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(if *b { "True" } else { "False" }.into())),
            Some(other) => Err(unbound(
                name,
                format!("Unexpected {} when reading a string. Path '{name}'.", kind(other)),
            )),
        }
    }

    /// A GUID property.
    pub(crate) fn guid(&self, name: &str) -> Result<Option<String>, Rejection> {
        self.get(name).map(|value| guid_value(value, name)).transpose()
    }

    /// An array of GUIDs; `None` when absent or null.
    pub(crate) fn guids(&self, name: &str) -> Result<Option<Vec<String>>, Rejection> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| guid_value(item, &format!("{name}[{i}]")))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(unbound(
                name,
                format!(
                    "Cannot deserialize the current JSON {} into type 'System.Guid[]' because the type requires a JSON array. Path '{name}'.",
                    kind(other)
                ),
            )),
        }
    }
}

fn guid_value(value: &Value, path: &str) -> Result<String, Rejection> {
    let parsed = value.as_str().and_then(|s| uuid::Uuid::parse_str(s).ok());
    parsed.map(|id| id.hyphenated().to_string()).ok_or_else(|| {
        unbound(path, format!("Error converting value {value} to type 'System.Guid'. Path '{path}'."))
    })
}

/// A body that did not bind: the problem, and the command left null.
fn unbound(path: &str, message: String) -> Rejection {
    validation_problem(&Problems::from([
        (path.to_string(), vec![message]),
        ("command".to_string(), vec!["The command field is required.".to_string()]),
    ]))
    .into()
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_look_like_dotnets() {
        let t = UNIX_EPOCH + Duration::new(1_754_287_521, 846_466_300);
        assert_eq!(dotnet_time(t), "2025-08-04T06:05:21.8464663");
        let t = UNIX_EPOCH + Duration::new(1_783_411_828, 663_540_000);
        assert_eq!(dotnet_time(t), "2026-07-07T08:10:28.66354");
        assert_eq!(dotnet_time(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00");
        assert_eq!(us_time(1_754_287_521), "08/04/2025 06:05:21");
    }

    #[test]
    fn ranged_ints_bind_like_aspnet() {
        let q = query(Some("Top=5&skip=-1&x=abc&big=99999999999"));
        assert_eq!(ranged_int(&q, "top", 10, 1000), Ok(5));
        assert_eq!(ranged_int(&q, "missing", 10, 1000), Ok(10));
        assert_eq!(
            ranged_int(&q, "skip", 0, 2_147_483_647).unwrap_err().1,
            "The field skip must be between 0 and 2147483647."
        );
        assert_eq!(ranged_int(&q, "x", 0, 5).unwrap_err().1, "The value 'abc' is not valid.");
        assert_eq!(ranged_int(&q, "big", 0, 5).unwrap_err().1, "The value '99999999999' is not valid.");
        let q = query(Some("top=1001"));
        assert_eq!(
            ranged_int(&q, "top", 10, 1000).unwrap_err().1,
            "The field top must be between 0 and 1000."
        );
    }

    #[test]
    fn commands_bind_property_names_in_any_case() {
        let command =
            Command::parse(br#"{"GROUPIDS": ["35551807-06B1-4CDA-90A1-2FB84851EEE7"], "Name": 7}"#).unwrap();
        assert_eq!(
            command.guids("groupIDs").unwrap(),
            Some(vec![String::from("35551807-06b1-4cda-90a1-2fb84851eee7")])
        );
        assert_eq!(command.string("name").unwrap(), Some("7".into()));
        assert!(command.guids("groupIDs").is_ok());
        assert!(Command::parse(br#"{"groupIDs": ["nope"]}"#).unwrap().guids("groupIDs").is_err());
        assert!(Command::parse(b"[1]").is_err());
        assert!(Command::parse(b"  ").is_err());
    }
}
