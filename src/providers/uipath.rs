//! UiPath Identity Server's group and user API (`{accessURL}/{organization}/identity_/api`),
//! per `shared/reference/uipath-api-notes.md` and UiPath's OpenAPI.
//!
//! The budget is tiny (per organization per five minutes: 300 GET, 160 PUT, 160 DELETE), so
//! every add and remove of one group goes into one `PUT /api/Group/{groupId}` (chunked when
//! large), a new group carries its first members in its `POST`, and reads list with
//! `top=1000`. Tokens come from OAuth client credentials, are cached, renewed before they
//! expire, and renewed once more when a call answers 401.

use std::collections::{BTreeMap, HashSet};
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use base64::Engine;
use futures::StreamExt;
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::calls::{Finder, all_effects, failed_outcome, matches_user, network_outcome, outcome, text};
use super::http::{Body, Budget, Budgets, Http, NetworkFailure, Reply, RetryPolicy};
use super::{CallOutcome, EffectResult, Provider, ProviderError, Secret};
use crate::export::{ExportKind, Person, TenantView};
use crate::model::UserRef;
use crate::plan::{Directory, Effect, GroupInfo, GroupTarget, Needs, UserInfo};

/// Env variable of the access URL, e.g. `https://cloud.uipath.com`.
pub const URL_ENV: &str = "UIPATH_URL";
/// Env variable of the organization's name (the URL segment).
pub const ORGANIZATION_ENV: &str = "UIPATH_ORGANIZATION";
/// Env variable of the external application's id.
pub const CLIENT_ID_ENV: &str = "UIPATH_CLIENT_ID";
/// Env variable of the external application's secret.
pub const CLIENT_SECRET_ENV: &str = "UIPATH_CLIENT_SECRET";
/// Env variable of the organization's GUID.
pub const PARTITION_ENV: &str = "UIPATH_PARTITION_GLOBAL_ID";

/// The scopes roster asks for: groups and users, read and write.
pub const SCOPES: &str = "PM.Group PM.User";

/// UiPath's documented budgets per organization per five minutes.
pub const DEFAULT_BUDGETS: [(&str, u32); 4] = [("GET", 300), ("PUT", 160), ("DELETE", 160), ("POST", 24_000)];
/// The window UiPath counts requests over.
pub const BUDGET_WINDOW: Duration = Duration::from_secs(300);

/// Records per page (UiPath's maximum; more is refused).
const PAGE: usize = 1000;
/// User ids per `PUT /api/Group/{groupId}` (adds and removes together). The API documents no
/// maximum; this keeps one bad id from failing thousands of rows.
const MEMBERS_PER_PUT: usize = 500;

/// How to reach an organization.
#[derive(Debug, Clone)]
pub struct UipathConfig {
    /// The access URL, e.g. `https://cloud.uipath.com`.
    pub access_url: String,
    /// The organization's name in URLs.
    pub organization: String,
    /// The external application's id.
    pub client_id: String,
    /// Its secret.
    pub client_secret: Secret,
    /// The organization's GUID, when known; else read from the token's `prt_id` claim.
    pub partition: Option<String>,
    /// Requests per method per five minutes.
    pub budgets: Vec<(Method, NonZeroU32)>,
}

/// A cached access token.
#[derive(Debug)]
struct Token {
    header: HeaderValue,
    renew_at: Instant,
    partition: Option<String>,
}

/// A client of one UiPath organization.
#[derive(Debug)]
pub struct Uipath {
    http: Http,
    config: UipathConfig,
    token: Mutex<Option<Token>>,
    partition: std::sync::OnceLock<String>,
    /// Group names by GUID, from the last read: every `PUT` must carry the group's name.
    names: std::sync::Mutex<BTreeMap<String, String>>,
}

/// One UiPath API call and the effects it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UipathCall {
    /// `POST /api/Group` with a client-generated id, carrying the first members.
    Create {
        /// The create effect.
        effect: usize,
        /// The group's new GUID (chosen here, so a retried create can't make two).
        id: String,
        /// Its name.
        name: String,
        /// Join effects folded in, with their user GUIDs.
        members: Vec<(usize, String)>,
    },
    /// `PUT /api/Group/{groupId}`: a rename and/or a chunk of adds and removes.
    Update {
        /// Group GUID.
        group: String,
        /// The name to send (required on every update): the new one after a rename.
        name: String,
        /// The rename effect, if this call carries it.
        rename: Option<usize>,
        /// Join effects and their user GUIDs.
        adds: Vec<(usize, String)>,
        /// Leave effects and their user GUIDs.
        removes: Vec<(usize, String)>,
    },
    /// `DELETE /api/Group/{partitionGlobalId}/{groupId}`.
    Delete {
        /// The effect.
        effect: usize,
        /// Group GUID.
        id: String,
    },
}

