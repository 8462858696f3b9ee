//! A UiPath organization as a file: the seed users hand to
//! `roster sandbox --provider uipath --seed`, the `--state` file it keeps, and
//! `GET /_sandbox/state`, all in one shape.
//!
//! The shape mirrors the API's DTOs (camelCase, integer enums, .NET timestamps), so that a
//! record read from the API can be pasted in. Only ids and names are required; every other
//! field has the value a fresh organization would show, and the state file fills every
//! field in, so a restart reproduces the organization exactly. Every organization has the
//! built-in groups `Everyone` and `Administrators`: a seed that leaves them out gets them
//! with the GUIDs of UiPath's documentation examples.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::sandbox::GenerateSpec;
use crate::sandbox::store::{self, SeedError};

/// `GroupType` on the wire: built-in groups.
pub const BUILT_IN: u8 = 0;
/// `GroupType` on the wire: local groups made by the organization.
pub const CUSTOM: u8 = 1;
/// The GUID `Everyone` gets when a seed leaves it out (from UiPath's "Get all groups" example).
pub const EVERYONE_ID: &str = "ce684f6f-5af3-4e43-8516-1adad6e98fc9";
/// The GUID `Administrators` gets when a seed leaves it out (same source).
pub const ADMINISTRATORS_ID: &str = "35551807-06b1-4cda-90a1-2fb84851eee7";
/// The name of the built-in group every user belongs to implicitly (it lists no members).
pub const EVERYONE: &str = "Everyone";
/// The name of the built-in group of organization administrators.
pub const ADMINISTRATORS: &str = "Administrators";
/// The organization of `--generate` and of a sandbox started without a seed.
pub const SANDBOX_ORGANIZATION: &str = "roster-sandbox";
/// Its `partitionGlobalId`.
pub const SANDBOX_PARTITION: &str = "7b1c8f3e-5d2a-4c6b-9e0f-a1b2c3d4e5f6";
/// The client id of the application such an organization has.
pub const SANDBOX_CLIENT_ID: &str = "roster-sandbox-app";
/// The Platform Management scopes an application can be granted for groups and users.
pub const ALL_SCOPES: [&str; 6] =
    ["PM.Group", "PM.Group.Read", "PM.Group.Write", "PM.User", "PM.User.Read", "PM.User.Write"];

/// A whole organization: its name and GUID, the external applications that may get tokens,
/// users, and groups with their members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Seed {
    /// The organization's name: the first segment of every API path (`/{organization}/identity_`).
    pub organization: String,
    /// The organization's GUID, which the API calls the partition.
    pub partition_global_id: String,
    /// Confidential external applications (client credentials).
    #[serde(default)]
    pub clients: Vec<SeedClient>,
    /// Users of the organization.
    #[serde(default)]
    pub users: Vec<SeedUser>,
    /// Groups, each with the GUIDs of its members.
    #[serde(default)]
    pub groups: Vec<SeedGroup>,
}

/// A confidential external application: what `POST /identity_/connect/token` accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedClient {
    /// The application id (`client_id`).
    pub id: String,
    /// The application secret (`client_secret`).
    pub secret: String,
    /// What the admin portal calls it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The application scopes it was granted, e.g. `PM.Group` or `PM.User.Read`.
    pub scopes: Vec<String>,
}

/// A user (`UserDto` without `groupIDs`, which come from the groups' members).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedUser {
    /// The user's GUID.
    pub id: String,
    /// Login name (for Cloud users, usually the email).
    pub user_name: String,
    /// Email address; may be `""` for userName-only accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// First name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    /// Display name; "name surname" when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `UserType`: 0 user, 1 robot, 2 directory user, 3 directory group, 4 robot account,
    /// 5 application; 0 when absent.
    #[serde(default, rename = "type")]
    pub user_type: u8,
    /// 0 local, 1 linked local, 2 directory; 0 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<u8>,
    /// `true` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
    /// `true` when absent; `false` with `invitationAccepted: false` is a pending invitation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_confirmed: Option<bool>,
    /// `true` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation_accepted: Option<bool>,
    /// `false` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bypass_basic_auth_restriction: Option<bool>,
    /// The user's number in older APIs; numbered in file order when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_id: Option<i64>,
    /// .NET timestamp, e.g. `2025-08-12T06:41:10.0901663`; the start time when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<String>,
    /// Last change; none for users never changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modification_time: Option<String>,
    /// Last login; none for users who never logged in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login_time: Option<String>,
}

/// A group (`GroupDto`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedGroup {
    /// The group's GUID.
    pub id: String,
    /// The group's name, unique in the organization (case-insensitively).
    pub name: String,
    /// `GroupType`: 0 built-in (can't be changed or deleted), 1 custom; 1 when absent.
    #[serde(default = "custom", rename = "type")]
    pub group_type: u8,
    /// .NET timestamp; the start time when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<String>,
    /// Last change; none for groups never changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modification_time: Option<String>,
    /// GUIDs of the member users. `Everyone` lists none: its membership is implicit.
    #[serde(default)]
    pub members: Vec<String>,
}

fn custom() -> u8 {
    CUSTOM
}

