//! The routes: the token endpoint, groups, members and users, each checking what the
//! Identity Server checks in the order it does: the organization in the path (the gateway),
//! then model binding (`ProblemDetails` 400 for every value that does not bind, all at once),
//! then the partition, then the organization's own rules.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::json;

use super::tenant::{NewGroup, Refusal, Tenant, UserQuery, sort_field};
use super::token::{self, Claims};
use super::wire::{self, Command, Problems, Rejection};
use super::{Shared, unix_now};
use crate::sandbox::guard;
use crate::sandbox::store::SeedError;

/// Every route, behind the guard (latency, rate limit, token and scope, faults, stats).
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    const API: &str = "/{organization}/identity_/api";
    Router::new()
        .route("/identity_/connect/token", post(host_token))
        .route("/{organization}/identity_/connect/token", post(organization_token))
        .route(&format!("{API}/Group"), post(create_group))
        // GET and DELETE take `{partitionGlobalId}` here, PUT `{groupId}`: one route for axum.
        .route(&format!("{API}/Group/{{id}}"), get(list_groups).put(update_group).delete(delete_groups))
        .route(&format!("{API}/Group/{{partitionGlobalId}}/{{groupId}}"), get(get_group).delete(delete_group))
        .route(&format!("{API}/Group/{{partitionGlobalId}}/{{groupId}}/Members"), get(list_members))
        .route(&format!("{API}/User/users/{{partitionGlobalId}}"), get(list_users))
        .route(&format!("{API}/User/{{userId}}"), get(get_user))
        .route("/identity_/api/{*rest}", any(host_level_api))
        .fallback(no_route)
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&shared), guard::guard::<Shared>))
        .with_state(shared)
}

type SharedState = State<Arc<Shared>>;

impl Refusal {
    fn into_response(self) -> Response {
        // Not documented: the bodies of these refusals were not captured (notes §10.7, §12,
        // §14.2). The sandbox answers in the envelope the Identity Server uses for its own
        // errors (§10.4), with the statuses the notes infer.
        match self {
            Refusal::UnknownGroup(id) => {
                wire::envelope(StatusCode::NOT_FOUND, &format!("Group '{id}' was not found."))
            }
            Refusal::UnknownUser(id) => {
                wire::envelope(StatusCode::NOT_FOUND, &format!("User '{id}' was not found."))
            }
            Refusal::UnknownMembers(ids) => wire::envelope(
                StatusCode::BAD_REQUEST,
                &format!("Cannot resolve users=[{}] in CIS", ids.join(",")),
            ),
            Refusal::GroupExists(what) => wire::envelope(
                StatusCode::CONFLICT,
                &format!("A group '{what}' already exists in the organization."),
            ),
            Refusal::BuiltIn(name) => wire::envelope(
                StatusCode::BAD_REQUEST,
                &format!("The built-in group '{name}' cannot be updated or deleted."),
            ),
            Refusal::Required(property) => {
                wire::invalid(property, format!("The {property} field is required."))
            }
        }
    }
}

/// Why a call failed: an answer decided before or by the organization, or the state could not
/// be saved.
enum Failure {
    Answer(Rejection),
    NotSaved(SeedError),
}

impl From<Rejection> for Failure {
    fn from(rejection: Rejection) -> Failure {
        Failure::Answer(rejection)
    }
}

impl From<Refusal> for Failure {
    fn from(refusal: Refusal) -> Failure {
        Failure::Answer(refusal.into_response().into())
    }
}

impl From<SeedError> for Failure {
    fn from(error: SeedError) -> Failure {
        Failure::NotSaved(error)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::Answer(rejection) => rejection.into_response(),
            Failure::NotSaved(error) => wire::problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "15.6.1",
                "An error occurred while processing your request.",
                Some(&format!("sandbox state not saved: {error}")),
            ),
        }
    }
}

type Answer = Result<Response, Failure>;

/// Route and query values as ASP.NET binds them: every problem is collected, and reported
/// together in one `ProblemDetails`.
#[derive(Default)]
struct Binding {
    problems: Problems,
}

impl Binding {
    fn guid(&mut self, name: &str, value: &str) -> String {
        wire::route_guid(name, value).unwrap_or_else(|_| {
            self.problem(name, format!("The value '{value}' is not valid."));
            String::new()
        })
    }

