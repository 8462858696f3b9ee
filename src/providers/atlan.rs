//! Atlan's users, groups and roles API (`/api/service/...`), as the official SDKs use it
//! (`shared/reference/atlan-api-notes.md`).
//!
//! Reads resolve a whole file with few calls: roles once, groups by listing, users by
//! listing or by `$in` lookups (whichever is fewer calls), memberships by filtered member
//! listings. Writes use the list-shaped calls: one `POST /users/{guid}/groups` per user, one
//! `members/remove` per group, and `POST /groups` carrying the new group's first members.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::num::NonZeroU32;

use futures::StreamExt;
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::calls::{
    Finder, all_effects, matches_group, matches_user, network_outcome, network_text, outcome, text,
};
use super::http::{Body, Budget, Budgets, Http, NetworkFailure, Reply, RetryPolicy};
use super::{CallOutcome, EffectResult, Provider, ProviderError, Secret};
use crate::export::{ExportKind, Person, TenantView};
use crate::model::UserRef;
use crate::plan::{Directory, Effect, GroupInfo, GroupTarget, Needs, RoleInfo, UserInfo};

/// Atlan's documented limit: 400 requests a minute per tenant, then a one-minute block.
pub const DEFAULT_RATE_PER_MINUTE: u32 = 400;
/// Env variable of the tenant's URL, as the official SDKs name it.
pub const BASE_URL_ENV: &str = "ATLAN_BASE_URL";
/// Env variable of the API token, as the official SDKs name it.
pub const API_KEY_ENV: &str = "ATLAN_API_KEY";

/// Records per listing page. (The server's maximum is not documented; the SDKs use 20 to 100.)
const PAGE: usize = 100;
/// Values per `$in` filter, keeping URLs short.
const LOOKUP_BATCH: usize = 50;
/// Users or groups per list-shaped write.
const WRITE_BATCH: usize = 100;

/// A client of one Atlan tenant.
#[derive(Debug)]
pub struct Atlan {
    http: Http,
    authorization: HeaderValue,
    base_url: String,
}

/// One Atlan API call and the effects it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtlanCall {
    /// `POST /api/service/groups`, with the group's first members.
    CreateGroup {
        /// The create effect.
        effect: usize,
        /// Internal name.
        name: String,
        /// Attributes.
        fields: crate::model::GroupFields,
        /// Join effects folded in, with their user GUIDs.
        members: Vec<(usize, String)>,
    },
    /// `POST /api/service/users/{guid}/groups`.
    AddToGroups {
        /// User GUID.
        user: String,
        /// Join effects and their group GUIDs.
        groups: Vec<(usize, String)>,
    },
    /// `POST /api/service/groups/{guid}/members/remove`.
    RemoveMembers {
        /// Group GUID.
        group: String,
        /// Leave effects and their user GUIDs.
        users: Vec<(usize, String)>,
    },
    /// `POST /api/service/users/{guid}/roles/update`.
    SetRole {
        /// The effect.
        effect: usize,
        /// User GUID.
        user: String,
        /// Role GUID.
        role_id: String,
        /// Role name, for the results.
        role_name: String,
    },
    /// `POST /api/service/groups/{guid}`.
    UpdateGroup {
        /// The effect.
        effect: usize,
        /// Group GUID.
        id: String,
        /// Internal name, for the path Atlan requires.
        name: String,
        /// The attributes to set.
        fields: crate::model::GroupFields,
    },
    /// `POST /api/service/groups/{guid}/delete`.
    DeleteGroup {
        /// The effect.
        effect: usize,
        /// Group GUID.
        id: String,
    },
}

impl Atlan {
    /// A client of the tenant at `base_url`, spending at most `per_minute` requests a minute;
    /// once `cancel` fires, no new request is sent.
    pub fn new(
        base_url: &str,
        token: &Secret,
        per_minute: NonZeroU32,
        policy: RetryPolicy,
        cancel: CancellationToken,
    ) -> Result<Atlan, ProviderError> {
        // One budget for every request: Atlan's limit is per tenant, whatever the method.
        let budgets = Budgets::shared(Budget::per_minute(per_minute));
        // The SDKs send a fresh X-Atlan-Request-Id with every call; it is what Atlan's
        // support can trace, so roster records it in the results file.
        let http = Http::new(base_url, "X-Atlan-Request-Id", budgets, policy, cancel)
            .map_err(ProviderError::Setup)?;
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            .map_err(|_| ProviderError::Setup("the API token has characters a header can't carry".into()))?;
        // Keeps the token out of any Debug output.
        authorization.set_sensitive(true);
        Ok(Atlan { http, authorization, base_url: base_url.trim_end_matches('/').to_string() })
    }