impl Uipath {
    /// A client of the organization in `config`; once `cancel` fires, no new request is sent.
    pub fn new(
        config: UipathConfig,
        policy: RetryPolicy,
        cancel: CancellationToken,
    ) -> Result<Uipath, ProviderError> {
        let budgets = Budgets::per_method(
            config
                .budgets
                .iter()
                .map(|(method, count)| (method.clone(), Budget::per_window(*count, BUDGET_WINDOW)))
                .collect(),
        );
        let base = format!("{}/{}/identity_", config.access_url.trim_end_matches('/'), config.organization);
        // UiPath's clients send no request id header of their own; roster's lets a run's
        // calls be matched with the results file.
        let http = Http::new(&base, "X-Request-Id", budgets, policy, cancel).map_err(ProviderError::Setup)?;
        let partition = std::sync::OnceLock::new();
        if let Some(known) = &config.partition {
            let _ = partition.set(known.clone());
        }
        Ok(Uipath { http, config, token: Mutex::new(None), partition, names: std::sync::Mutex::default() })
    }

    /// The budgets per method, from `GET=300,PUT=160,...` (per five minutes).
    pub fn parse_budgets(text: &str) -> Result<Vec<(Method, NonZeroU32)>, String> {
        let mut budgets: Vec<(Method, NonZeroU32)> = DEFAULT_BUDGETS
            .iter()
            .map(|(m, n)| {
                (Method::from_bytes(m.as_bytes()).expect("a method"), NonZeroU32::new(*n).expect("non-zero"))
            })
            .collect();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (method, count) =
                part.split_once('=').ok_or_else(|| format!("{part:?} is not METHOD=N (e.g. PUT=160)"))?;
            let method = Method::from_bytes(method.trim().to_ascii_uppercase().as_bytes())
                .map_err(|_| format!("{method:?} is not an HTTP method"))?;
            let count = count
                .trim()
                .parse::<NonZeroU32>()
                .map_err(|_| format!("{count:?} in {part:?} is not a positive whole number"))?;
            budgets.retain(|(m, _)| *m != method);
            budgets.push((method, count));
        }
        Ok(budgets)
    }

    /// The current token, fetched or renewed when it is about to expire.
    async fn authorization(&self, renew: bool) -> Result<HeaderValue, ProviderError> {
        let mut token = self.token.lock().await;
        if let Some(current) = token.as_ref().filter(|t| !renew && t.renew_at > Instant::now()) {
            return Ok(current.header.clone());
        }
        let fresh = self.fetch_token().await?;
        if let Some(partition) = &fresh.partition {
            let _ = self.partition.set(partition.clone());
        }
        let header = fresh.header.clone();
        *token = Some(fresh);
        Ok(header)
    }

    async fn fetch_token(&self) -> Result<Token, ProviderError> {
        let credentials = [
            ("grant_type", "client_credentials"),
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.config.client_secret.expose()),
        ];
        let scoped: Vec<(&str, &str)> = credentials.iter().copied().chain([("scope", SCOPES)]).collect();
        let mut reply = self.request_token(&scoped).await?;
        // An application granted less (e.g. only the .Read scopes) is refused the full set:
        // asking for no scope gets whatever it was granted, enough to export, and writes it
        // may not make fail row by row with the platform's 403.
        if reply.json.get("error").and_then(Value::as_str) == Some("invalid_scope") {
            let unscoped = self.request_token(&credentials).await?;
            if unscoped.is_success() {
                reply = unscoped;
            }
        }
        if !reply.is_success() {
            let error = reply.json.get("error").and_then(Value::as_str).unwrap_or_default();
            let hint = match error {
                "invalid_client" => format!("check {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV}"),
                "invalid_scope" => {
                    format!(
                        "give the external application the scopes {SCOPES} (application scope, confidential app)"
                    )
                }
                _ => format!("the token endpoint answered {}", error_text(&reply)),
            };
            return Err(ProviderError::Unauthorized { platform: "UiPath", status: reply.status, hint });
        }
        let access = reply.json.get("access_token").and_then(Value::as_str).unwrap_or_default();
        let lifetime =
            Duration::from_secs(reply.json.get("expires_in").and_then(Value::as_u64).unwrap_or(3600));
        // Renew ahead of expiry (two minutes, as uipathcli does; a quarter of short lifetimes),
        // so no call goes out with a token about to lapse.
        let margin = Duration::from_secs(120).min(lifetime / 4);
        let mut header = HeaderValue::from_str(&format!("Bearer {access}"))
            .map_err(|_| ProviderError::Setup("the token endpoint returned an unusable token".into()))?;
        header.set_sensitive(true);
        let renew_at = Instant::now() + lifetime.saturating_sub(margin);
        Ok(Token { header, renew_at, partition: partition_claim(access) })
    }

    async fn request_token(&self, form: &[(&str, &str)]) -> Result<Reply, ProviderError> {
        self.http
            .send(Method::POST, "/connect/token", &[], Body::Form(form), None)
            .await
            .map_err(|failure| self.unreachable("an access token", &failure))
    }

    /// Sends a call with the token, renewing it once if the organization says 401.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Body<'_>,
    ) -> Result<Reply, Sent> {
        let authorization = self.authorization(false).await.map_err(Sent::Fatal)?;
        let reply = self
            .http
            .send(method.clone(), path, query, body, Some(&authorization))
            .await
            .map_err(Sent::Network)?;
        if reply.status != 401 {
            return Ok(reply);
        }
        let authorization = self.authorization(true).await.map_err(Sent::Fatal)?;
        self.http.send(method, path, query, body, Some(&authorization)).await.map_err(Sent::Network)
    }

    fn partition(&self) -> Result<&str, ProviderError> {
        self.partition.get().map(String::as_str).ok_or_else(|| {
            ProviderError::Setup(format!(
                "the organization's GUID is unknown: set {PARTITION_ENV} (it is in the admin portal's URLs), since the token carries no prt_id claim"
            ))
        })
    }

    async fn get(&self, what: &str, path: &str, query: &[(&str, String)]) -> Result<Value, ProviderError> {
        match self.send(Method::GET, path, query, Body::Empty).await {
            Ok(reply) if reply.is_success() => Ok(reply.json),
            Ok(reply) => Err(read_error(what, &reply)),
            Err(Sent::Fatal(error)) => Err(error),
            Err(Sent::Network(failure)) => Err(self.unreachable(what, &failure)),
        }
    }

    fn unreachable(&self, what: &str, failure: &NetworkFailure) -> ProviderError {
        ProviderError::no_answer("UiPath", &self.config.access_url, what, failure)
    }

    /// Every record of a `{totalCount, results}` listing, `top=1000` a page.
    async fn list_paged(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<Value>, ProviderError> {
        let mut records = Vec::new();
        loop {
            let mut paged = query.to_vec();
            paged.push(("top", PAGE.to_string()));
            paged.push(("skip", records.len().to_string()));
            let page = self.get(what, path, &paged).await?;
            let results = page.get("results").and_then(Value::as_array).cloned().unwrap_or_default();
            let total = page
                .get("totalCount")
                .and_then(Value::as_u64)
                .map_or(usize::MAX, |t| usize::try_from(t).unwrap_or(usize::MAX));
            let last = results.len() < PAGE;
            records.extend(results);
            // Advance by what came back; stop on a short page or once the total is reached.
            if last || records.len() >= total {
                return Ok(records);
            }
        }
    }

    async fn groups(&self) -> Result<Vec<(GroupInfo, bool)>, ProviderError> {
        let path = format!("/api/Group/{}", self.partition()?);
        let listing = self.get("groups", &path, &[]).await?;
        Ok(listing.as_array().into_iter().flatten().filter_map(group_info).collect())
    }

    async fn users(&self) -> Result<Vec<Value>, ProviderError> {
        let path = format!("/api/User/users/{}", self.partition()?);
        self.list_paged("users", &path, &[]).await
    }

    /// Users the file names: the whole listing, or one search per user, whichever takes
    /// fewer calls (the first page tells how many users there are).
    async fn users_named(&self, wanted: &[UserRef]) -> Result<Vec<UserInfo>, ProviderError> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let path = format!("/api/User/users/{}", self.partition()?);
        let first = self.get("users", &path, &[("top", PAGE.to_string()), ("skip", "0".into())]).await?;
        let total = first.get("totalCount").and_then(Value::as_u64).unwrap_or(0);
        let mut found: Vec<UserInfo> = first
            .get("results")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(user_info)
            .collect();
        if (found.len() as u64) < total {
            let missing: Vec<&UserRef> =
                wanted.iter().filter(|r| !found.iter().any(|u| matches_user(u, r))).collect();
            let pages_left = usize::try_from(total).unwrap_or(usize::MAX).div_ceil(PAGE) - 1;
            if pages_left <= missing.len() {
                found = self.users().await?.iter().filter_map(user_info).collect();
            } else {
                for user in missing {
                    let term = match user {
                        UserRef::Id(id) => id.to_string(),
                        UserRef::Email(email) => email.to_string(),
                        UserRef::Username(name) => name.clone(),
                    };
                    let hits = self.list_paged("users", &path, &[("searchTerm", term)]).await?;
                    // searchTerm is a contains match on name, email and username: keep exact hits.
                    found.extend(hits.iter().filter_map(user_info).filter(|u| matches_user(u, user)));
                }
            }
        }
        Ok(found)
    }

    /// Every member (user GUIDs) of a group.
    async fn members(&self, group: String) -> (String, Result<Vec<String>, ProviderError>) {
        let members = match self.partition() {
            Ok(partition) => {
                let path = format!("/api/Group/{partition}/{group}/Members");
                self.list_paged("group members", &path, &[])
                    .await
                    .map(|records| records.iter().filter_map(|r| text(r, "id")).collect())
            }
            Err(error) => Err(error),
        };
        (group, members)
    }

    async fn write(&self, method: Method, path: &str, body: Body<'_>) -> Result<Reply, NetworkFailure> {
        match self.send(method, path, &[], body).await {
            Ok(reply) => Ok(reply),
            Err(Sent::Network(failure)) => Err(failure),
            Err(Sent::Fatal(error)) => Err(NetworkFailure {
                message: error.to_string(),
                attempts: 1,
                request_id: String::new(),
                connect: false,
            }),
        }
    }

    async fn create(&self, effect: usize, id: &str, name: &str, members: &[(usize, String)]) -> CallOutcome {
        let partition = match self.partition() {
            Ok(partition) => partition.to_string(),
            Err(error) => return failed_outcome(all_effects(effect, members), &error.to_string()),
        };
        let body = json!({
            "partitionGlobalId": partition,
            "id": id,
            "name": name,
            "directoryUserMemberIDs": members.iter().map(|(_, u)| u).collect::<Vec<_>>(),
        });
        let reply = match self.write(Method::POST, "/api/Group", Body::Json(&body)).await {
            Ok(reply) => reply,
            Err(failure) => return network_outcome(all_effects(effect, members), &failure),
        };
        if reply.is_success() {
            let mut effects = vec![(effect, EffectResult::Done(format!("created group {name} ({id})")))];
            effects.extend(
                members
                    .iter()
                    .map(|(e, _)| (*e, EffectResult::Done(format!("added to the new group {name}")))),
            );
            return outcome(effects, &reply);
        }
        // A retry after a lost response meets its own group: the id was chosen here.
        if reply.attempts > 1 {
            let path = format!("/api/Group/{partition}/{id}");
            if self.get("the new group", &path, &[]).await.is_ok() {
                let mut effects = vec![(
                    effect,
                    EffectResult::Done(format!(
                        "created group {name} ({id}); confirmed after a lost response"
                    )),
                )];
                effects.extend(
                    members
                        .iter()
                        .map(|(e, _)| (*e, EffectResult::Done(format!("added to the new group {name}")))),
                );
                return outcome(effects, &reply);
            }
        }
        let why = failure_text(&reply);
        outcome(
            all_effects(effect, members)
                .into_iter()
                .map(|e| (e, EffectResult::Failed(why.clone())))
                .collect(),
            &reply,
        )
    }

    async fn update(
        &self,
        group: &str,
        name: &str,
        rename: Option<usize>,
        adds: &[(usize, String)],
        removes: &[(usize, String)],
    ) -> CallOutcome {
        let effects: Vec<usize> = rename
            .into_iter()
            .chain(adds.iter().map(|(e, _)| *e))
            .chain(removes.iter().map(|(e, _)| *e))
            .collect();
        let partition = match self.partition() {
            Ok(partition) => partition.to_string(),
            Err(error) => return failed_outcome(effects, &error.to_string()),
        };
        // `name` is required on every update, even one that only changes members.
        let body = json!({
            "partitionGlobalId": partition,
            "name": name,
            "directoryUserIDsToAdd": adds.iter().map(|(_, u)| u).collect::<Vec<_>>(),
            "directoryUserIDsToRemove": removes.iter().map(|(_, u)| u).collect::<Vec<_>>(),
        });
        match self.write(Method::PUT, &format!("/api/Group/{group}"), Body::Json(&body)).await {
            Ok(reply) if reply.is_success() => {
                let mut done = Vec::new();
                done.extend(rename.map(|e| (e, EffectResult::Done(format!("renamed to {name}")))));
                done.extend(adds.iter().map(|(e, _)| (*e, EffectResult::Done("added".into()))));
                done.extend(removes.iter().map(|(e, _)| (*e, EffectResult::Done("removed".into()))));
                outcome(done, &reply)
            }
            Ok(reply) => {
                let why = failure_text(&reply);
                outcome(effects.into_iter().map(|e| (e, EffectResult::Failed(why.clone()))).collect(), &reply)
            }
            Err(failure) => network_outcome(effects, &failure),
        }
    }

    async fn delete(&self, effect: usize, id: &str) -> CallOutcome {
        let partition = match self.partition() {
            Ok(partition) => partition.to_string(),
            Err(error) => return failed_outcome(vec![effect], &error.to_string()),
        };
        match self.write(Method::DELETE, &format!("/api/Group/{partition}/{id}"), Body::Empty).await {
            Ok(reply) if reply.is_success() => {
                outcome(vec![(effect, EffectResult::Done("deleted".into()))], &reply)
            }
            // Gone already (e.g. deleted by a call whose response was lost): the row's wish holds.
            Ok(reply) if reply.status == 404 => {
                outcome(vec![(effect, EffectResult::Done("deleted (it was already gone)".into()))], &reply)
            }
            Ok(reply) => outcome(vec![(effect, EffectResult::Failed(failure_text(&reply)))], &reply),
            Err(failure) => network_outcome(vec![effect], &failure),
        }
    }
}

