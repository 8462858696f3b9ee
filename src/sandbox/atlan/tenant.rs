//! The emulated Atlan tenant in memory: users, groups, memberships and roles, and the
//! changes the API can make to them, with the rules Atlan (Keycloak underneath) enforces.
//!
//! Records are rendered here in Atlan's wire shape (camelCase, attributes as string arrays,
//! top-level `alias` on groups) because filters and sorting work on that shape too.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::seed::{Attributes, Seed, SeedGroup, SeedRole, SeedUser, default_roles};

/// Who the sandbox records as the author of changes made with an API token.
const API_TOKEN_USER: &str = "service-account-apikey-roster-sandbox";

/// Why a change was refused; the routes turn each into Atlan's error response.
#[derive(Debug, PartialEq)]
pub(crate) enum Refusal {
    /// No user with that GUID.
    UnknownUser(String),
    /// No group with that GUID.
    UnknownGroup(String),
    /// No role with that GUID, or a role name and id that don't match.
    UnknownRole(String),
    /// A top-level group of that name exists already.
    GroupExists(String),
    /// Emails already taken by other users, for an invite.
    EmailsTaken(Vec<String>),
    /// Atlan can only update users who have signed up.
    NotSignedUp(String),
    /// The request body does not have what the endpoint needs.
    BadRequest(String),
}

/// The tenant's state.
#[derive(Debug, Clone)]
pub(crate) struct Tenant {
    roles: Vec<SeedRole>,
    users: BTreeMap<String, SeedUser>,
    groups: BTreeMap<String, SeedGroup>,
    members: BTreeMap<String, BTreeSet<String>>,
    groups_of: BTreeMap<String, BTreeSet<String>>,
}

/// A user to invite: `POST /api/service/users` carries email, role name and role id.
#[derive(Debug)]
pub(crate) struct Invite {
    pub(crate) email: String,
    pub(crate) role_name: String,
    pub(crate) role_id: String,
}

/// The fields of a group that a create or update may set.
#[derive(Debug, Default)]
pub(crate) struct GroupChanges {
    pub(crate) name: Option<String>,
    pub(crate) attributes: Attributes,
}

fn now_ms() -> i64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

impl Tenant {
    /// Builds the tenant from a checked seed, filling in what the seed left out.
    pub(crate) fn from_seed(seed: Seed) -> Tenant {
        let roles = seed.roles.unwrap_or_else(default_roles);
        let created = now_ms();
        let mut tenant = Tenant {
            roles,
            users: BTreeMap::new(),
            groups: BTreeMap::new(),
            members: BTreeMap::new(),
            groups_of: BTreeMap::new(),
        };
        for mut user in seed.users {
            user.username = user.username.to_lowercase();
            user.email = user.email.map(|e| e.to_lowercase());
            user.role.get_or_insert_with(|| "$member".into());
            user.enabled.get_or_insert(true);
            user.email_verified.get_or_insert(!user.invited);
            user.created_timestamp.get_or_insert(created);
            tenant.groups_of.insert(user.id.clone(), BTreeSet::new());
            tenant.users.insert(user.id.clone(), user);
        }
        for mut group in seed.groups {
            let members = std::mem::take(&mut group.members);
            group.alias.get_or_insert_with(|| group.name.clone());
            group.created_at.get_or_insert(created);
            group.created_by.get_or_insert_with(|| API_TOKEN_USER.into());
            let id = group.id.clone();
            tenant.members.insert(id.clone(), BTreeSet::new());
            tenant.groups.insert(id.clone(), group);
            for user in members {
                tenant.join(&user, &id);
            }
        }
        tenant
    }

    /// The whole state in the seed's shape, complete enough to restart from.
    pub(crate) fn to_seed(&self) -> Seed {
        let groups = self
            .groups
            .values()
            .map(|group| SeedGroup {
                members: self.members[&group.id].iter().cloned().collect(),
                ..group.clone()
            })
            .collect();
        Seed { roles: Some(self.roles.clone()), users: self.users.values().cloned().collect(), groups }
    }

    fn join(&mut self, user: &str, group: &str) {
        self.members.entry(group.into()).or_default().insert(user.into());
        self.groups_of.entry(user.into()).or_default().insert(group.into());
    }