    async fn get(&self, what: &str, path: &str, query: &[(&str, String)]) -> Result<Value, ProviderError> {
        match self.http.send(Method::GET, path, query, Body::Empty, Some(&self.authorization)).await {
            Ok(reply) if reply.is_success() => Ok(reply.json),
            Ok(reply) => Err(Atlan::read_error(what, &reply)),
            Err(failure) => Err(self.unreachable(what, &failure)),
        }
    }

    fn read_error(what: &str, reply: &Reply) -> ProviderError {
        match reply.status {
            401 => ProviderError::Unauthorized {
                platform: "Atlan",
                status: 401,
                hint: format!("the token is wrong or expired; check {API_KEY_ENV} (or --api-key-file)"),
            },
            403 => ProviderError::Unauthorized {
                platform: "Atlan",
                status: 403,
                hint: "the token may not manage users and groups; give it the $admin role (or a persona that can)".into(),
            },
            _ => ProviderError::ReadFailed { platform: "Atlan", what: what.into(), message: error_text(reply) },
        }
    }

    fn unreachable(&self, what: &str, failure: &NetworkFailure) -> ProviderError {
        ProviderError::no_answer("Atlan", &self.base_url, what, failure)
    }

    /// Every record of a listing, page by page; a page shorter than asked for is the last
    /// (one call fewer than paging to an empty page, as the SDKs do).
    async fn list_all(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<Value>, ProviderError> {
        self.list_from(what, path, query, 0).await
    }

    async fn list_from(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, String)],
        start: usize,
    ) -> Result<Vec<Value>, ProviderError> {
        let mut records = Vec::new();
        loop {
            let mut paged = query.to_vec();
            paged.push(("limit", PAGE.to_string()));
            paged.push(("offset", (start + records.len()).to_string()));
            let page = records_of(&self.get(what, path, &paged).await?);
            let last = page.len() < PAGE;
            records.extend(page);
            if last {
                return Ok(records);
            }
        }
    }

    async fn roles(&self) -> Result<Vec<RoleInfo>, ProviderError> {
        let filter = json!({"name": {"$ilike": "$%"}}).to_string();
        let records = self.list_all("roles", "/api/service/roles", &[("filter", filter)]).await?;
        Ok(records
            .iter()
            .filter_map(|r| Some(RoleInfo { id: text(r, "id")?, name: text(r, "name")? }))
            .collect())
    }

    async fn groups(&self) -> Result<Vec<GroupInfo>, ProviderError> {
        let records = self.list_all("groups", "/api/service/v2/groups", &[("sort", "name".into())]).await?;
        Ok(records.iter().filter_map(group_info).collect())
    }

    /// Users the file names: the whole listing or `$in` lookups, whichever takes fewer calls.
    async fn users(
        &self,
        wanted: &HashSet<UserRef>,
    ) -> Result<(Vec<UserInfo>, HashMap<String, usize>), ProviderError> {
        let mut found: BTreeMap<String, (UserInfo, usize)> = BTreeMap::new();
        if wanted.is_empty() {
            return Ok((Vec::new(), HashMap::new()));
        }
        let query = [
            ("sort", "username".to_string()),
            ("count", "true".into()),
            ("limit", PAGE.to_string()),
            ("offset", "0".into()),
        ];
        let first = self.get("users", "/api/service/users", &query).await?;
        let total = count(&first, "totalRecord");
        let add = |found: &mut BTreeMap<String, (UserInfo, usize)>, records: Vec<Value>| {
            for record in records {
                if let Some(user) = user_info(&record) {
                    found.insert(user.0.id.clone(), user);
                }
            }
        };
        let first_page = records_of(&first);
        let complete = first_page.len() < PAGE;
        add(&mut found, first_page);
        if !complete {
            let known = |r: &UserRef| found.values().any(|(u, _)| matches_user(u, r));
            let missing: Vec<&UserRef> = wanted.iter().filter(|r| !known(r)).collect();
            let lookups = lookup_calls(&missing);
            let listing = total.div_ceil(PAGE).saturating_sub(1);
            if listing <= lookups {
                let rest = self
                    .list_from("users", "/api/service/users", &[("sort", "username".into())], PAGE)
                    .await?;
                add(&mut found, rest);
            } else {
                for (field, values) in lookup_filters(&missing) {
                    for chunk in values.chunks(LOOKUP_BATCH) {
                        let filter = json!({field: {"$in": chunk}}).to_string();
                        let records =
                            self.list_all("users", "/api/service/users", &[("filter", filter)]).await?;
                        add(&mut found, records);
                    }
                }
            }
        }
        let group_counts = found.values().map(|(u, count)| (u.id.clone(), *count)).collect();
        Ok((found.into_values().map(|(u, _)| u).collect(), group_counts))
    }

    /// Reads the memberships of the pairs rows add or remove, from whichever side costs
    /// fewer calls: each group's members, or each user's groups, filtered to the pairs.
    async fn memberships(
        &self,
        pairs: &[(String, String)],
        groups: &[GroupInfo],
        group_counts: &HashMap<String, usize>,
    ) -> Result<HashSet<(String, String)>, ProviderError> {
        let mut by_group: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut by_user: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (group, user) in pairs {
            by_group.entry(group).or_default().push(user);
            by_user.entry(user).or_default().push(group);
        }
        let member_count =
            |g: &str| groups.iter().find(|info| info.id == g).map_or(0, |info| info.member_count);
        let group_cost: usize =
            by_group.iter().map(|(g, users)| side_cost(users.len(), member_count(g))).sum();
        let user_cost: usize = by_user
            .iter()
            .map(|(u, gs)| side_cost(gs.len(), group_counts.get(*u).copied().unwrap_or(0)))
            .sum();
        let mut members = HashSet::new();
        if group_cost <= user_cost {
            for (group, users) in by_group {
                let path = format!("/api/service/groups/{group}/members");
                for user in self.listed_ids(&path, &users, member_count(group)).await? {
                    members.insert((group.to_string(), user));
                }
            }
        } else {
            for (user, groups_of_user) in by_user {
                let path = format!("/api/service/users/{user}/groups");
                let count = group_counts.get(user).copied().unwrap_or(0);
                for group in self.listed_ids(&path, &groups_of_user, count).await? {
                    members.insert((group, user.to_string()));
                }
            }
        }
        Ok(members)
    }

    /// The ids among `wanted` that a listing contains, filtered by id when that is cheaper
    /// than listing all `total` records.
    async fn listed_ids(
        &self,
        path: &str,
        wanted: &[&str],
        total: usize,
    ) -> Result<Vec<String>, ProviderError> {
        let records = if wanted.len().div_ceil(LOOKUP_BATCH) <= total.div_ceil(PAGE).max(1) {
            let mut records = Vec::new();
            for chunk in wanted.chunks(LOOKUP_BATCH) {
                let filter = json!({"id": {"$in": chunk}}).to_string();
                records.extend(self.list_all("memberships", path, &[("filter", filter)]).await?);
            }
            records
        } else {
            self.list_all("memberships", path, &[]).await?
        };
        let wanted: HashSet<&str> = wanted.iter().copied().collect();
        Ok(records.iter().filter_map(|r| text(r, "id")).filter(|id| wanted.contains(id.as_str())).collect())
    }

    /// Every member of a group, with the group's GUID (for listings run concurrently).
    async fn members_of(&self, group: String) -> (String, Result<Vec<Value>, ProviderError>) {
        let path = format!("/api/service/groups/{group}/members");
        let members = self.list_all("group members", &path, &[("sort", "username".into())]).await;
        (group, members)
    }

    async fn post(&self, path: &str, body: Option<&Value>) -> Result<Reply, NetworkFailure> {
        let body = body.map_or(Body::Empty, Body::Json);
        self.http.send(Method::POST, path, &[], body, Some(&self.authorization)).await
    }

    async fn create_group(
        &self,
        effect: usize,
        name: &str,
        fields: &crate::model::GroupFields,
        members: &[(usize, String)],
    ) -> CallOutcome {
        let mut attributes = json!({
            "alias": [fields.alias.clone().unwrap_or_else(|| name.to_string())],
            "isDefault": [fields.is_default.unwrap_or(false).to_string()],
        });
        if let Some(description) = &fields.description {
            attributes["description"] = json!([description]);
        }
        let mut body = json!({"group": {"name": name, "attributes": attributes}});
        if !members.is_empty() {
            body["users"] = json!(members.iter().map(|(_, user)| user).collect::<Vec<_>>());
        }
        let reply = match self.post("/api/service/groups", Some(&body)).await {
            Ok(reply) => reply,
            Err(failure) => return network_outcome(all_effects(effect, members), &failure),
        };
        if reply.is_success() {
            let id = text(&reply.json, "group").unwrap_or_default();
            let mut effects = vec![(effect, EffectResult::Done(format!("created group {name} ({id})")))];
            effects.extend(members.iter().map(|(member_effect, user)| {
                let status = &reply.json["users"][user];
                let joined = status["status"].as_u64() == Some(200) || status["statusMessage"] == "success";
                let result = if joined {
                    EffectResult::Done(format!("added to the new group {name}"))
                } else {
                    let why =
                        status["statusMessage"].as_str().unwrap_or("no status for this user in the response");
                    EffectResult::Failed(format!(
                        "group {name} was created but the user was not added: {why}; rerun with --resume"
                    ))
                };
                (*member_effect, result)
            }));
            return outcome(effects, &reply);
        }
        // A retry after a lost response meets the group it created itself.
        if reply.attempts > 1 && reply.status == 400 && error_text(&reply).contains("already exists") {
            return self.confirm_created(effect, name, members, &reply).await;
        }
        let why = if error_text(&reply).contains("already exists") {
            format!(
                "{}; the group was created after this run read the tenant: use update_group to change it",
                error_text(&reply)
            )
        } else {
            failure_text(&reply)
        };
        outcome(
            all_effects(effect, members)
                .into_iter()
                .map(|e| (e, EffectResult::Failed(why.clone())))
                .collect(),
            &reply,
        )
    }

    /// After a create whose response was lost: finds the group, and adds any first member
    /// the lost call did not.
    async fn confirm_created(
        &self,
        effect: usize,
        name: &str,
        members: &[(usize, String)],
        reply: &Reply,
    ) -> CallOutcome {
        let filter = json!({"name": name}).to_string();
        let found = self
            .get("the new group", "/api/service/v2/groups", &[("filter", filter), ("limit", "1".into())])
            .await;
        let Some(id) =
            found.ok().as_ref().and_then(|page| records_of(page).first().and_then(|g| text(g, "id")))
        else {
            let why =
                "the group's creation could not be confirmed after a lost response; rerun with --resume"
                    .to_string();
            return outcome(
                all_effects(effect, members)
                    .into_iter()
                    .map(|e| (e, EffectResult::Failed(why.clone())))
                    .collect(),
                reply,
            );
        };
        let mut effects = vec![(
            effect,
            EffectResult::Done(format!("created group {name} ({id}); confirmed after a lost response")),
        )];
        let wanted: Vec<&str> = members.iter().map(|(_, user)| user.as_str()).collect();
        let path = format!("/api/service/groups/{id}/members");
        let present: HashSet<String> =
            self.listed_ids(&path, &wanted, wanted.len()).await.unwrap_or_default().into_iter().collect();
        for (member_effect, user) in members {
            let result = if present.contains(user) {
                EffectResult::Done(format!("added to the new group {name}"))
            } else {
                let body = json!({"groups": [id]});
                match self.post(&format!("/api/service/users/{user}/groups"), Some(&body)).await {
                    Ok(added) if added.is_success() => {
                        EffectResult::Done(format!("added to the new group {name}"))
                    }
                    Ok(added) => EffectResult::Failed(failure_text(&added)),
                    Err(failure) => EffectResult::Failed(network_text(&failure)),
                }
            };
            effects.push((*member_effect, result));
        }
        outcome(effects, reply)
    }

    /// A write whose every effect succeeds or fails together.
    async fn simple(
        &self,
        effects: Vec<usize>,
        path: &str,
        body: Option<&Value>,
        done: &str,
        already: Option<u16>,
    ) -> CallOutcome {
        match self.post(path, body).await {
            Ok(reply) if reply.is_success() => outcome(
                effects.into_iter().map(|e| (e, EffectResult::Done(done.to_string()))).collect(),
                &reply,
            ),
            // e.g. deleting a group that is gone: the row's wish holds.
            Ok(reply) if Some(reply.status) == already => {
                let detail = format!("{done} (it was already gone)");
                outcome(
                    effects.into_iter().map(|e| (e, EffectResult::Done(detail.clone()))).collect(),
                    &reply,
                )
            }
            Ok(reply) => {
                let why = failure_text(&reply);
                outcome(effects.into_iter().map(|e| (e, EffectResult::Failed(why.clone()))).collect(), &reply)
            }
            Err(failure) => network_outcome(effects, &failure),
        }
    }
}

