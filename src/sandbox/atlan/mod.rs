//! The Atlan users, groups and roles API (`/api/service/...`), as the official SDKs see it.
//!
//! Paths, JSON names, status codes and error bodies follow
//! `shared/reference/atlan-api-notes.md` (§3 endpoints, §4 filters, §5 paging, §6 shapes,
//! §7 errors, §9.3 emulator behaviours). Where Atlan's behaviour is not documented the
//! choice is marked "not documented" and explained.

pub(crate) mod query;
pub mod seed;
pub(crate) mod tenant;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::guard::{self, Gate, Guard};
use super::store::{Model, Store};
use super::{Control, Stats, request_id};
use query::ListQuery;
use seed::{Attributes, Seed, SeedError};
use tenant::{GroupChanges, Invite, Refusal, Tenant};

/// The service account an API token acts as; `users/current` and `whoami` describe it.
const TOKEN_USER_ID: &str = "5e1f1a2b-0000-4000-8000-00000000a11a";
const TOKEN_USERNAME: &str = "service-account-apikey-roster-sandbox";

/// State shared by every request of one Atlan sandbox.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) api_key: String,
    pub(crate) store: Store<Tenant>,
    guard: Guard,
}

impl Shared {
    pub(crate) fn new(
        api_key: String,
        seed: Seed,
        state_file: Option<PathBuf>,
        guard: Guard,
    ) -> Result<Shared, SeedError> {
        Ok(Shared { api_key, store: Store::new(seed, state_file)?, guard })
    }

    fn authorized(&self, header: Option<&HeaderValue>) -> bool {
        // The scheme is case-insensitive (RFC 7235); the token is not.
        let credentials = header.and_then(|h| h.to_str().ok()).and_then(|h| h.split_once(' '));
        credentials
            .is_some_and(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && token == self.api_key)
    }

    fn read<T>(&self, read: impl FnOnce(&Tenant) -> T) -> T {
        self.store.read(read)
    }

    /// Applies a change and, with `--state`, saves it before the change is acknowledged.
    fn write<T, E: From<SeedError>>(&self, change: impl FnOnce(&mut Tenant) -> Result<T, E>) -> Result<T, E> {
        self.store.write(change)
    }
}

impl Model for Tenant {
    type Seed = Seed;

    fn from_seed(seed: Seed) -> Tenant {
        Tenant::from_seed(seed)
    }

    fn to_seed(&self) -> Seed {
        Tenant::to_seed(self)
    }
}

impl Control for Shared {
    fn stats(&self) -> Stats {
        self.guard.stats.lock().unwrap().clone()
    }

    fn state(&self) -> Value {
        serde_json::to_value(self.store.snapshot()).expect("a seed always serializes")
    }

    fn reset(&self) -> Result<(), SeedError> {
        self.store.reset()?;
        self.guard.reset();
        Ok(())
    }
}

impl Gate for Shared {
    fn guard(&self) -> &Guard {
        &self.guard
    }

    fn refuse(&self, _route: &str, request: &Request) -> Option<Response> {
        if self.authorized(request.headers().get(header::AUTHORIZATION)) {
            return None;
        }
        // The SDKs' error model names `status`, `message` and `url` for unauthorized calls.
        let body = json!({"status": 401, "message": "Unauthorized", "url": request.uri().path()});
        Some((StatusCode::UNAUTHORIZED, axum::Json(body)).into_response())
    }

    /// Atlan's gateway answers 429 with Retry-After; its body is not documented, so the
    /// sandbox sends the gateway's (Kong's) usual one.
    fn too_many_requests(&self, _retry_after_secs: u64) -> Response {
        (StatusCode::TOO_MANY_REQUESTS, axum::Json(json!({"message": "API rate limit exceeded"})))
            .into_response()
    }

    fn injected_error(&self, code: u16) -> Response {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({
            "code": 5000,
            "error": status.canonical_reason().unwrap_or("error"),
            "info": null,
            "message": format!("{status} (injected by the roster sandbox)"),
            "requestId": request_id(),
        });
        (status, axum::Json(body)).into_response()
    }
}

