//! The emulated organization in memory: users, groups and memberships, the applications
//! that may get tokens, and the changes the group API can make, with the rules the Identity
//! Server enforces (`shared/reference/uipath-api-notes.md` §4, §5, §6.1-6.2, §12).
//!
//! Records are rendered here in the wire shape (camelCase, integer enums, .NET timestamps).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Value, json};

use super::seed::{
    ADMINISTRATORS, ADMINISTRATORS_ID, BUILT_IN, CUSTOM, EVERYONE, EVERYONE_ID, Seed, SeedClient, SeedGroup,
    SeedUser, normal,
};
use super::wire;
use crate::sandbox::store::Model;

/// Why a change or a read was refused; the routes turn each into the Identity Server's answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No group with that id in the organization.
    UnknownGroup(String),
    /// No user with that id in the organization.
    UnknownUser(String),
    /// Member ids that are not users of the organization.
    UnknownMembers(Vec<String>),
    /// Another group has that name (case-insensitively), or that id.
    GroupExists(String),
    /// Built-in groups can't be changed or deleted.
    BuiltIn(String),
    /// A required property is missing or empty: `ProblemDetails` keyed by its name.
    Required(&'static str),
}

/// The organization's state.
#[derive(Debug, Clone)]
pub(crate) struct Tenant {
    pub(crate) organization: String,
    pub(crate) partition: String,
    pub(crate) clients: Vec<SeedClient>,
    /// In the order they were created, which is the default order of the users list.
    users: Vec<SeedUser>,
    /// User id → position in `users` (users are only read: the sandbox serves no user writes).
    user_index: HashMap<String, usize>,
    /// In the order they were created, which is the order of the groups list.
    groups: Vec<SeedGroup>,
    /// Group id → member user ids (the groups' own `members` are left empty).
    members: BTreeMap<String, BTreeSet<String>>,
}

/// A group to create.
#[derive(Debug)]
pub(crate) struct NewGroup {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) members: Vec<String>,
}

/// The users list's query, bound and checked.
#[derive(Debug, Default)]
pub(crate) struct UserQuery {
    pub(crate) search: Option<String>,
    pub(crate) top: usize,
    pub(crate) skip: usize,
    /// The `UserDto` property to sort by; `None` for the default order.
    pub(crate) sort_by: Option<&'static str>,
    pub(crate) descending: bool,
}

/// `sortBy` values (case-insensitive) and the `UserDto` property each sorts on; others are
/// ignored, which keeps the default order.
const SORTABLE: [&str; 15] = [
    "id",
    "userName",
    "email",
    "emailConfirmed",
    "name",
    "surname",
    "displayName",
    "creationTime",
    "lastModificationTime",
    "lastLoginTime",
    "isActive",
    "type",
    "category",
    "invitationAccepted",
    "legacyId",
];

/// The `UserDto` property `sortBy` names, if any.
pub(crate) fn sort_field(sort_by: &str) -> Option<&'static str> {
    SORTABLE.iter().copied().find(|field| field.eq_ignore_ascii_case(sort_by.trim()))
}

impl Model for Tenant {
    type Seed = Seed;

    /// Builds the organization from a checked seed, filling in what the seed left out.
    fn from_seed(seed: Seed) -> Tenant {
        let created = wire::now();
        let mut next_legacy_id = seed.users.iter().filter_map(|u| u.legacy_id).max().unwrap_or(1_000_000);
        let users: Vec<SeedUser> = seed
            .users
            .into_iter()
            .map(|mut user| {
                user.id = normal(&user.id);
                user.email.get_or_insert_with(String::new);
                user.display_name.get_or_insert_with(|| {
                    let parts = [user.name.as_deref(), user.surname.as_deref()];
                    let full: Vec<&str> = parts.into_iter().flatten().filter(|p| !p.is_empty()).collect();
                    if full.is_empty() { user.user_name.clone() } else { full.join(" ") }
                });
                user.category.get_or_insert(0);
                user.is_active.get_or_insert(true);
                user.email_confirmed.get_or_insert(true);
                user.invitation_accepted.get_or_insert(true);
                user.bypass_basic_auth_restriction.get_or_insert(false);
                user.legacy_id.get_or_insert_with(|| {
                    next_legacy_id += 1;
                    next_legacy_id
                });
                user.creation_time.get_or_insert_with(|| created.clone());
                user
            })
            .collect();
        let mut groups: Vec<SeedGroup> = Vec::new();
        let mut members = BTreeMap::new();
        for (name, id) in [(EVERYONE, EVERYONE_ID), (ADMINISTRATORS, ADMINISTRATORS_ID)] {
            if !seed.groups.iter().any(|g| g.name.eq_ignore_ascii_case(name)) {
                groups.push(SeedGroup {
                    id: id.into(),
                    name: name.into(),
                    group_type: BUILT_IN,
                    creation_time: Some(created.clone()),
                    last_modification_time: None,
                    members: Vec::new(),
                });
                members.insert(id.to_string(), BTreeSet::new());
            }
        }
        for mut group in seed.groups {
            group.id = normal(&group.id);
            group.creation_time.get_or_insert_with(|| created.clone());
            let ids = std::mem::take(&mut group.members).iter().map(|m| normal(m)).collect();
            members.insert(group.id.clone(), ids);
            groups.push(group);
        }
        let user_index = users.iter().enumerate().map(|(i, u)| (u.id.clone(), i)).collect();
        Tenant {
            organization: seed.organization,
            partition: normal(&seed.partition_global_id),
            clients: seed.clients,
            users,
            user_index,
            groups,
            members,
        }
    }