impl Provider for Atlan {
    type Call = AtlanCall;

    fn name(&self) -> &'static str {
        "Atlan"
    }

    async fn snapshot(&self, needs: &Needs) -> Result<Directory, ProviderError> {
        // Roles are always read: one call, and the first, so a bad token or URL shows at once.
        let roles = self.roles().await?;
        let groups = self.groups().await?;
        let wanted: HashSet<UserRef> = needs.users.iter().cloned().collect();
        let (users, group_counts) = self.users(&wanted).await?;
        let mut directory = Directory { roles, groups, users, ..Directory::default() };
        // Groups read in full (for --sync, and for undoing deletions) answer their pairs too.
        let full: Vec<String> = needs
            .full_groups
            .iter()
            .filter_map(|wanted| directory.groups.iter().find(|g| matches_group(g, wanted)))
            .map(|g| g.id.clone())
            .collect();
        let mut known: HashSet<String> = directory.users.iter().map(|u| u.id.clone()).collect();
        for group in full {
            let (_, members) = self.members_of(group.clone()).await;
            let mut ids = Vec::new();
            for (user, _) in members?.iter().filter_map(user_info) {
                ids.push(user.id.clone());
                if known.insert(user.id.clone()) {
                    directory.users.push(user);
                }
            }
            directory.membership_known.extend(directory.users.iter().map(|u| (group.clone(), u.id.clone())));
            directory.memberships.extend(ids.iter().map(|u| (group.clone(), u.clone())));
            directory.members_of.insert(group, ids);
        }
        let finder = Finder::new(&directory.users, &directory.groups);
        let pairs: Vec<(String, String)> = needs
            .pairs
            .iter()
            .filter_map(|(group, user)| {
                Some((finder.group(group)?.id.clone(), finder.user(user)?.id.clone()))
            })
            .filter(|pair| !directory.membership_known.contains(pair))
            .collect();
        let members = self.memberships(&pairs, &directory.groups, &group_counts).await?;
        directory.memberships.extend(members);
        directory.membership_known.extend(pairs);
        Ok(directory)
    }

    async fn read_view(
        &self,
        kind: ExportKind,
        report: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<TenantView, ProviderError> {
        let mut view = TenantView::default();
        match kind {
            ExportKind::Roles => view.roles = self.roles().await?,
            ExportKind::Groups => view.groups = self.groups().await?,
            ExportKind::Users => {
                let records =
                    self.list_all("users", "/api/service/users", &[("sort", "username".into())]).await?;
                view.people = records.iter().filter_map(person).collect();
            }
            ExportKind::Memberships => {
                view.groups = self.groups().await?;
                // Members per group, never groups per user; empty groups cost nothing.
                let to_read: Vec<String> =
                    view.groups.iter().filter(|g| g.member_count > 0).map(|g| g.id.clone()).collect();
                let total = to_read.len();
                report(0, total);
                let mut people: BTreeMap<String, Person> = BTreeMap::new();
                let mut listings = std::pin::pin!(
                    futures::stream::iter(to_read)
                        .map(|group: String| self.members_of(group))
                        .buffer_unordered(4)
                );
                let mut done = 0;
                while let Some((group, members)) = listings.next().await {
                    for member in members?.iter().filter_map(person) {
                        view.memberships.push((group.clone(), member.id.clone()));
                        people.insert(member.id.clone(), member);
                    }
                    done += 1;
                    report(done, total);
                }
                view.people = people.into_values().collect();
            }
        }
        Ok(view)
    }

    fn batch(&self, effects: &[Effect]) -> Vec<AtlanCall> {
        batch(effects)
    }

    fn effects_of(call: &AtlanCall) -> Vec<usize> {
        match call {
            AtlanCall::CreateGroup { effect, members, .. } => all_effects(*effect, members),
            AtlanCall::AddToGroups { groups: items, .. } | AtlanCall::RemoveMembers { users: items, .. } => {
                items.iter().map(|(e, _)| *e).collect()
            }
            AtlanCall::SetRole { effect, .. }
            | AtlanCall::UpdateGroup { effect, .. }
            | AtlanCall::DeleteGroup { effect, .. } => {
                vec![*effect]
            }
        }
    }

    fn describe(call: &AtlanCall) -> String {
        match call {
            AtlanCall::CreateGroup { members, .. } if members.is_empty() => "POST /api/service/groups".into(),
            AtlanCall::CreateGroup { members, .. } => {
                format!("POST /api/service/groups (creating the group with {} first members)", members.len())
            }
            AtlanCall::AddToGroups { user, groups } => {
                format!("POST /api/service/users/{user}/groups ({} groups in one call)", groups.len())
            }
            AtlanCall::RemoveMembers { group, users } => {
                format!("POST /api/service/groups/{group}/members/remove ({} users in one call)", users.len())
            }
            AtlanCall::SetRole { user, role_name, .. } => {
                format!("POST /api/service/users/{user}/roles/update (to {role_name})")
            }
            AtlanCall::UpdateGroup { id, .. } => format!("POST /api/service/groups/{id}"),
            AtlanCall::DeleteGroup { id, .. } => format!("POST /api/service/groups/{id}/delete"),
        }
    }

    async fn execute(&self, call: &AtlanCall) -> CallOutcome {
        match call {
            AtlanCall::CreateGroup { effect, name, fields, members } => {
                self.create_group(*effect, name, fields, members).await
            }
            AtlanCall::AddToGroups { user, groups } => {
                let body = json!({"groups": groups.iter().map(|(_, g)| g).collect::<Vec<_>>()});
                let path = format!("/api/service/users/{user}/groups");
                self.simple(groups.iter().map(|(e, _)| *e).collect(), &path, Some(&body), "added", None).await
            }
            AtlanCall::RemoveMembers { group, users } => {
                let body = json!({"users": users.iter().map(|(_, u)| u).collect::<Vec<_>>()});
                let path = format!("/api/service/groups/{group}/members/remove");
                self.simple(users.iter().map(|(e, _)| *e).collect(), &path, Some(&body), "removed", None)
                    .await
            }
            AtlanCall::SetRole { effect, user, role_id, role_name } => {
                let body = json!({"roleId": role_id});
                let path = format!("/api/service/users/{user}/roles/update");
                self.simple(vec![*effect], &path, Some(&body), &format!("role set to {role_name}"), None)
                    .await
            }
            AtlanCall::UpdateGroup { effect, id, name, fields } => {
                let mut attributes = serde_json::Map::new();
                if let Some(alias) = &fields.alias {
                    attributes.insert("alias".into(), json!([alias]));
                }
                if let Some(description) = &fields.description {
                    attributes.insert("description".into(), json!([description]));
                }
                if let Some(is_default) = fields.is_default {
                    attributes.insert("isDefault".into(), json!([is_default.to_string()]));
                }
                // Atlan needs the GUID and the path ("/" + internal name) in the body.
                let body = json!({"id": id, "path": format!("/{name}"), "attributes": attributes});
                let updated: Vec<&str> = attributes.keys().map(String::as_str).collect();
                let done = format!("updated {}", updated.join(", "));
                self.simple(vec![*effect], &format!("/api/service/groups/{id}"), Some(&body), &done, None)
                    .await
            }
            AtlanCall::DeleteGroup { effect, id } => {
                let path = format!("/api/service/groups/{id}/delete");
                self.simple(vec![*effect], &path, None, "deleted", Some(404)).await
            }
        }
    }

    fn budgets(&self) -> &Budgets {
        self.http.budgets()
    }
}