    fn int(
        &mut self,
        query: &std::collections::BTreeMap<String, String>,
        name: &str,
        default: u32,
        max: u32,
    ) -> usize {
        match wire::ranged_int(query, name, default, max) {
            Ok(n) => n as usize,
            Err((name, message)) => {
                self.problem(&name, message);
                0
            }
        }
    }

    fn problem(&mut self, name: &str, message: String) {
        self.problems.entry(name.to_string()).or_default().push(message);
    }

    fn done(self) -> Result<(), Rejection> {
        if self.problems.is_empty() { Ok(()) } else { Err(wire::validation_problem(&self.problems).into()) }
    }
}

/// `top`: default 10, at most 1000 (notes §9); `skip`: default 0, an `int`.
fn paging(binding: &mut Binding, query: &std::collections::BTreeMap<String, String>) -> (usize, usize) {
    let top = binding.int(query, "top", 10, 1000);
    let skip = binding.int(query, "skip", 0, i32::MAX.unsigned_abs());
    (top, skip)
}

/// The organization in the path: unknown ones are not served (not documented: the sandbox
/// answers 404 in the Identity Server's envelope).
fn organization(shared: &Shared, segment: &str) -> Result<(), Rejection> {
    if shared.store.read(|t| t.is_organization(segment)) {
        Ok(())
    } else {
        Err(wire::envelope(StatusCode::NOT_FOUND, &format!("Organization '{segment}' was not found.")).into())
    }
}

/// A partition (from the path or a body) that is not the organization's. Not documented
/// beyond its code: partition-scoped calls in the wrong place answer 400 `InvalidPartition`
/// (notes §2, §10.8).
fn partition(tenant: &Tenant, partition: &str) -> Result<(), Rejection> {
    if partition == tenant.partition {
        Ok(())
    } else {
        Err(wire::envelope(
            StatusCode::BAD_REQUEST,
            &format!(
                "InvalidPartition: '{partition}' is not the partition of organization '{}'.",
                tenant.organization
            ),
        )
        .into())
    }
}

fn json_command(headers: &HeaderMap, bytes: &Bytes) -> Result<Command, Rejection> {
    if !wire::is_json(headers) {
        return Err(wire::unsupported_media_type().into());
    }
    Command::parse(bytes)
}

fn ok(value: serde_json::Value) -> Response {
    axum::Json(value).into_response()
}

// ---- groups ----

async fn list_groups(State(shared): SharedState, Path((org, pid)): Path<(String, String)>) -> Answer {
    organization(&shared, &org)?;
    let mut binding = Binding::default();
    let pid = binding.guid("partitionGlobalId", &pid);
    binding.done()?;
    shared.store.read(|t| {
        partition(t, &pid)?;
        Ok(ok(t.group_list()))
    })
}

async fn get_group(
    State(shared): SharedState,
    Path((org, pid, group)): Path<(String, String, String)>,
) -> Answer {
    organization(&shared, &org)?;
    let mut binding = Binding::default();
    let pid = binding.guid("partitionGlobalId", &pid);
    let group = binding.guid("groupId", &group);
    binding.done()?;
    shared.store.read(|t| {
        partition(t, &pid)?;
        Ok(ok(t.group_record(&group)?))
    })
}