impl Seed {
    /// An organization with nothing but the built-in groups and one application, granted
    /// every group and user scope, with `secret`.
    #[must_use]
    pub fn empty(secret: &str) -> Seed {
        Seed {
            organization: SANDBOX_ORGANIZATION.into(),
            partition_global_id: SANDBOX_PARTITION.into(),
            clients: vec![sandbox_client(secret)],
            users: Vec::new(),
            groups: Vec::new(),
        }
    }

    /// Reads and checks a seed or state file.
    pub fn load(path: &Path) -> Result<Seed, SeedError> {
        store::load(path, Seed::check)
    }

    /// Writes the organization to `path` atomically.
    pub fn save_atomically(&self, path: &Path) -> Result<(), SeedError> {
        store::save_atomically(self, path)
    }

    /// Checks what serde can't: GUIDs, unique ids and names, known enum values, members that
    /// exist, built-in groups that are built in.
    pub fn check(&self) -> Result<(), String> {
        let organization = self.organization.trim();
        if organization.is_empty() || organization.contains(['/', '?', '#', ' ']) {
            return Err(format!(
                "\"organization\" {:?} must be a non-empty name without '/', '?', '#' or spaces",
                self.organization
            ));
        }
        guid(&self.partition_global_id, "\"partitionGlobalId\"")?;
        unique(self.clients.iter().map(|c| c.id.clone()), "client id")?;
        for client in &self.clients {
            if client.id.is_empty() || client.secret.is_empty() {
                return Err("every client needs a non-empty \"id\" and \"secret\"".into());
            }
        }
        unique(self.users.iter().map(|u| normal(&u.id)), "user id")?;
        unique(self.users.iter().map(|u| u.user_name.to_lowercase()), "userName")?;
        unique(
            self.users
                .iter()
                .filter_map(|u| u.email.as_ref())
                .filter(|e| !e.is_empty())
                .map(|e| e.to_lowercase()),
            "email",
        )?;
        for user in &self.users {
            guid(&user.id, &format!("user {:?}'s \"id\"", user.user_name))?;
            if user.user_name.trim().is_empty() {
                return Err(format!("user {} needs a non-empty \"userName\"", user.id));
            }
            if user.user_type > 5 || user.category.is_some_and(|c| c > 2) {
                return Err(format!(
                    "user {:?}: \"type\" is 0 to 5 and \"category\" 0 to 2 (UiPath's integer enums)",
                    user.user_name
                ));
            }
        }
        unique(self.groups.iter().map(|g| normal(&g.id)), "group id")?;
        unique(self.groups.iter().map(|g| g.name.to_lowercase()), "group name")?;
        let users: HashSet<String> = self.users.iter().map(|u| normal(&u.id)).collect();
        for group in &self.groups {
            guid(&group.id, &format!("group {:?}'s \"id\"", group.name))?;
            if group.name.trim().is_empty() {
                return Err(format!("group {} needs a non-empty \"name\"", group.id));
            }
            if group.group_type > 1 {
                return Err(format!("group {:?}: \"type\" is 0 (built-in) or 1 (custom)", group.name));
            }
            let built_in_name =
                [EVERYONE, ADMINISTRATORS].iter().any(|n| n.eq_ignore_ascii_case(&group.name));
            if built_in_name && group.group_type != BUILT_IN {
                return Err(format!("group {:?} is built in: its \"type\" is 0", group.name));
            }
            if group.name.eq_ignore_ascii_case(EVERYONE) && !group.members.is_empty() {
                return Err(format!(
                    "group {:?} lists members, but every user belongs to it implicitly: leave \"members\" empty",
                    group.name
                ));
            }
            if let Some(missing) = group.members.iter().find(|m| !users.contains(&normal(m))) {
                return Err(format!(
                    "group {:?} lists member {missing:?}, which is not the id of any user",
                    group.name
                ));
            }
        }
        Ok(())
    }

    /// The first application, whose credentials the banner prints.
    #[must_use]
    pub fn first_client(&self) -> Option<&SeedClient> {
        self.clients.first()
    }
}

/// The application of an organization built by roster (empty or generated).
fn sandbox_client(secret: &str) -> SeedClient {
    SeedClient {
        id: SANDBOX_CLIENT_ID.into(),
        secret: secret.into(),
        name: Some("roster".into()),
        scopes: ALL_SCOPES.iter().map(ToString::to_string).collect(),
    }
}

/// A GUID in the form the API sends: lower-case, hyphenated.
pub(crate) fn normal(id: &str) -> String {
    uuid::Uuid::parse_str(id).map_or_else(|_| id.to_string(), |u| u.hyphenated().to_string())
}

fn guid(value: &str, what: &str) -> Result<(), String> {
    uuid::Uuid::parse_str(value).map(|_| ()).map_err(|_| format!("{what} {value:?} is not a GUID"))
}

fn unique(values: impl Iterator<Item = String>, what: &str) -> Result<(), String> {
    let mut seen = HashSet::new();
    for value in values {
        if !seen.insert(value.clone()) {
            return Err(format!("{what} {value:?} appears more than once"));
        }
    }
    Ok(())
}