/// Folds effects into Atlan's list-shaped calls: a new group's first members ride on its
/// create; other joins go in one call per user, leaves in one call per group.
#[must_use]
pub fn batch(effects: &[Effect]) -> Vec<AtlanCall> {
    // For each new group: its create effect, its attributes, and the joins folded in.
    type Create<'a> = (usize, &'a crate::model::GroupFields, Vec<(usize, String)>);
    let mut creates: BTreeMap<&str, Create> = BTreeMap::new();
    let mut joins: BTreeMap<&str, Vec<(usize, String)>> = BTreeMap::new();
    let mut leaves: BTreeMap<&str, Vec<(usize, String)>> = BTreeMap::new();
    let mut singles = Vec::new();
    for (index, effect) in effects.iter().enumerate() {
        if let Effect::CreateGroup { name, fields } = effect {
            creates.insert(name, (index, fields, Vec::new()));
        }
    }
    for (index, effect) in effects.iter().enumerate() {
        match effect {
            Effect::CreateGroup { .. } => {}
            Effect::Join { user, group: GroupTarget::New(name) } => {
                if let Some((_, _, members)) = creates.get_mut(name.as_str()) {
                    members.push((index, user.clone()));
                }
            }
            Effect::Join { user, group: GroupTarget::Existing(group) } => {
                joins.entry(user).or_default().push((index, group.clone()));
            }
            Effect::Leave { user, group } => leaves.entry(group).or_default().push((index, user.clone())),
            Effect::SetRole { user, role_id, role_name } => singles.push(AtlanCall::SetRole {
                effect: index,
                user: user.clone(),
                role_id: role_id.clone(),
                role_name: role_name.clone(),
            }),
            Effect::UpdateGroup { id, name, fields } => {
                singles.push(AtlanCall::UpdateGroup {
                    effect: index,
                    id: id.clone(),
                    name: name.clone(),
                    fields: fields.clone(),
                });
            }
            Effect::DeleteGroup { id } => {
                singles.push(AtlanCall::DeleteGroup { effect: index, id: id.clone() });
            }
        }
    }
    let mut calls: Vec<AtlanCall> = creates
        .into_iter()
        .map(|(name, (effect, fields, members))| AtlanCall::CreateGroup {
            effect,
            name: name.to_string(),
            fields: fields.clone(),
            members,
        })
        .collect();
    for (user, groups) in joins {
        calls.extend(
            groups
                .chunks(WRITE_BATCH)
                .map(|chunk| AtlanCall::AddToGroups { user: user.to_string(), groups: chunk.to_vec() }),
        );
    }
    for (group, users) in leaves {
        calls.extend(
            users
                .chunks(WRITE_BATCH)
                .map(|chunk| AtlanCall::RemoveMembers { group: group.to_string(), users: chunk.to_vec() }),
        );
    }
    calls.extend(singles);
    calls
}