async fn list_members(
    State(shared): SharedState,
    Path((org, pid, group)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Answer {
    organization(&shared, &org)?;
    let query = wire::query(raw.as_deref());
    let mut binding = Binding::default();
    let pid = binding.guid("partitionGlobalId", &pid);
    let group = binding.guid("groupId", &group);
    let (top, skip) = paging(&mut binding, &query);
    binding.done()?;
    shared.store.read(|t| {
        partition(t, &pid)?;
        Ok(ok(t.member_page(&group, top, skip)?))
    })
}

async fn create_group(
    State(shared): SharedState,
    Path(org): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Answer {
    organization(&shared, &org)?;
    let command = json_command(&headers, &bytes)?;
    let pid = command.guid("partitionGlobalId")?.unwrap_or_default();
    let id = command.guid("id")?;
    let name = command.string("name")?;
    let members = command.guids("directoryUserMemberIDs")?.unwrap_or_default();
    // "The API rejects requests without a client-generated group ID" (notes §5.4); an empty
    // GUID is what .NET binds when there is none.
    let Some(id) = id.filter(|id| *id != uuid::Uuid::nil().to_string()) else {
        return Err(Refusal::Required("Id").into());
    };
    let Some(name) = name.filter(|n| !n.trim().is_empty()) else {
        return Err(Refusal::Required("Name").into());
    };
    let group = shared.store.write(|t| {
        partition(t, &pid)?;
        Ok::<_, Failure>(t.create_group(NewGroup { id, name, members: dedup(members) })?)
    })?;
    Ok((StatusCode::CREATED, axum::Json(group)).into_response())
}

async fn update_group(
    State(shared): SharedState,
    Path((org, group)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Answer {
    organization(&shared, &org)?;
    let mut binding = Binding::default();
    let group = binding.guid("groupId", &group);
    binding.done()?;
    let command = json_command(&headers, &bytes)?;
    let pid = command.guid("partitionGlobalId")?.unwrap_or_default();
    // "The API rejects updates without a name — it is required even for pure membership
    // edits" (notes §5.5).
    let Some(name) = command.string("name")?.filter(|n| !n.trim().is_empty()) else {
        return Err(Refusal::Required("Name").into());
    };
    let add = command.guids("directoryUserIDsToAdd")?.unwrap_or_default();
    let remove = command.guids("directoryUserIDsToRemove")?.unwrap_or_default();
    let updated = shared.store.write(|t| {
        partition(t, &pid)?;
        Ok::<_, Failure>(t.update_group(&group, &name, &dedup(add), &remove)?)
    })?;
    Ok(ok(updated))
}

async fn delete_group(
    State(shared): SharedState,
    Path((org, pid, group)): Path<(String, String, String)>,
) -> Answer {
    organization(&shared, &org)?;
    let mut binding = Binding::default();
    let pid = binding.guid("partitionGlobalId", &pid);
    let group = binding.guid("groupId", &group);
    binding.done()?;
    shared.store.write(|t| {
        partition(t, &pid)?;
        Ok::<_, Failure>(t.delete_group(&group)?)
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn delete_groups(
    State(shared): SharedState,
    Path((org, pid)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Answer {
    organization(&shared, &org)?;
    let mut binding = Binding::default();
    let pid = binding.guid("partitionGlobalId", &pid);
    binding.done()?;
    let command = json_command(&headers, &bytes)?;
    // Not documented: the spec lets `groupIDs` be null; the sandbox refuses a call that
    // names no list, which is more likely a misspelt property than a wish to delete nothing.
    let Some(ids) = command.guids("groupIDs")? else {
        return Err(Refusal::Required("GroupIDs").into());
    };
    shared.store.write(|t| {
        partition(t, &pid)?;
        Ok::<_, Failure>(t.delete_groups(&ids)?)
    })?;
    // The spec says 204; a 2024 docs page says 200 (notes §5.7). The spec wins.
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn dedup(ids: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    ids.into_iter().filter(|id| seen.insert(id.clone())).collect()
}

// ---- users ----

async fn list_users(
    State(shared): SharedState,
    Path((org, pid)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Answer {
    organization(&shared, &org)?;
    let query = wire::query(raw.as_deref());
    let mut binding = Binding::default();
    let pid = binding.guid("partitionGlobalId", &pid);
    let (top, skip) = paging(&mut binding, &query);
    let descending = match query.get("sortorder").map(|s| s.to_ascii_lowercase()) {
        None => false,
        Some(order) if order.is_empty() || order == "asc" || order == "0" => false,
        Some(order) if order == "desc" || order == "1" => true,
        Some(order) => {
            binding.problem("sortOrder", format!("The value '{order}' is not valid."));
            false
        }
    };
    binding.done()?;
    // Not documented: an unknown `sortBy` keeps the default order (the order users were
    // created in) rather than failing.
    let user_query = UserQuery {
        search: query.get("searchterm").cloned(),
        top,
        skip,
        sort_by: query.get("sortby").and_then(|s| sort_field(s)),
        descending,
    };
    shared.store.read(|t| {
        partition(t, &pid)?;
        Ok(ok(t.user_page(&user_query)))
    })
}

async fn get_user(State(shared): SharedState, Path((org, user)): Path<(String, String)>) -> Answer {
    organization(&shared, &org)?;
    let mut binding = Binding::default();
    let user = binding.guid("userId", &user);
    binding.done()?;
    shared.store.read(|t| Ok(ok(t.user_record(&user)?)))
}

// ---- the rest ----

/// Partition-scoped calls on the host-level route: refused as on organizations created since
/// 2026 ("a newer Cloud org rejects partition-scoped calls … on the host-level route with
/// `InvalidPartition`", notes §2).
async fn host_level_api() -> Response {
    wire::envelope(
        StatusCode::BAD_REQUEST,
        "InvalidPartition: call the organization's API under /{organization}/identity_/api",
    )
}

/// ASP.NET answers an unknown route with an empty 404.
async fn no_route() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

// ---- tokens ----

async fn host_token(State(shared): SharedState, headers: HeaderMap, bytes: Bytes) -> Response {
    issue_token(&shared, &headers, &bytes)
}

async fn organization_token(
    State(shared): SharedState,
    Path(org): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    match organization(&shared, &org) {
        Ok(()) => issue_token(&shared, &headers, &bytes),
        Err(rejection) => rejection.into_response(),
    }
}

/// An OAuth 2.0 error (RFC 6749 §5.2), as `IdentityServer` sends it: 400 and `{"error": …}`.
fn oauth_error(error: &str) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({"error": error}))).into_response()
}

/// `POST …/identity_/connect/token` with `grant_type=client_credentials`, `client_id`,
/// `client_secret` and space-separated `scope` (notes §3.1). Asking for a scope the
/// application was not granted is `invalid_scope`; asking for none gives every granted one.
fn issue_token(shared: &Shared, headers: &HeaderMap, bytes: &Bytes) -> Response {
    let form_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded")
    });
    if !form_type {
        return oauth_error("invalid_request");
    }
    let form: std::collections::HashMap<String, String> =
        form_urlencoded::parse(bytes).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    match field("grant_type") {
        None => return oauth_error("invalid_request"),
        Some("client_credentials") => {}
        Some(_) => return oauth_error("unsupported_grant_type"),
    }
    let (Some(client_id), Some(secret)) = (field("client_id"), field("client_secret")) else {
        return oauth_error("invalid_client");
    };
    let issued = shared.store.read(|t| {
        let client = t.client(client_id).filter(|c| c.secret == secret).ok_or("invalid_client")?;
        let requested: Vec<&str> = field("scope").unwrap_or_default().split_whitespace().collect();
        if requested.iter().any(|s| !client.scopes.iter().any(|granted| granted == s)) {
            return Err("invalid_scope");
        }
        let mut scopes: Vec<String> = if requested.is_empty() {
            client.scopes.clone()
        } else {
            requested.iter().map(ToString::to_string).collect()
        };
        scopes.sort();
        scopes.dedup();
        let now = unix_now();
        let claims =
            Claims { client_id: client.id.clone(), scopes, iat: now, exp: now + shared.token_ttl.as_secs() };
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
        let key = token::key(&t.partition, &client.id, &client.secret);
        Ok((token::issue(&claims, &key, &format!("http://{host}/identity_")), claims.scopes))
    });
    match issued {
        Err(error) => oauth_error(error),
        Ok((access_token, scopes)) => {
            let body = json!({
                "access_token": access_token,
                "expires_in": shared.token_ttl.as_secs(),
                "token_type": "Bearer",
                "scope": scopes.join(" "),
            });
            let mut response = axum::Json(body).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store, no-cache, max-age=0"));
            headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::seed::normal;
    use super::*;

    #[test]
    fn duplicates_go_and_order_stays() {
        let ids = ["b", "a", "b", "c", "a"].map(String::from).to_vec();
        assert_eq!(dedup(ids), ["b", "a", "c"]);
        assert_eq!(normal("35551807-06B1-4CDA-90A1-2FB84851EEE7"), "35551807-06b1-4cda-90a1-2fb84851eee7");
    }
}