    fn to_seed(&self) -> Seed {
        let groups = self
            .groups
            .iter()
            .map(|group| SeedGroup {
                members: self.members[&group.id].iter().cloned().collect(),
                ..group.clone()
            })
            .collect();
        Seed {
            organization: self.organization.clone(),
            partition_global_id: self.partition.clone(),
            clients: self.clients.clone(),
            users: self.users.clone(),
            groups,
        }
    }
}

impl Tenant {
    /// Whether a path's organization segment names this organization: its name (in any
    /// case) or its GUID.
    pub(crate) fn is_organization(&self, segment: &str) -> bool {
        segment.eq_ignore_ascii_case(&self.organization) || normal(segment) == self.partition
    }

    pub(crate) fn client(&self, id: &str) -> Option<&SeedClient> {
        self.clients.iter().find(|c| c.id == id)
    }

    fn group(&self, id: &str) -> Result<&SeedGroup, Refusal> {
        self.groups.iter().find(|g| g.id == id).ok_or_else(|| Refusal::UnknownGroup(id.into()))
    }

    fn user(&self, id: &str) -> Result<&SeedUser, Refusal> {
        self.user_by_id(id).ok_or_else(|| Refusal::UnknownUser(id.into()))
    }

    fn user_by_id(&self, id: &str) -> Option<&SeedUser> {
        self.user_index.get(id).map(|i| &self.users[*i])
    }

    fn changeable(&self, id: &str) -> Result<&SeedGroup, Refusal> {
        let group = self.group(id)?;
        if group.group_type == BUILT_IN {
            return Err(Refusal::BuiltIn(group.name.clone()));
        }
        Ok(group)
    }

    fn name_taken(&self, name: &str, except: Option<&str>) -> bool {
        self.groups.iter().any(|g| g.name.eq_ignore_ascii_case(name.trim()) && Some(g.id.as_str()) != except)
    }

    fn check_members(&self, ids: &[String]) -> Result<(), Refusal> {
        let unknown: Vec<String> = ids.iter().filter(|id| self.user_by_id(id).is_none()).cloned().collect();
        if unknown.is_empty() { Ok(()) } else { Err(Refusal::UnknownMembers(unknown)) }
    }

    // ---- reads, in the wire shape ----

    /// `GET /api/Group/{partitionGlobalId}`: every group, `members` empty.
    pub(crate) fn group_list(&self) -> Value {
        Value::Array(self.groups.iter().map(|g| self.group_dto(g, false)).collect())
    }

    /// `GET /api/Group/{partitionGlobalId}/{groupId}`: one group, its members filled in.
    pub(crate) fn group_record(&self, id: &str) -> Result<Value, Refusal> {
        Ok(self.group_dto(self.group(id)?, true))
    }

    /// `GET …/Members`: `{totalCount, results: [{id, type}]}`; `Everyone` reports none.
    pub(crate) fn member_page(&self, id: &str, top: usize, skip: usize) -> Result<Value, Refusal> {
        self.group(id)?;
        let members = &self.members[id];
        let results: Vec<Value> = members
            .iter()
            .skip(skip)
            .take(top)
            .filter_map(|m| self.user_by_id(m))
            .map(|u| json!({"id": u.id, "type": u.user_type}))
            .collect();
        Ok(json!({"totalCount": members.len(), "results": results}))
    }

    /// `GET /api/User/users/{partitionGlobalId}`.
    pub(crate) fn user_page(&self, query: &UserQuery) -> Value {
        let needle = query.search.as_deref().map(str::to_lowercase).filter(|s| !s.is_empty());
        let matches = |user: &&SeedUser| {
            needle.as_deref().is_none_or(|needle| {
                [Some(&user.user_name), user.email.as_ref(), user.name.as_ref()]
                    .into_iter()
                    .flatten()
                    .any(|field| field.to_lowercase().contains(needle))
            })
        };
        let mut records: Vec<Value> = self.users.iter().filter(matches).map(|u| self.user_dto(u)).collect();
        if let Some(field) = query.sort_by {
            // Stable: ties keep the default order, as a database's clustered index would.
            records.sort_by(|a, b| {
                let order = compare(&a[field], &b[field]);
                if query.descending { order.reverse() } else { order }
            });
        }
        let total = records.len();
        let results: Vec<Value> = records.into_iter().skip(query.skip).take(query.top).collect();
        json!({"totalCount": total, "results": results})
    }