/// Atlan's error message: Heracles' `message` with its `requestId`, else the raw body.
fn error_text(reply: &Reply) -> String {
    let message = reply.json.get("message").and_then(Value::as_str).map(String::from).or_else(|| {
        // An invite conflict is a map from email to message.
        reply.json.as_object().and_then(|o| o.values().find_map(Value::as_str).map(String::from))
    });
    let message = message.unwrap_or_else(|| reply.text.chars().take(300).collect());
    match reply.json.get("requestId").and_then(Value::as_str) {
        Some(id) => format!("HTTP {}: {message} (Atlan request id {id})", reply.status),
        None => format!("HTTP {}: {message}", reply.status),
    }
}

/// An error with what to do about it.
fn failure_text(reply: &Reply) -> String {
    let hint = match reply.status {
        400 => "check the row's values",
        401 | 403 => "check the API token and its permissions",
        404 => "the user or group no longer exists; export the tenant again",
        429 => "the tenant kept refusing for its rate limit; rerun later with --resume, or lower --rate",
        500..=599 => "the tenant kept failing; rerun with --resume to retry",
        _ => "see the message",
    };
    format!("{}; {hint}", error_text(reply))
}

fn records_of(page: &Value) -> Vec<Value> {
    page.get("records").and_then(Value::as_array).cloned().unwrap_or_default()
}