    fn leave(&mut self, user: &str, group: &str) {
        if let Some(members) = self.members.get_mut(group) {
            members.remove(user);
        }
        if let Some(groups) = self.groups_of.get_mut(user) {
            groups.remove(group);
        }
    }

    fn user(&self, id: &str) -> Result<&SeedUser, Refusal> {
        self.users.get(id).ok_or_else(|| Refusal::UnknownUser(id.into()))
    }

    fn group(&self, id: &str) -> Result<&SeedGroup, Refusal> {
        self.groups.get(id).ok_or_else(|| Refusal::UnknownGroup(id.into()))
    }

    // ---- reads, in Atlan's wire shape ----

    pub(crate) fn role_records(&self) -> Vec<Value> {
        self.roles
            .iter()
            .map(|role| {
                let members = self.users.values().filter(|u| u.role.as_deref() == Some(&role.name)).count();
                json!({
                    "id": role.id,
                    "name": role.name,
                    "description": role.description.clone().unwrap_or_else(|| role.name.clone()),
                    "clientRole": false,
                    "level": role.level.clone().unwrap_or_else(|| "workspace".into()),
                    // Atlan sends these counts as strings.
                    "memberCount": members.to_string(),
                    "userCount": members.to_string(),
                })
            })
            .collect()
    }

    pub(crate) fn user_records(&self) -> Vec<Value> {
        self.users.values().map(|u| self.user_record(u)).collect()
    }

    pub(crate) fn group_records(&self) -> Vec<Value> {
        self.groups.values().map(|g| self.group_record(g)).collect()
    }

    pub(crate) fn member_records(&self, group: &str) -> Result<Vec<Value>, Refusal> {
        self.group(group)?;
        Ok(self.members[group].iter().map(|id| self.user_record(&self.users[id])).collect())
    }

    pub(crate) fn groups_of_records(&self, user: &str) -> Result<Vec<Value>, Refusal> {
        self.user(user)?;
        Ok(self.groups_of[user].iter().map(|id| self.group_record(&self.groups[id])).collect())
    }

    #[cfg(test)]
    pub(crate) fn user_record_by_id(&self, user: &str) -> Result<Value, Refusal> {
        self.user(user).map(|u| self.user_record(u))
    }

    fn user_record(&self, user: &SeedUser) -> Value {
        let role = user.role.clone().unwrap_or_default();
        let login_events: Vec<Value> = user
            .last_login_time
            .map(|time| {
                json!({"clientId": "atlan-frontend", "details": {}, "ipAddress": "127.0.0.1",
                       "realmId": "default", "sessionId": format!("session-{}", user.id),
                       "time": time, "type": "LOGIN", "userId": user.id})
            })
            .into_iter()
            .collect();
        let mut record = json!({
            "id": user.id,
            "username": user.username,
            "email": user.email,
            "emailVerified": user.email_verified.unwrap_or(false),
            "enabled": user.enabled.unwrap_or(true),
            "firstName": user.first_name,
            "lastName": user.last_name,
            "createdTimestamp": user.created_timestamp,
            "attributes": user.attributes,
            "groupCount": self.groups_of.get(&user.id).map_or(0, BTreeSet::len),
            "roles": ["default-roles-default", role],
            "defaultRoles": ["offline_access", "uma_authorization"],
            "workspaceRole": role,
            "personas": [],
            "purposes": [],
            "loginEvents": login_events,
            "isLocked": false,
            "status": if user.invited { "Invited" } else if user.enabled == Some(false) { "Disabled" } else { "Enabled" },
        });
        if let Some(time) = user.last_login_time {
            record["lastLoginTime"] = json!(time);
        }
        record
    }

    fn group_record(&self, group: &SeedGroup) -> Value {
        let alias = group.alias.clone().unwrap_or_else(|| group.name.clone());
        let mut attributes = group.attributes.clone();
        attributes.insert("alias".into(), vec![alias.clone()]);
        attributes.insert("isDefault".into(), vec![group.is_default.to_string()]);
        if let Some(description) = &group.description {
            attributes.insert("description".into(), vec![description.clone()]);
        }
        for (key, value) in [
            ("createdAt", group.created_at.map(|t| t.to_string())),
            ("createdBy", group.created_by.clone()),
            ("updatedAt", group.updated_at.map(|t| t.to_string())),
            ("updatedBy", group.updated_by.clone()),
        ] {
            if let Some(value) = value {
                attributes.insert(key.into(), vec![value]);
            }
        }
        json!({
            "id": group.id,
            "name": group.name,
            "path": format!("/{}", group.name),
            "alias": alias,
            "attributes": attributes,
            "userCount": self.members.get(&group.id).map_or(0, BTreeSet::len),
            "roles": [],
            "decentralizedRoles": [],
            "personas": [],
            "purposes": [],
        })
    }