/// Why a call got no usable reply.
enum Sent {
    /// No token could be had: the run can't go on.
    Fatal(ProviderError),
    /// The network failed.
    Network(NetworkFailure),
}

impl Provider for Uipath {
    type Call = UipathCall;

    fn name(&self) -> &'static str {
        "UiPath"
    }

    async fn snapshot(&self, needs: &Needs) -> Result<Directory, ProviderError> {
        // The token first: it is the credentials check, and it may carry the organization's GUID.
        self.authorization(false).await?;
        let groups = self.groups().await?;
        *self.names.lock().expect("not poisoned") =
            groups.iter().map(|(g, _)| (g.id.clone(), g.name.clone())).collect();
        let wanted: Vec<UserRef> = needs.users.iter().cloned().collect();
        let users = self.users_named(&wanted).await?;
        let mut directory = Directory {
            read_only_groups: groups
                .iter()
                .filter(|(_, built_in)| *built_in)
                .map(|(g, _)| g.id.clone())
                .collect(),
            groups: groups.into_iter().map(|(g, _)| g).collect(),
            users,
            ..Directory::default()
        };
        // Members are read per group (UiPath has no filtered member lookup): the groups of
        // the pairs rows add or remove, and those read in full.
        let finder = Finder::new(&directory.users, &directory.groups);
        let mut to_read: Vec<String> = needs
            .pairs
            .iter()
            .map(|(group, _)| group)
            .chain(&needs.full_groups)
            .filter_map(|group| finder.group(group).map(|g| g.id.clone()))
            .collect();
        to_read.sort();
        to_read.dedup();
        let known: HashSet<String> = directory.users.iter().map(|u| u.id.clone()).collect();
        let mut unknown_members = HashSet::new();
        for group in to_read {
            let (group, members) = self.members(group).await;
            let members = members?;
            for user in &directory.users {
                directory.membership_known.insert((group.clone(), user.id.clone()));
            }
            for member in &members {
                directory.memberships.insert((group.clone(), member.clone()));
                if !known.contains(member) {
                    unknown_members.insert(member.clone());
                }
            }
            directory.members_of.insert(group, members);
        }
        // Members not named by the file (for --sync and undo) need a username in results.
        for member in unknown_members {
            if let Ok(record) = self.get("a user", &format!("/api/User/{member}"), &[]).await
                && let Some(user) = user_info(&record)
            {
                directory.users.push(user);
            }
        }
        Ok(directory)
    }

    async fn read_view(
        &self,
        kind: ExportKind,
        report: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<TenantView, ProviderError> {
        self.authorization(false).await?;
        let mut view = TenantView::default();
        match kind {
            // UiPath's organization-level API has no workspace roles.
            ExportKind::Roles => {}
            ExportKind::Groups => view.groups = self.groups().await?.into_iter().map(|(g, _)| g).collect(),
            ExportKind::Users => view.people = self.users().await?.iter().filter_map(person).collect(),
            ExportKind::Memberships => {
                let groups: Vec<(GroupInfo, bool)> = self.groups().await?;
                view.people = self.users().await?.iter().filter_map(person).collect();
                // Everyone's membership is implicit and reports no members: skip it.
                let to_read: Vec<String> = groups
                    .iter()
                    .filter(|(g, built_in)| !(*built_in && g.name.eq_ignore_ascii_case("Everyone")))
                    .map(|(g, _)| g.id.clone())
                    .collect();
                let total = to_read.len();
                report(0, total);
                let mut listings = std::pin::pin!(
                    futures::stream::iter(to_read)
                        .map(|group: String| self.members(group))
                        .buffer_unordered(2)
                );
                let mut done = 0;
                while let Some((group, members)) = listings.next().await {
                    view.memberships.extend(members?.into_iter().map(|user| (group.clone(), user)));
                    done += 1;
                    report(done, total);
                }
                view.groups = groups.into_iter().map(|(g, _)| g).collect();
            }
        }
        Ok(view)
    }

    fn batch(&self, effects: &[Effect]) -> Vec<UipathCall> {
        batch(effects, &self.names.lock().expect("not poisoned"))
    }

    fn effects_of(call: &UipathCall) -> Vec<usize> {
        match call {
            UipathCall::Create { effect, members, .. } => all_effects(*effect, members),
            UipathCall::Update { rename, adds, removes, .. } => {
                rename.iter().copied().chain(adds.iter().chain(removes).map(|(e, _)| *e)).collect()
            }
            UipathCall::Delete { effect, .. } => vec![*effect],
        }
    }

    fn describe(call: &UipathCall) -> String {
        match call {
            UipathCall::Create { members, .. } => {
                format!("POST /api/Group (creating the group with {} first members)", members.len())
            }
            UipathCall::Update { group, adds, removes, .. } => format!(
                "PUT /api/Group/{group} ({} adds and {} removes in one call)",
                adds.len(),
                removes.len()
            ),
            UipathCall::Delete { id, .. } => format!("DELETE /api/Group/{{partitionGlobalId}}/{id}"),
        }
    }

    async fn execute(&self, call: &UipathCall) -> CallOutcome {
        match call {
            UipathCall::Create { effect, id, name, members } => self.create(*effect, id, name, members).await,
            UipathCall::Update { group, name, rename, adds, removes } => {
                self.update(group, name, *rename, adds, removes).await
            }
            UipathCall::Delete { effect, id } => self.delete(*effect, id).await,
        }
    }

    fn budgets(&self) -> &Budgets {
        self.http.budgets()
    }
}