/// A count field; Atlan sends some counts as strings (roles' `memberCount`).
fn count(record: &Value, key: &str) -> usize {
    let value = record.get(key);
    let number =
        value.and_then(Value::as_u64).or_else(|| value.and_then(Value::as_str).and_then(|s| s.parse().ok()));
    number.and_then(|n| usize::try_from(n).ok()).unwrap_or(0)
}

/// Group attributes are arrays of strings: the first value counts.
fn attribute(record: &Value, key: &str) -> Option<String> {
    record.get("attributes")?.get(key)?.get(0)?.as_str().map(String::from)
}

fn group_info(record: &Value) -> Option<GroupInfo> {
    Some(GroupInfo {
        id: text(record, "id")?,
        name: text(record, "name")?,
        alias: text(record, "alias").or_else(|| attribute(record, "alias")),
        description: attribute(record, "description"),
        is_default: attribute(record, "isDefault").as_deref() == Some("true"),
        member_count: count(record, "userCount"),
    })
}

fn person(record: &Value) -> Option<Person> {
    Some(Person {
        id: text(record, "id")?,
        username: text(record, "username")?.to_lowercase(),
        email: text(record, "email").map(|e| e.to_lowercase()),
        first_name: text(record, "firstName"),
        last_name: text(record, "lastName"),
        role: text(record, "workspaceRole"),
        last_login: record.get("lastLoginTime").and_then(Value::as_i64),
        status: text(record, "status"),
        group_count: count(record, "groupCount"),
    })
}