    /// `GET /api/User/{userId}`.
    pub(crate) fn user_record(&self, id: &str) -> Result<Value, Refusal> {
        Ok(self.user_dto(self.user(id)?))
    }

    fn group_dto(&self, group: &SeedGroup, with_members: bool) -> Value {
        let members: Vec<Value> = if with_members {
            self.members[&group.id]
                .iter()
                .filter_map(|id| self.user_by_id(id))
                .map(directory_entity)
                .collect()
        } else {
            Vec::new()
        };
        json!({
            "id": group.id,
            "name": group.name,
            "displayName": group.name,
            "type": group.group_type,
            "creationTime": group.creation_time,
            "lastModificationTime": group.last_modification_time,
            "members": members,
            // Seen live, not in the spec (notes §4.1).
            "mappedRole": null,
            "scope": null,
        })
    }

    fn user_dto(&self, user: &SeedUser) -> Value {
        let group_ids: Vec<&str> = self
            .groups
            .iter()
            .filter(|g| self.members[&g.id].contains(&user.id))
            .map(|g| g.id.as_str())
            .collect();
        json!({
            "id": user.id,
            "userName": user.user_name,
            "email": user.email,
            "emailConfirmed": user.email_confirmed,
            "name": user.name,
            "surname": user.surname,
            "displayName": user.display_name,
            "creationTime": user.creation_time,
            "lastModificationTime": user.last_modification_time,
            "lastLoginTime": user.last_login_time,
            "groupIDs": group_ids,
            "legacyId": user.legacy_id,
            "isActive": user.is_active,
            "bypassBasicAuthRestriction": user.bypass_basic_auth_restriction,
            "type": user.user_type,
            "category": user.category,
            "invitationAccepted": user.invitation_accepted,
        })
    }

    // ---- changes ----

    /// `POST /api/Group`: a custom group with the client's id and its first members.
    pub(crate) fn create_group(&mut self, new: NewGroup) -> Result<Value, Refusal> {
        if new.name.trim().is_empty() {
            return Err(Refusal::Required("Name"));
        }
        if self.groups.iter().any(|g| g.id == new.id) {
            return Err(Refusal::GroupExists(new.id));
        }
        if self.name_taken(&new.name, None) {
            return Err(Refusal::GroupExists(new.name));
        }
        self.check_members(&new.members)?;
        let group = SeedGroup {
            id: new.id.clone(),
            name: new.name,
            group_type: CUSTOM,
            creation_time: Some(wire::now()),
            last_modification_time: None,
            members: Vec::new(),
        };
        self.members.insert(new.id.clone(), new.members.into_iter().collect());
        self.groups.push(group);
        self.group_record(&new.id)
    }