const FIRST_NAMES: &[&str] = &[
    "Ada", "Ben", "Chen", "Dana", "Eli", "Fatima", "Goran", "Hana", "Ivan", "Jo", "Kofi", "Lena", "Mateo",
    "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Uma", "Victor", "Wen", "Yara",
];
const LAST_NAMES: &[&str] = &[
    "Abe", "Baker", "Costa", "Diaz", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jensen", "Kim", "Lopez",
    "Meyer", "Nowak", "Okafor", "Patel", "Rossi", "Silva", "Tanaka", "Weber",
];
const GROUP_TOPICS: &[&str] = &[
    "Finance",
    "Marketing",
    "Sales",
    "Engineering",
    "Automation Developers",
    "Analytics",
    "Legal",
    "HR",
    "Support",
    "Operations",
    "Security",
    "Product",
];

/// The timestamp generated records carry, so that a generated organization is the same on
/// every machine and every day.
const GENERATED_TIME: &str = "2026-01-01T00:00:00";

/// Builds an organization of the given size, the same one for the same spec, with the
/// built-in groups and one application granted every scope, with `secret`.
#[must_use]
pub fn generate(spec: GenerateSpec, secret: &str) -> Seed {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let users: Vec<SeedUser> = (1..=spec.users)
        .map(|n| {
            let first = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())];
            let last = LAST_NAMES[rng.random_range(0..LAST_NAMES.len())];
            let email = format!("user{n:06}@example.com");
            SeedUser {
                id: random_guid(&mut rng),
                user_name: email.clone(),
                email: Some(email),
                name: Some(first.into()),
                surname: Some(last.into()),
                display_name: None,
                user_type: 0,
                category: None,
                is_active: None,
                email_confirmed: None,
                invitation_accepted: None,
                bypass_basic_auth_restriction: None,
                legacy_id: None,
                creation_time: Some(GENERATED_TIME.into()),
                last_modification_time: None,
                last_login_time: None,
            }
        })
        .collect();
    let mut groups: Vec<SeedGroup> = (1..=spec.groups)
        .map(|n| SeedGroup {
            id: random_guid(&mut rng),
            name: format!("{} {n:04}", GROUP_TOPICS[(n - 1) % GROUP_TOPICS.len()]),
            group_type: CUSTOM,
            creation_time: Some(GENERATED_TIME.into()),
            last_modification_time: None,
            members: Vec::new(),
        })
        .collect();
    let mut memberships = BTreeSet::new();
    while memberships.len() < spec.memberships {
        memberships.insert((rng.random_range(0..spec.groups), rng.random_range(0..spec.users)));
    }
    for (group, user) in memberships {
        groups[group].members.push(users[user].id.clone());
    }
    Seed {
        organization: SANDBOX_ORGANIZATION.into(),
        partition_global_id: SANDBOX_PARTITION.into(),
        clients: vec![sandbox_client(secret)],
        users,
        groups,
    }
}

fn random_guid(rng: &mut ChaCha8Rng) -> String {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> Seed {
        generate("users=3,groups=2,memberships=3,seed=1".parse().unwrap(), "s3cret")
    }

    #[test]
    fn generation_is_deterministic_and_consistent() {
        let spec: GenerateSpec = "users=40,groups=4,memberships=50,seed=3".parse().unwrap();
        let a = generate(spec, "x");
        assert_eq!(a, generate(spec, "x"));
        assert_ne!(a, generate(GenerateSpec { seed: 4, ..spec }, "x"));
        assert_eq!(a.groups.iter().map(|g| g.members.len()).sum::<usize>(), 50);
        a.check().unwrap();
        Seed::empty("x").check().unwrap();
    }

    #[test]
    fn check_names_the_inconsistency() {
        let mut bad = seed();
        bad.groups[0].members.push("00000000-0000-4000-8000-000000000000".into());
        assert!(bad.check().unwrap_err().contains("is not the id of any user"));

        let mut bad = seed();
        bad.users[1].user_name = bad.users[0].user_name.to_uppercase();
        assert!(bad.check().unwrap_err().contains("userName"));

        let mut bad = seed();
        bad.groups[1].name = bad.groups[0].name.to_lowercase();
        assert!(bad.check().unwrap_err().contains("group name"));

        let mut bad = seed();
        bad.users[0].id = "jdoe".into();
        assert!(bad.check().unwrap_err().contains("is not a GUID"));

        let mut bad = seed();
        bad.partition_global_id = "acme".into();
        assert!(bad.check().unwrap_err().contains("partitionGlobalId"));

        let mut bad = seed();
        bad.groups[0].name = "everyone".into();
        assert!(bad.check().unwrap_err().contains("built in"));
        bad.groups[0].group_type = BUILT_IN;
        assert!(bad.check().unwrap_err().contains("implicitly"));

        let mut bad = seed();
        bad.users[0].user_type = 6;
        assert!(bad.check().unwrap_err().contains("integer enums"));

        let mut bad = seed();
        bad.organization = "acme/corp".into();
        assert!(bad.check().unwrap_err().contains("organization"));
    }
}