/// Every Atlan route, behind the guard (latency, rate limit, auth, faults, stats).
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/service/roles", get(list_roles))
        .route("/api/service/v2/groups", get(list_groups))
        .route("/api/service/groups", get(list_groups).post(create_group))
        .route("/api/service/groups/{guid}", post(update_group))
        .route("/api/service/groups/{guid}/delete", post(delete_group))
        .route("/api/service/groups/{guid}/members", get(list_members))
        .route("/api/service/groups/{guid}/members/remove", post(remove_members))
        .route("/api/service/users", get(list_users).post(invite_users))
        .route("/api/service/users/current", get(current_user))
        .route("/api/service/users/{guid}", post(update_user))
        .route("/api/service/users/{guid}/groups", get(list_groups_of_user).post(add_to_groups))
        .route("/api/service/users/{guid}/roles/update", post(change_role))
        // developer.atlan.com's raw-REST example changes roles here; the SDKs use the path above.
        .route("/api/service/users/{guid}/update", post(change_role))
        .route("/api/service/whoami", get(whoami))
        .route("/api/service/apikeys", get(list_api_keys))
        .fallback(no_route)
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&shared), guard::guard::<Shared>))
        .with_state(shared)
}

/// An error in Heracles' shape: `{code, error, info, message, requestId}`.
fn heracles_error(status: StatusCode, code: u32, error: &str, message: &str) -> Response {
    let body =
        json!({"code": code, "error": error, "info": null, "message": message, "requestId": request_id()});
    (status, axum::Json(body)).into_response()
}

fn bad_request(message: &str) -> Response {
    heracles_error(StatusCode::BAD_REQUEST, 1000, "Please check your request parameters", message)
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        // Heracles wraps Keycloak's errors as code 3500 with Keycloak's status in the message;
        // only the duplicate-group case is documented (HTTP 400). Unknown GUIDs are not
        // documented: the sandbox answers 404 with Keycloak's own messages.
        let keycloak = |status, message: String| heracles_error(status, 3500, "keycloak error", &message);
        match self {
            Refusal::GroupExists(name) => keycloak(
                StatusCode::BAD_REQUEST,
                format!("409 Conflict: Top level group named '{name}' already exists."),
            ),
            Refusal::UnknownUser(id) => {
                keycloak(StatusCode::NOT_FOUND, format!("404 Not Found: User not found: {id}"))
            }
            Refusal::UnknownGroup(id) => {
                keycloak(StatusCode::NOT_FOUND, format!("404 Not Found: Could not find group by id: {id}"))
            }
            Refusal::UnknownRole(id) => {
                keycloak(StatusCode::NOT_FOUND, format!("404 Not Found: Could not find role: {id}"))
            }
            Refusal::NotSignedUp(who) => keycloak(
                StatusCode::BAD_REQUEST,
                format!(
                    "400 Bad Request: user {who} has not signed up yet; only signed-up users can be updated"
                ),
            ),
            // Documented: HTTP 500 with a map from email to Keycloak's message.
            Refusal::EmailsTaken(emails) => {
                let body: serde_json::Map<String, Value> = emails
                    .into_iter()
                    .map(|email| (email, json!("409 Conflict: User exists with the same email")))
                    .collect();
                (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
            }
            Refusal::BadRequest(message) => bad_request(&message),
        }
    }
}

/// Why a call failed: refused by the tenant's rules, or the state could not be saved.
enum ApiError {
    Refused(Refusal),
    NotSaved(SeedError),
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        ApiError::Refused(refusal)
    }
}

impl From<SeedError> for ApiError {
    fn from(error: SeedError) -> Self {
        ApiError::NotSaved(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Refused(refusal) => refusal.into_response(),
            ApiError::NotSaved(error) => heracles_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                5000,
                "sandbox state not saved",
                &error.to_string(),
            ),
        }
    }
}

type ApiResult = Result<Response, ApiError>;

fn schema_error(problem: impl std::fmt::Display) -> ApiError {
    ApiError::Refused(Refusal::BadRequest(format!(
        "Request body has an error: doesn't match the schema: {problem}"
    )))
}