/// Folds effects into UiPath's calls: everything that happens to one existing group (its
/// rename, adds and removes) in one `PUT` per chunk, a new group's first members in its
/// `POST`, and each deletion on its own. `names` gives groups' current names, which every
/// `PUT` must carry.
#[must_use]
pub fn batch(effects: &[Effect], names: &BTreeMap<String, String>) -> Vec<UipathCall> {
    #[derive(Default)]
    struct Changes {
        new_name: Option<String>,
        rename: Option<usize>,
        items: Vec<(bool, (usize, String))>,
    }
    // For each new group: its create effect and the joins folded in.
    type Create = (usize, Vec<(usize, String)>);
    let mut creates: BTreeMap<&str, Create> = BTreeMap::new();
    for (index, effect) in effects.iter().enumerate() {
        if let Effect::CreateGroup { name, .. } = effect {
            creates.insert(name, (index, Vec::new()));
        }
    }
    let mut groups: BTreeMap<String, Changes> = BTreeMap::new();
    let mut deletes = Vec::new();
    for (index, effect) in effects.iter().enumerate() {
        match effect {
            Effect::Join { user, group: GroupTarget::New(name) } => {
                if let Some((_, members)) = creates.get_mut(name.as_str()) {
                    members.push((index, user.clone()));
                }
            }
            Effect::Join { user, group: GroupTarget::Existing(group) } => {
                groups.entry(group.clone()).or_default().items.push((true, (index, user.clone())));
            }
            Effect::Leave { user, group } => {
                groups.entry(group.clone()).or_default().items.push((false, (index, user.clone())));
            }
            Effect::UpdateGroup { id, fields, .. } => {
                let changes = groups.entry(id.clone()).or_default();
                changes.rename = Some(index);
                changes.new_name = fields.new_name.as_ref().map(ToString::to_string);
            }
            Effect::DeleteGroup { id } => deletes.push(UipathCall::Delete { effect: index, id: id.clone() }),
            Effect::CreateGroup { .. } | Effect::SetRole { .. } => {}
        }
    }
    let mut calls: Vec<UipathCall> = creates
        .into_iter()
        .map(|(name, (effect, members))| UipathCall::Create {
            effect,
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            members,
        })
        .collect();
    for (group, mut changes) in groups {
        let name = changes.new_name.clone().or_else(|| names.get(&group).cloned()).unwrap_or_default();
        let mut rename = changes.rename;
        loop {
            let take = changes.items.len().min(MEMBERS_PER_PUT);
            let (adds, removes): (Vec<_>, Vec<_>) = changes.items.drain(..take).partition(|(add, _)| *add);
            calls.push(UipathCall::Update {
                group: group.clone(),
                name: name.clone(),
                rename: rename.take(),
                adds: adds.into_iter().map(|(_, a)| a).collect(),
                removes: removes.into_iter().map(|(_, r)| r).collect(),
            });
            if changes.items.is_empty() {
                break;
            }
        }
    }
    calls.extend(deletes);
    calls
}

