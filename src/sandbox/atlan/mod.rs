//! The Atlan users, groups and roles API (`/api/service/...`), as the official SDKs see it.
//!
//! Paths, JSON names, status codes and error bodies follow
//! `shared/reference/atlan-api-notes.md` (§3 endpoints, §4 filters, §5 paging, §6 shapes,
//! §7 errors, §9.3 emulator behaviours). Where Atlan's behaviour is not documented the
//! choice is marked "not documented" and explained.

pub mod seed;
pub(crate) mod query;
pub(crate) mod tenant;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{Shared, guard, request_id};
use query::ListQuery;
use seed::{Attributes, SeedError};
use tenant::{GroupChanges, Invite, Refusal, Tenant};

/// The service account an API token acts as; `users/current` and `whoami` describe it.
const TOKEN_USER_ID: &str = "5e1f1a2b-0000-4000-8000-00000000a11a";
const TOKEN_USERNAME: &str = "service-account-apikey-roster-sandbox";

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
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&shared), guard::guard))
        .with_state(shared)
}

/// An error in Heracles' shape: `{code, error, info, message, requestId}`.
fn heracles_error(status: StatusCode, code: u32, error: &str, message: &str) -> Response {
    let body = json!({"code": code, "error": error, "info": null, "message": message, "requestId": request_id()});
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
            Refusal::UnknownUser(id) => keycloak(StatusCode::NOT_FOUND, format!("404 Not Found: User not found: {id}")),
            Refusal::UnknownGroup(id) => {
                keycloak(StatusCode::NOT_FOUND, format!("404 Not Found: Could not find group by id: {id}"))
            }
            Refusal::UnknownRole(id) => keycloak(StatusCode::NOT_FOUND, format!("404 Not Found: Could not find role: {id}")),
            Refusal::NotSignedUp(who) => keycloak(
                StatusCode::BAD_REQUEST,
                format!("400 Bad Request: user {who} has not signed up yet; only signed-up users can be updated"),
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

/// A write that failed: refused by the tenant's rules, or the state could not be saved.
enum WriteFailure {
    Refused(Refusal),
    NotSaved(SeedError),
}

impl From<Refusal> for WriteFailure {
    fn from(refusal: Refusal) -> Self {
        WriteFailure::Refused(refusal)
    }
}

impl From<SeedError> for WriteFailure {
    fn from(error: SeedError) -> Self {
        WriteFailure::NotSaved(error)
    }
}

impl IntoResponse for WriteFailure {
    fn into_response(self) -> Response {
        match self {
            WriteFailure::Refused(refusal) => refusal.into_response(),
            WriteFailure::NotSaved(error) => {
                heracles_error(StatusCode::INTERNAL_SERVER_ERROR, 5000, "sandbox state not saved", &error.to_string())
            }
        }
    }
}

/// Parses a JSON body, answering a schema error the way Heracles does.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, Response> {
    serde_json::from_slice(bytes).map_err(|e| {
        bad_request(&format!("Request body has an error: doesn't match the schema: {e}"))
    })
}

fn listing(shared: &Shared, raw: Option<&str>, records: impl FnOnce(&Tenant) -> Result<Vec<Value>, Refusal>) -> Response {
    let query = match ListQuery::parse(raw) {
        Ok(query) => query,
        Err(problem) => return bad_request(&problem),
    };
    match shared.read(records) {
        Ok(records) => axum::Json(query::page(records, &query)).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// Success with no body: Atlan answers 200 (pyatlan rejects 201 and 204) and the SDKs ignore it.
fn ok_empty() -> Response {
    StatusCode::OK.into_response()
}

async fn list_roles(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    listing(&shared, raw.as_deref(), |t| Ok(t.role_records()))
}

async fn list_groups(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    listing(&shared, raw.as_deref(), |t| Ok(t.group_records()))
}

async fn list_users(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    listing(&shared, raw.as_deref(), |t| Ok(t.user_records()))
}

async fn list_members(
    State(shared): State<Arc<Shared>>,
    Path(guid): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    listing(&shared, raw.as_deref(), |t| t.member_records(&guid))
}

async fn list_groups_of_user(
    State(shared): State<Arc<Shared>>,
    Path(guid): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
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
    fn changes(self) -> Result<GroupChanges, Response> {
        let attributes: Attributes = match self.attributes {
            None | Some(Value::Null) => Attributes::new(),
            Some(value) => serde_json::from_value(value).map_err(|e| {
                bad_request(&format!(
                    "Request body has an error: every group attribute value must be an array of strings: {e}"
                ))
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

async fn create_group(State(shared): State<Arc<Shared>>, bytes: Bytes) -> Response {
    let request: CreateGroupBody = match body(&bytes) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let Some(group) = request.group else {
        return bad_request("Request body has an error: doesn't match the schema: Property 'group' is missing");
    };
    let changes = match group.changes() {
        Ok(changes) => changes,
        Err(response) => return response,
    };
    let users = request.users;
    let created = shared.write(|t| t.create_group(changes, users.as_deref().unwrap_or_default()).map_err(WriteFailure::from));
    match created {
        Ok((id, outcomes)) => {
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
            axum::Json(json!({"group": id, "users": users})).into_response()
        }
        Err(failure) => failure.into_response(),
    }
}

async fn update_group(State(shared): State<Arc<Shared>>, Path(guid): Path<String>, bytes: Bytes) -> Response {
    let group: GroupBody = match body(&bytes) {
        Ok(group) => group,
        Err(response) => return response,
    };
    // "You must provide the GUID of the group within the request payload ... and the
    // internal name of the group, prefixed by /, as the path" (developer.atlan.com).
    if group.id.as_deref().is_some_and(|id| id != guid) {
        return bad_request("Request body has an error: the id in the body is not the group in the path");
    }
    if group.path.is_none() {
        return bad_request("Request body has an error: doesn't match the schema: Property 'path' is missing");
    }
    let changes = match group.changes() {
        Ok(changes) => changes,
        Err(response) => return response,
    };
    match shared.write(|t| t.update_group(&guid, changes).map_err(WriteFailure::from)) {
        Ok(()) => ok_empty(),
        Err(failure) => failure.into_response(),
    }
}

async fn delete_group(State(shared): State<Arc<Shared>>, Path(guid): Path<String>) -> Response {
    match shared.write(|t| t.delete_group(&guid).map_err(WriteFailure::from)) {
        Ok(()) => ok_empty(),
        Err(failure) => failure.into_response(),
    }
}

#[derive(Deserialize)]
struct UsersBody {
    users: Option<Vec<String>>,
}

async fn remove_members(State(shared): State<Arc<Shared>>, Path(guid): Path<String>, bytes: Bytes) -> Response {
    let request: UsersBody = match body(&bytes) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let Some(users) = request.users else {
        return bad_request("Request body has an error: doesn't match the schema: Property 'users' is missing");
    };
    match shared.write(|t| t.remove_members(&guid, &users).map_err(WriteFailure::from)) {
        Ok(()) => ok_empty(),
        Err(failure) => failure.into_response(),
    }
}

#[derive(Deserialize)]
struct GroupsBody {
    groups: Option<Vec<String>>,
}

async fn add_to_groups(State(shared): State<Arc<Shared>>, Path(guid): Path<String>, bytes: Bytes) -> Response {
    let request: GroupsBody = match body(&bytes) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let Some(groups) = request.groups else {
        return bad_request("Request body has an error: doesn't match the schema: Property 'groups' is missing");
    };
    match shared.write(|t| t.add_to_groups(&guid, &groups).map_err(WriteFailure::from)) {
        Ok(()) => ok_empty(),
        Err(failure) => failure.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleBody {
    role_id: Option<String>,
}

async fn change_role(State(shared): State<Arc<Shared>>, Path(guid): Path<String>, bytes: Bytes) -> Response {
    let request: RoleBody = match body(&bytes) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let Some(role_id) = request.role_id else {
        return bad_request("Request body has an error: doesn't match the schema: Property 'roleId' is missing");
    };
    match shared.write(|t| t.change_role(&guid, &role_id).map_err(WriteFailure::from)) {
        Ok(()) => ok_empty(),
        Err(failure) => failure.into_response(),
    }
}

async fn update_user(State(shared): State<Arc<Shared>>, Path(guid): Path<String>, bytes: Bytes) -> Response {
    let request: Value = match body(&bytes) {
        Ok(request) => request,
        Err(response) => return response,
    };
    // pyatlan parses this response as a user and crashes on an empty body.
    match shared.write(|t| t.update_user(&guid, &request).map_err(WriteFailure::from)) {
        Ok(user) => axum::Json(user).into_response(),
        Err(failure) => failure.into_response(),
    }
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

async fn invite_users(State(shared): State<Arc<Shared>>, bytes: Bytes) -> Response {
    let request: InviteBody = match body(&bytes) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let Some(entries) = request.users else {
        return bad_request("Request body has an error: doesn't match the schema: Property 'users' is missing");
    };
    let mut invites = Vec::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        let (Some(email), Some(role_name), Some(role_id)) = (entry.email, entry.role_name, entry.role_id) else {
            return bad_request(&format!(
                "Request body has an error: users[{index}] needs email, roleName and roleId"
            ));
        };
        invites.push(Invite { email, role_name, role_id });
    }
    match shared.write(|t| t.invite(&invites).map_err(WriteFailure::from)) {
        // Documented: "Response will always be an empty JSON object."
        Ok(()) => axum::Json(json!({})).into_response(),
        Err(failure) => failure.into_response(),
    }
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
async fn list_api_keys(RawQuery(raw): RawQuery) -> Response {
    match ListQuery::parse(raw.as_deref()) {
        Ok(query) => axum::Json(query::page(Vec::new(), &query)).into_response(),
        Err(problem) => bad_request(&problem),
    }
}

/// Not documented; Atlan's gateway (Kong) answers unknown paths like this.
async fn no_route() -> Response {
    (StatusCode::NOT_FOUND, axum::Json(json!({"message": "no Route matched with those values"}))).into_response()
}