/// Parses a JSON body, answering a schema error the way Heracles does.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(schema_error)
}

/// A property the endpoint can't do without.
fn required<T>(value: Option<T>, property: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| schema_error(format!("Property '{property}' is missing")))
}

fn list_query(raw: Option<&str>) -> Result<ListQuery, ApiError> {
    ListQuery::parse(raw).map_err(|problem| ApiError::Refused(Refusal::BadRequest(problem)))
}

fn listing(
    shared: &Shared,
    raw: Option<&str>,
    records: impl FnOnce(&Tenant) -> Result<Vec<Value>, Refusal>,
) -> ApiResult {
    let query = list_query(raw)?;
    let records = shared.read(records)?;
    Ok(axum::Json(query::page(records, &query)).into_response())
}

/// Applies a change; success has no body: Atlan answers 200 (pyatlan rejects 201 and 204)
/// and the SDKs ignore what it says.
fn change(shared: &Shared, change: impl FnOnce(&mut Tenant) -> Result<(), Refusal>) -> ApiResult {
    shared.write(|tenant| change(tenant).map_err(ApiError::from))?;
    Ok(StatusCode::OK.into_response())
}

type Guid = Path<String>;
type SharedState = State<Arc<Shared>>;

async fn list_roles(State(shared): SharedState, RawQuery(raw): RawQuery) -> ApiResult {
    listing(&shared, raw.as_deref(), |t| Ok(t.role_records()))
}

async fn list_groups(State(shared): SharedState, RawQuery(raw): RawQuery) -> ApiResult {
    listing(&shared, raw.as_deref(), |t| Ok(t.group_records()))
}

async fn list_users(State(shared): SharedState, RawQuery(raw): RawQuery) -> ApiResult {
    listing(&shared, raw.as_deref(), |t| Ok(t.user_records()))
}

async fn list_members(State(shared): SharedState, Path(guid): Guid, RawQuery(raw): RawQuery) -> ApiResult {
    listing(&shared, raw.as_deref(), |t| t.member_records(&guid))
}

async fn list_groups_of_user(
    State(shared): SharedState,
    Path(guid): Guid,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    listing(&shared, raw.as_deref(), |t| t.groups_of_records(&guid))
}

/// The group part of create and update bodies.
#[derive(Deserialize)]
struct GroupBody {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    attributes: Option<Value>,
}

impl GroupBody {
    /// Attribute values must be arrays of strings ("Values are all arrays of strings").
    fn changes(self) -> Result<GroupChanges, ApiError> {
        let attributes: Attributes = match self.attributes {
            None | Some(Value::Null) => Attributes::new(),
            Some(value) => serde_json::from_value(value).map_err(|e| {
                schema_error(format!("every group attribute value must be an array of strings: {e}"))
            })?,
        };
        Ok(GroupChanges { name: self.name, attributes })
    }
}

#[derive(Deserialize)]
struct CreateGroupBody {
    group: Option<GroupBody>,
    #[serde(default)]
    users: Option<Vec<String>>,
}

async fn create_group(State(shared): SharedState, bytes: Bytes) -> ApiResult {
    let request: CreateGroupBody = body(&bytes)?;
    let changes = required(request.group, "group")?.changes()?;
    let users = request.users;
    let (id, outcomes) = shared
        .write(|t| t.create_group(changes, users.as_deref().unwrap_or_default()).map_err(ApiError::from))?;
    // Documented: the group's GUID, and per requested user whether joining worked; `null`
    // when no users were asked for.
    let users = users.map(|_| {
        outcomes
            .into_iter()
            .map(|(user, joined)| {
                let status = if joined {
                    json!({"status": 200, "statusMessage": "success"})
                } else {
                    json!({"status": 404, "statusMessage": "User not found"})
                };
                (user, status)
            })
            .collect::<serde_json::Map<_, _>>()
    });
    Ok(axum::Json(json!({"group": id, "users": users})).into_response())
}