/// The `prt_id` claim of a JWT (the organization's GUID), if the token carries one. The
/// token is not verified: it only tells the client where to send calls the server checks.
fn partition_claim(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("prt_id").and_then(Value::as_str).map(String::from)
}

/// UiPath's error message, from whichever of its shapes came back (notes §10): ASP.NET
/// problem details (`title` and `errors`), an identity result (`errors[].description`),
/// `Message`, `errorMessage`, or OAuth's `error`.
fn error_text(reply: &Reply) -> String {
    let json = &reply.json;
    let problems: Vec<String> = json
        .get("errors")
        .and_then(Value::as_object)
        .map(|errors| {
            errors
                .iter()
                .flat_map(|(field, messages)| {
                    messages
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(move |m| format!("{field}: {m}"))
                })
                .collect()
        })
        .unwrap_or_default();
    let message = if problems.is_empty() {
        ["errorMessage", "Message", "message", "title", "error_description", "error"]
            .iter()
            .find_map(|key| json.get(*key).and_then(Value::as_str).map(String::from))
            .or_else(|| {
                json.pointer("/errors/0/description")
                    .or_else(|| json.pointer("/result/errors/0/description"))
                    .and_then(Value::as_str)
                    .map(String::from)
            })
            .unwrap_or_else(|| reply.text.chars().take(300).collect())
    } else {
        problems.join("; ")
    };
    format!("HTTP {}: {message}", reply.status)
}