    /// `PUT /api/Group/{groupId}`: the name (required every time), then incremental adds and
    /// removes; adding a member twice or removing a non-member changes nothing.
    pub(crate) fn update_group(
        &mut self,
        id: &str,
        name: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<Value, Refusal> {
        self.changeable(id)?;
        if name.trim().is_empty() {
            return Err(Refusal::Required("Name"));
        }
        if self.name_taken(name, Some(id)) {
            return Err(Refusal::GroupExists(name.into()));
        }
        self.check_members(add)?;
        let now = wire::now();
        let group = self.groups.iter_mut().find(|g| g.id == id).expect("checked above");
        group.name = name.into();
        group.last_modification_time = Some(now);
        let members = self.members.get_mut(id).expect("every group has a member set");
        members.extend(add.iter().cloned());
        for user in remove {
            members.remove(user);
        }
        self.group_record(id)
    }

    /// `DELETE /api/Group/{partitionGlobalId}/{groupId}`.
    pub(crate) fn delete_group(&mut self, id: &str) -> Result<(), Refusal> {
        self.changeable(id)?;
        self.groups.retain(|g| g.id != id);
        self.members.remove(id);
        Ok(())
    }

    /// `DELETE /api/Group/{partitionGlobalId}` with `groupIDs`: all or nothing. Ids of no
    /// group are skipped (deleting is idempotent); a built-in group refuses the whole call.
    pub(crate) fn delete_groups(&mut self, ids: &[String]) -> Result<(), Refusal> {
        if let Some(built_in) = self.groups.iter().find(|g| g.group_type == BUILT_IN && ids.contains(&g.id)) {
            return Err(Refusal::BuiltIn(built_in.name.clone()));
        }
        self.groups.retain(|g| !ids.contains(&g.id));
        self.members.retain(|id, _| !ids.contains(id));
        Ok(())
    }
}

/// A member as `GroupDto.members` shows it (notes §4.1; `name` is the userName there).
fn directory_entity(user: &SeedUser) -> Value {
    let object_type = if matches!(user.user_type, 1 | 4) { "DirectoryRobotUser" } else { "DirectoryUser" };
    json!({
        "objectType": object_type,
        "firstName": user.name,
        "lastName": user.surname,
        "jobTitle": null,
        "companyName": null,
        "city": null,
        "department": null,
        "displayName": user.display_name,
        "source": "local",
        "identifier": user.id,
        "name": user.user_name,
        "email": user.email,
    })
}

/// SQL Server's order for a sort: nulls first, strings case-insensitively.
fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::String(a), Value::String(b)) => a.to_lowercase().cmp(&b.to_lowercase()),
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        (Value::Number(a), Value::Number(b)) => {
            a.as_f64().unwrap_or(0.0).partial_cmp(&b.as_f64().unwrap_or(0.0)).unwrap_or(Ordering::Equal)
        }
        _ => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::uipath::seed::generate;

    fn tenant() -> Tenant {
        Tenant::from_seed(generate("users=12,groups=2,memberships=6,seed=2".parse().unwrap(), "s"))
    }

    #[test]
    fn built_in_groups_are_added_and_refuse_changes() {
        let mut tenant = tenant();
        let list = tenant.group_list();
        let names: Vec<&str> = list.as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
        assert_eq!(&names[..2], [EVERYONE, ADMINISTRATORS]);
        assert_eq!(tenant.delete_group(EVERYONE_ID), Err(Refusal::BuiltIn(EVERYONE.into())));
        assert_eq!(
            tenant.update_group(ADMINISTRATORS_ID, ADMINISTRATORS, &[], &[]),
            Err(Refusal::BuiltIn(ADMINISTRATORS.into()))
        );
        let custom = names[2].to_string();
        let custom_id = list[2]["id"].as_str().unwrap().to_string();
        assert_eq!(
            tenant.delete_groups(&[custom_id.clone(), EVERYONE_ID.into()]),
            Err(Refusal::BuiltIn(EVERYONE.into()))
        );
        assert!(tenant.group_record(&custom_id).is_ok(), "all or nothing: {custom} is still there");
        assert_eq!(tenant.member_page(EVERYONE_ID, 10, 0).unwrap()["totalCount"], 0);
    }

    #[test]
    fn names_are_unique_case_insensitively_and_required() {
        let mut tenant = tenant();
        let new = |id: &str, name: &str| NewGroup { id: id.into(), name: name.into(), members: Vec::new() };
        let id = "0e6b2a4c-7d7b-4f0e-a3b1-9c3b2f1d5e88";
        tenant.create_group(new(id, "Gryffindors")).unwrap();
        assert_eq!(
            tenant.create_group(new("1e6b2a4c-7d7b-4f0e-a3b1-9c3b2f1d5e88", "gryffindors ")),
            Err(Refusal::GroupExists("gryffindors ".into()))
        );
        assert_eq!(tenant.create_group(new(id, "Other")), Err(Refusal::GroupExists(id.into())));
        assert_eq!(tenant.update_group(id, " ", &[], &[]), Err(Refusal::Required("Name")));
        assert_eq!(tenant.update_group(id, "GRYFFINDORS", &[], &[]).unwrap()["name"], "GRYFFINDORS");
        let stranger = vec!["00000000-0000-4000-8000-000000000000".to_string()];
        assert_eq!(
            tenant.update_group(id, "G", &stranger, &[]),
            Err(Refusal::UnknownMembers(stranger.clone()))
        );
        assert_eq!(tenant.update_group(id, "G", &[], &stranger).unwrap()["members"], json!([]));
    }

    #[test]
    fn users_page_search_and_sort() {
        let tenant = tenant();
        let page = |query: UserQuery| tenant.user_page(&query);
        let all = page(UserQuery { top: 100, ..UserQuery::default() });
        assert_eq!(all["totalCount"], 12);
        let second = page(UserQuery { top: 5, skip: 10, ..UserQuery::default() });
        assert_eq!(second["results"].as_array().unwrap().len(), 2);
        assert_eq!(second["results"][0], all["results"][10]);
        let found = page(UserQuery { search: Some("USER00000".into()), top: 100, ..UserQuery::default() });
        assert_eq!(found["totalCount"], 9, "user000001 to user000009");
        let sorted = page(UserQuery {
            top: 100,
            sort_by: sort_field("EMAIL"),
            descending: true,
            ..UserQuery::default()
        });
        assert_eq!(sorted["results"][0]["email"], "user000012@example.com");
        assert_eq!(sort_field("nonsense"), None);
    }
}