async fn update_group(State(shared): SharedState, Path(guid): Guid, bytes: Bytes) -> ApiResult {
    let group: GroupBody = body(&bytes)?;
    // "You must provide the GUID of the group within the request payload ... and the
    // internal name of the group, prefixed by /, as the path" (developer.atlan.com).
    if group.id.as_deref().is_some_and(|id| id != guid) {
        return Err(schema_error("the id in the body is not the group in the path"));
    }
    required(group.path.as_ref(), "path")?;
    let changes = group.changes()?;
    change(&shared, |t| t.update_group(&guid, changes))
}

async fn delete_group(State(shared): SharedState, Path(guid): Guid) -> ApiResult {
    change(&shared, |t| t.delete_group(&guid))
}

#[derive(Deserialize)]
struct UsersBody {
    users: Option<Vec<String>>,
}

async fn remove_members(State(shared): SharedState, Path(guid): Guid, bytes: Bytes) -> ApiResult {
    let users = required(body::<UsersBody>(&bytes)?.users, "users")?;
    change(&shared, |t| t.remove_members(&guid, &users))
}

#[derive(Deserialize)]
struct GroupsBody {
    groups: Option<Vec<String>>,
}

async fn add_to_groups(State(shared): SharedState, Path(guid): Guid, bytes: Bytes) -> ApiResult {
    let groups = required(body::<GroupsBody>(&bytes)?.groups, "groups")?;
    change(&shared, |t| t.add_to_groups(&guid, &groups))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleBody {
    role_id: Option<String>,
}

async fn change_role(State(shared): SharedState, Path(guid): Guid, bytes: Bytes) -> ApiResult {
    let role_id = required(body::<RoleBody>(&bytes)?.role_id, "roleId")?;
    change(&shared, |t| t.change_role(&guid, &role_id))
}

async fn update_user(State(shared): SharedState, Path(guid): Guid, bytes: Bytes) -> ApiResult {
    let request: Value = body(&bytes)?;
    // pyatlan parses this response as a user and crashes on an empty body.
    let user = shared.write(|t| t.update_user(&guid, &request).map_err(ApiError::from))?;
    Ok(axum::Json(user).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InviteBody {
    users: Option<Vec<InviteEntry>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InviteEntry {
    email: Option<String>,
    role_name: Option<String>,
    role_id: Option<String>,
}

async fn invite_users(State(shared): SharedState, bytes: Bytes) -> ApiResult {
    let entries = required(body::<InviteBody>(&bytes)?.users, "users")?;
    let invites = entries
        .into_iter()
        .enumerate()
        .map(|(index, entry)| {
            Ok(Invite {
                email: required(entry.email, &format!("users[{index}].email"))?,
                role_name: required(entry.role_name, &format!("users[{index}].roleName"))?,
                role_id: required(entry.role_id, &format!("users[{index}].roleId"))?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    shared.write(|t| t.invite(&invites).map_err(ApiError::from))?;
    // Documented: "Response will always be an empty JSON object."
    Ok(axum::Json(json!({})).into_response())
}

async fn current_user() -> Response {
    axum::Json(json!({
        "id": TOKEN_USER_ID, "username": TOKEN_USERNAME, "email": null,
        "emailVerified": false, "enabled": true, "firstName": null, "lastName": null,
        "attributes": {}, "createdTimestamp": 0, "totp": false,
        "disableableCredentialTypes": [], "requiredActions": [], "access": {},
    }))
    .into_response()
}

async fn whoami() -> Response {
    axum::Json(json!({
        "id": TOKEN_USER_ID, "username": TOKEN_USERNAME,
        "roles": [{"id": "a9e1ee9c-0000-4000-8000-0000000a71de", "name": "$api-token-default-access"}],
    }))
    .into_response()
}

/// The SDK's user cache asks here first whether a GUID is an API token; the sandbox has none
/// to show.
async fn list_api_keys(RawQuery(raw): RawQuery) -> ApiResult {
    let query = list_query(raw.as_deref())?;
    Ok(axum::Json(query::page(Vec::new(), &query)).into_response())
}

/// Not documented; Atlan's gateway (Kong) answers unknown paths like this.
async fn no_route() -> Response {
    (StatusCode::NOT_FOUND, axum::Json(json!({"message": "no Route matched with those values"})))
        .into_response()
}