fn failure_text(reply: &Reply) -> String {
    let hint = match reply.status {
        400 => "check the row's values",
        401 => "the token was refused; check the external application's credentials",
        403 => "the external application lacks a scope; give it PM.Group and PM.User",
        404 => "the group or user no longer exists; export again",
        429 => "the organization's budget is spent; rerun later with --resume",
        500..=599 => "UiPath kept failing; rerun with --resume to retry",
        _ => "see the message",
    };
    format!("{}; {hint}", error_text(reply))
}

fn read_error(what: &str, reply: &Reply) -> ProviderError {
    match reply.status {
        401 => ProviderError::Unauthorized {
            platform: "UiPath",
            status: 401,
            hint: format!("the access token was refused; check {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV}"),
        },
        403 => ProviderError::Unauthorized {
            platform: "UiPath",
            status: 403,
            hint: format!("{}; give the external application the scopes {SCOPES}", error_text(reply)),
        },
        _ => ProviderError::ReadFailed { platform: "UiPath", what: what.into(), message: error_text(reply) },
    }
}

/// A group and whether it is built in (type 0: Everyone, Administrators, ...).
fn group_info(record: &Value) -> Option<(GroupInfo, bool)> {
    let info = GroupInfo {
        id: text(record, "id")?.to_lowercase(),
        name: text(record, "name")?,
        alias: None,
        description: None,
        is_default: false,
        member_count: 0,
    };
    // Enums are integers on the wire, though the OpenAPI says strings: accept both.
    let built_in = record.get("type").is_some_and(|t| {
        t.as_u64() == Some(0) || t.as_str().is_some_and(|s| s.eq_ignore_ascii_case("builtIn"))
    });
    Some((info, built_in))
}