    // ---- writes ----

    /// `POST /api/service/groups`: a new group and, per user, whether joining worked.
    pub(crate) fn create_group(
        &mut self,
        changes: GroupChanges,
        users: &[String],
    ) -> Result<(String, Vec<(String, bool)>), Refusal> {
        let name = changes.name.filter(|n| !n.is_empty()).ok_or_else(|| {
            Refusal::BadRequest(
                "Request body has an error: doesn't match the schema: Property 'name' is missing".into(),
            )
        })?;
        if changes.attributes.get("alias").is_none_or(|a| a.first().is_none_or(String::is_empty)) {
            return Err(Refusal::BadRequest(
                "Request body has an error: doesn't match the schema: Property 'alias' is missing".into(),
            ));
        }
        if self.groups.values().any(|g| g.name == name) {
            return Err(Refusal::GroupExists(name));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let mut group = SeedGroup {
            id: id.clone(),
            name,
            alias: None,
            description: None,
            is_default: false,
            members: Vec::new(),
            created_at: Some(now_ms()),
            created_by: Some(API_TOKEN_USER.into()),
            updated_at: None,
            updated_by: None,
            attributes: Attributes::new(),
        };
        apply_attributes(&mut group, changes.attributes);
        self.groups.insert(id.clone(), group);
        self.members.insert(id.clone(), BTreeSet::new());
        let outcomes = users
            .iter()
            .map(|user| {
                let known = self.users.contains_key(user);
                if known {
                    self.join(user, &id);
                }
                (user.clone(), known)
            })
            .collect();
        Ok((id, outcomes))
    }

    /// `POST /api/service/groups/{guid}`: attributes present replace those keys; others stay.
    pub(crate) fn update_group(&mut self, id: &str, changes: GroupChanges) -> Result<(), Refusal> {
        self.group(id)?;
        if let Some(name) = changes.name.as_ref().filter(|n| !n.is_empty())
            && self.groups.values().any(|g| g.id != id && &g.name == name)
        {
            return Err(Refusal::GroupExists(name.clone()));
        }
        let group = self.groups.get_mut(id).expect("checked above");
        if let Some(name) = changes.name.filter(|n| !n.is_empty()) {
            group.name = name;
        }
        apply_attributes(group, changes.attributes);
        group.updated_at = Some(now_ms());
        group.updated_by = Some(API_TOKEN_USER.into());
        Ok(())
    }

    /// `POST /api/service/groups/{guid}/delete`: a hard delete.
    pub(crate) fn delete_group(&mut self, id: &str) -> Result<(), Refusal> {
        self.group(id)?;
        self.groups.remove(id);
        for user in self.members.remove(id).unwrap_or_default() {
            if let Some(groups) = self.groups_of.get_mut(&user) {
                groups.remove(id);
            }
        }
        Ok(())
    }

    /// `POST /api/service/groups/{guid}/members/remove`; removing a non-member is a no-op.
    pub(crate) fn remove_members(&mut self, group: &str, users: &[String]) -> Result<(), Refusal> {
        self.group(group)?;
        if let Some(unknown) = users.iter().find(|u| !self.users.contains_key(*u)) {
            return Err(Refusal::UnknownUser(unknown.clone()));
        }
        for user in users {
            self.leave(user, group);
        }
        Ok(())
    }

    /// `POST /api/service/users/{guid}/groups`; joining a group twice is a no-op.
    pub(crate) fn add_to_groups(&mut self, user: &str, groups: &[String]) -> Result<(), Refusal> {
        self.user(user)?;
        if let Some(unknown) = groups.iter().find(|g| !self.groups.contains_key(*g)) {
            return Err(Refusal::UnknownGroup(unknown.clone()));
        }
        for group in groups {
            self.join(user, group);
        }
        Ok(())
    }

    /// `POST /api/service/users/{guid}/roles/update`.
    pub(crate) fn change_role(&mut self, user: &str, role_id: &str) -> Result<(), Refusal> {
        self.user(user)?;
        let role = self
            .roles
            .iter()
            .find(|r| r.id == role_id)
            .ok_or_else(|| Refusal::UnknownRole(role_id.into()))?;
        let name = role.name.clone();
        self.users.get_mut(user).expect("checked above").role = Some(name);
        Ok(())
    }

    /// `POST /api/service/users/{guid}`: names and attributes of a signed-up user.
    pub(crate) fn update_user(&mut self, id: &str, body: &Value) -> Result<Value, Refusal> {
        let user = self.user(id)?;
        if user.invited {
            return Err(Refusal::NotSignedUp(user.email.clone().unwrap_or_else(|| id.into())));
        }
        let user = self.users.get_mut(id).expect("checked above");
        if let Some(first) = body.get("firstName").and_then(Value::as_str) {
            user.first_name = Some(first.into());
        }
        if let Some(last) = body.get("lastName").and_then(Value::as_str) {
            user.last_name = Some(last.into());
        }
        if let Some(attributes) = body.get("attributes").and_then(Value::as_object) {
            for (key, value) in attributes {
                if let Ok(values) = serde_json::from_value::<Vec<String>>(value.clone()) {
                    user.attributes.insert(key.clone(), values);
                }
            }
        }
        let user = &self.users[id];
        Ok(json!({
            "id": user.id, "username": user.username, "email": user.email,
            "emailVerified": user.email_verified, "enabled": user.enabled,
            "firstName": user.first_name, "lastName": user.last_name,
            "attributes": user.attributes, "createdTimestamp": user.created_timestamp,
            "totp": false, "disableableCredentialTypes": [], "requiredActions": [],
            "access": {"manageGroupMembership": true, "view": true, "mapRoles": true, "impersonate": false, "manage": true},
        }))
    }

    /// `POST /api/service/users`: invites, all or nothing, into the default groups.
    pub(crate) fn invite(&mut self, invites: &[Invite]) -> Result<(), Refusal> {
        for invite in invites {
            let matches = self.roles.iter().any(|r| r.id == invite.role_id && r.name == invite.role_name);
            if !matches {
                return Err(Refusal::UnknownRole(format!("{} ({})", invite.role_name, invite.role_id)));
            }
        }
        // An email is taken by an existing user, or by an earlier entry of the same invite.
        let mut asked = BTreeSet::new();
        let taken: Vec<String> = invites
            .iter()
            .map(|i| i.email.to_lowercase())
            .filter(|email| {
                !asked.insert(email.clone()) || self.users.values().any(|u| u.email.as_deref() == Some(email))
            })
            .collect();
        if !taken.is_empty() {
            return Err(Refusal::EmailsTaken(taken));
        }
        let defaults: Vec<String> =
            self.groups.values().filter(|g| g.is_default).map(|g| g.id.clone()).collect();
        for invite in invites {
            let email = invite.email.to_lowercase();
            let id = uuid::Uuid::new_v4().to_string();
            let now = now_ms();
            let user = SeedUser {
                id: id.clone(),
                username: self.free_username(&email),
                email: Some(email),
                first_name: None,
                last_name: None,
                role: Some(invite.role_name.clone()),
                invited: true,
                enabled: Some(true),
                email_verified: Some(false),
                created_timestamp: Some(now),
                last_login_time: None,
                attributes: Attributes::from([
                    ("invitedAt".into(), vec![now.to_string()]),
                    ("invitedBy".into(), vec![API_TOKEN_USER.into()]),
                ]),
            };
            self.users.insert(id.clone(), user);
            self.groups_of.insert(id.clone(), BTreeSet::new());
            for group in &defaults {
                self.join(&id, group);
            }
        }
        Ok(())
    }

    /// Atlan assigns invited users a username; the sandbox takes the email's local part.
    fn free_username(&self, email: &str) -> String {
        let base = email.split('@').next().unwrap_or(email).to_string();
        let taken = |name: &str| self.users.values().any(|u| u.username == name);
        if !taken(&base) {
            return base;
        }
        // There are fewer users than suffixes below `users.len() + 2`, so one of them is free.
        (2..self.users.len() + 2)
            .map(|n| format!("{base}{n}"))
            .find(|name| !taken(name))
            .expect("a suffix is free")
    }
}

/// Writes Atlan-style attributes onto a group: `alias`, `description` and `isDefault` go to
/// their own fields, the rest is kept as given.
fn apply_attributes(group: &mut SeedGroup, attributes: Attributes) {
    for (key, values) in attributes {
        let first = values.first().cloned();
        match key.as_str() {
            "alias" => group.alias = first,
            "description" => group.description = first,
            "isDefault" => group.is_default = first.as_deref() == Some("true"),
            "createdAt" | "createdBy" | "updatedAt" | "updatedBy" => {}
            _ => {
                group.attributes.insert(key, values);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::atlan::seed::{GUEST_ROLE_ID, generate};

    fn tenant() -> Tenant {
        Tenant::from_seed(generate("users=4,groups=2,memberships=0,seed=1".parse().unwrap()))
    }

    fn attrs(alias: &str) -> Attributes {
        Attributes::from([("alias".into(), vec![alias.into()])])
    }

    #[test]
    fn a_created_group_has_its_members_and_a_second_create_is_refused() {
        let mut tenant = tenant();
        let users: Vec<String> = tenant.users.keys().take(2).cloned().collect();
        let mut asked = users.clone();
        asked.push("ghost".into());
        let changes = GroupChanges { name: Some("new_team".into()), attributes: attrs("New Team") };
        let (id, outcomes) = tenant.create_group(changes, &asked).unwrap();
        assert_eq!(outcomes.iter().filter(|(_, ok)| *ok).count(), 2);
        assert_eq!(tenant.member_records(&id).unwrap().len(), 2);
        let again = GroupChanges { name: Some("new_team".into()), attributes: attrs("Other") };
        assert_eq!(tenant.create_group(again, &[]), Err(Refusal::GroupExists("new_team".into())));
    }

    #[test]
    fn memberships_and_roles_change_and_show_in_both_directions() {
        let mut tenant = tenant();
        let user = tenant.users.keys().next().unwrap().clone();
        let groups: Vec<String> = tenant.groups.keys().cloned().collect();
        tenant.add_to_groups(&user, &groups).unwrap();
        assert_eq!(tenant.groups_of_records(&user).unwrap().len(), 2);
        tenant.remove_members(&groups[0], std::slice::from_ref(&user)).unwrap();
        assert_eq!(tenant.groups_of_records(&user).unwrap().len(), 1);
        assert!(tenant.member_records(&groups[0]).unwrap().is_empty());
        tenant.change_role(&user, GUEST_ROLE_ID).unwrap();
        assert_eq!(tenant.user_record_by_id(&user).unwrap()["workspaceRole"], "$guest");
        assert_eq!(tenant.change_role(&user, "nope"), Err(Refusal::UnknownRole("nope".into())));
        tenant.delete_group(&groups[1]).unwrap();
        assert!(tenant.groups_of_records(&user).unwrap().is_empty());
    }

    #[test]
    fn invites_join_default_groups_and_refuse_taken_emails_and_updates() {
        let mut tenant = tenant();
        let default_group = tenant.groups.keys().next().unwrap().clone();
        tenant.groups.get_mut(&default_group).unwrap().is_default = true;
        let invite = |email: &str| Invite {
            email: email.into(),
            role_name: "$guest".into(),
            role_id: GUEST_ROLE_ID.into(),
        };
        tenant.invite(&[invite("New.Person@Example.com")]).unwrap();
        let new = tenant.users.values().find(|u| u.username == "new.person").unwrap().id.clone();
        assert_eq!(tenant.member_records(&default_group).unwrap().len(), 1);
        assert_eq!(
            tenant.invite(&[invite("new.person@example.com")]),
            Err(Refusal::EmailsTaken(vec!["new.person@example.com".into()]))
        );
        assert!(matches!(tenant.update_user(&new, &json!({"firstName": "N"})), Err(Refusal::NotSignedUp(_))));
    }

    #[test]
    fn seed_round_trips_through_the_state() {
        let seed = generate("users=5,groups=2,memberships=4,seed=9".parse().unwrap());
        let tenant = Tenant::from_seed(seed);
        let again = Tenant::from_seed(tenant.to_seed());
        assert_eq!(tenant.to_seed(), again.to_seed());
    }
}