fn user_info(record: &Value) -> Option<(UserInfo, usize)> {
    let user = UserInfo {
        id: text(record, "id")?,
        username: text(record, "username")?.to_lowercase(),
        email: text(record, "email").map(|e| e.to_lowercase()),
        role: text(record, "workspaceRole"),
    };
    Some((user, count(record, "groupCount")))
}

/// Calls to look users up by `$in` filters, one batch per field.
fn lookup_calls(missing: &[&UserRef]) -> usize {
    lookup_filters(missing).iter().map(|(_, values)| values.len().div_ceil(LOOKUP_BATCH)).sum()
}

fn lookup_filters(missing: &[&UserRef]) -> Vec<(&'static str, Vec<String>)> {
    let mut by_field: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for user in missing {
        let (field, value) = match user {
            UserRef::Id(id) => ("id", id.to_string()),
            UserRef::Email(email) => ("email", email.to_string()),
            UserRef::Username(name) => ("username", name.clone()),
        };
        by_field.entry(field).or_default().push(value);
    }
    by_field.into_iter().collect()
}

/// Calls to read `wanted` memberships of one group (or user) with `total` records: filtered
/// lookups or the whole listing, whichever is fewer.
fn side_cost(wanted: usize, total: usize) -> usize {
    wanted.div_ceil(LOOKUP_BATCH).min(total.div_ceil(PAGE).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GroupFields;

    #[test]
    fn effects_fold_into_list_shaped_calls() {
        let join = |user: &str, group: GroupTarget| Effect::Join { user: user.into(), group };
        let existing = |g: &str| GroupTarget::Existing(g.into());
        let effects = vec![
            join("u1", existing("g1")),
            join("u1", existing("g2")),
            join("u2", existing("g1")),
            Effect::Leave { user: "u3".into(), group: "g1".into() },
            Effect::Leave { user: "u4".into(), group: "g1".into() },
            Effect::CreateGroup { name: "hr".into(), fields: GroupFields::default() },
            join("u3", GroupTarget::New("hr".into())),
            Effect::DeleteGroup { id: "g9".into() },
        ];
        let calls = batch(&effects);
        assert_eq!(
            calls,
            vec![
                AtlanCall::CreateGroup {
                    effect: 5,
                    name: "hr".into(),
                    fields: GroupFields::default(),
                    members: vec![(6, "u3".into())]
                },
                AtlanCall::AddToGroups {
                    user: "u1".into(),
                    groups: vec![(0, "g1".into()), (1, "g2".into())]
                },
                AtlanCall::AddToGroups { user: "u2".into(), groups: vec![(2, "g1".into())] },
                AtlanCall::RemoveMembers {
                    group: "g1".into(),
                    users: vec![(3, "u3".into()), (4, "u4".into())]
                },
                AtlanCall::DeleteGroup { effect: 7, id: "g9".into() },
            ]
        );
        let covered: usize = calls.iter().map(|c| Atlan::effects_of(c).len()).sum();
        assert_eq!(covered, effects.len(), "every effect is carried by exactly one call");
    }

    #[test]
    fn large_batches_are_chunked() {
        let effects: Vec<Effect> =
            (0..250).map(|i| Effect::Leave { user: format!("u{i}"), group: "g".into() }).collect();
        let sizes: Vec<usize> = batch(&effects).iter().map(|c| Atlan::effects_of(c).len()).collect();
        assert_eq!(sizes, [100, 100, 50]);
    }

    #[test]
    fn reading_memberships_picks_the_cheaper_way() {
        assert_eq!(side_cost(3, 10_000), 1, "three members of a huge group: one filtered call");
        assert_eq!(side_cost(120, 30), 1, "most of a small group: list it");
        assert_eq!(side_cost(0, 0), 0);
    }
}