fn user_info(record: &Value) -> Option<UserInfo> {
    Some(UserInfo {
        id: text(record, "id")?.to_lowercase(),
        username: text(record, "userName")?.to_lowercase(),
        email: text(record, "email").filter(|e| !e.is_empty()).map(|e| e.to_lowercase()),
        role: None,
    })
}

fn person(record: &Value) -> Option<Person> {
    let user = user_info(record)?;
    let status = match (
        record.get("isActive").and_then(Value::as_bool),
        record.get("invitationAccepted").and_then(Value::as_bool),
    ) {
        (Some(false), _) => "Inactive",
        (_, Some(false)) => "Invited",
        _ => "Active",
    };
    Some(Person {
        id: user.id,
        username: user.username,
        email: user.email,
        first_name: text(record, "name"),
        last_name: text(record, "surname"),
        role: None,
        last_login: record.get("lastLoginTime").and_then(Value::as_str).and_then(epoch_ms),
        status: Some(status.into()),
        group_count: record.get("groupIDs").and_then(Value::as_array).map_or(0, Vec::len),
    })
}

/// A .NET timestamp (`2026-07-07T08:10:28.66354`, UTC, with or without `Z`) as epoch
/// milliseconds.
fn epoch_ms(text: &str) -> Option<i64> {
    let text = text.trim_end_matches('Z');
    let (date, time) = text.split_once('T')?;
    let mut date = date.split('-').map(str::parse::<i64>);
    let (year, month, day) = (date.next()?.ok()?, date.next()?.ok()?, date.next()?.ok()?);
    let (clock, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut clock = clock.split(':').map(str::parse::<i64>);
    let (hour, minute, second) = (clock.next()?.ok()?, clock.next()?.ok()?, clock.next()?.ok()?);
    let millis: i64 = format!("{fraction:0<3}")[..3].parse().ok()?;
    // Days from 1970-01-01 (Howard Hinnant's `days_from_civil`).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GroupFields;

    #[test]
    fn every_change_to_a_group_goes_in_one_put_per_chunk() {
        let effects = vec![
            Effect::Join { user: "u1".into(), group: GroupTarget::Existing("g1".into()) },
            Effect::Leave { user: "u2".into(), group: "g1".into() },
            Effect::Join { user: "u3".into(), group: GroupTarget::Existing("g2".into()) },
            Effect::CreateGroup { name: "New Team".into(), fields: GroupFields::default() },
            Effect::Join { user: "u4".into(), group: GroupTarget::New("New Team".into()) },
            Effect::DeleteGroup { id: "g9".into() },
        ];
        let names =
            BTreeMap::from([("g1".to_string(), "Sales".to_string()), ("g2".to_string(), "Ops".to_string())]);
        let calls = batch(&effects, &names);
        assert!(
            matches!(&calls[1], UipathCall::Update { name, .. } if name == "Sales"),
            "every PUT carries the name"
        );
        let kinds: Vec<String> = calls
            .iter()
            .map(|c| match c {
                UipathCall::Create { name, members, .. } => format!("create {name} {}", members.len()),
                UipathCall::Update { group, adds, removes, .. } => {
                    format!("put {group} +{} -{}", adds.len(), removes.len())
                }
                UipathCall::Delete { id, .. } => format!("delete {id}"),
            })
            .collect();
        assert_eq!(kinds, ["create New Team 1", "put g1 +1 -1", "put g2 +1 -0", "delete g9"]);
        let carried: usize = calls.iter().map(|c| Uipath::effects_of(c).len()).sum();
        assert_eq!(carried, effects.len());
    }

    #[test]
    fn large_membership_changes_are_chunked() {
        let effects: Vec<Effect> = (0..1200)
            .map(|i| Effect::Join { user: format!("u{i}"), group: GroupTarget::Existing("g".into()) })
            .collect();
        let sizes: Vec<usize> =
            batch(&effects, &BTreeMap::new()).iter().map(|c| Uipath::effects_of(c).len()).collect();
        assert_eq!(sizes, [500, 500, 200]);
    }

    #[test]
    fn budgets_default_to_uipaths_and_can_be_overridden() {
        let budgets = Uipath::parse_budgets("put=20, GET=50").unwrap();
        let count = |m: &str| budgets.iter().find(|(x, _)| x.as_str() == m).map(|(_, n)| n.get());
        assert_eq!((count("GET"), count("PUT"), count("DELETE")), (Some(50), Some(20), Some(160)));
        assert!(Uipath::parse_budgets("PUT=0").is_err());
        assert!(Uipath::parse_budgets("PUT").is_err());
    }

    #[test]
    fn dotnet_timestamps_read_as_utc() {
        assert_eq!(epoch_ms("1970-01-01T00:00:00"), Some(0));
        assert_eq!(epoch_ms("2025-11-20T12:00:00.5Z"), Some(1_763_640_000_500));
        assert_eq!(
            epoch_ms("2026-07-07T08:10:28.66354").map(crate::export::iso_date_time).as_deref(),
            Some("2026-07-07T08:10:28Z")
        );
        assert_eq!(epoch_ms("yesterday"), None);
    }

    #[test]
    fn the_partition_comes_from_the_tokens_prt_id_claim() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"prt_id":"3fa85f64-5717-4562-b3fc-2c963f66afa6"}"#);
        assert_eq!(
            partition_claim(&format!("h.{payload}.s")).as_deref(),
            Some("3fa85f64-5717-4562-b3fc-2c963f66afa6")
        );
        assert_eq!(partition_claim("opaque-token"), None);
    }
}
