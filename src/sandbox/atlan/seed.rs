//! The sandbox's tenant as a file: the seed users hand to `roster sandbox --seed`, the
//! `--state` file it keeps, and `GET /_sandbox/state`, all in one shape.
//!
//! Only `id` and `username` (users) or `name` (groups) are required, so a hand-written seed
//! stays short; every other field has the default a fresh Atlan tenant would show. The
//! state file fills every field in, so a restart reproduces the tenant exactly.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::sandbox::store;
pub use crate::sandbox::store::SeedError;

/// Attribute values are arrays of strings, as in Keycloak (and so in Atlan).
pub type Attributes = BTreeMap<String, Vec<String>>;

/// A whole tenant: roles, users and groups with their members.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Workspace roles; `$admin`, `$member` and `$guest` with fixed GUIDs when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<SeedRole>>,
    /// Users of the tenant.
    #[serde(default)]
    pub users: Vec<SeedUser>,
    /// Groups, each with the GUIDs of its members.
    #[serde(default)]
    pub groups: Vec<SeedGroup>,
}

/// A workspace role such as `$admin`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedRole {
    /// The role's GUID (tenant-specific in Atlan).
    pub id: String,
    /// The role's name, e.g. `$member`.
    pub name: String,
    /// Human description, e.g. `Member`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `workspace` for the three workspace roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
}

/// A user of the tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedUser {
    /// The user's GUID.
    pub id: String,
    /// Login name; stored lower-cased, as Keycloak does.
    pub username: String,
    /// Email address; stored lower-cased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Given name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Workspace role name (`$admin`, `$member`, `$guest`); `$member` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `true` for a user who was invited but has not signed up yet (Atlan refuses to update them).
    #[serde(default, skip_serializing_if = "is_false")]
    pub invited: bool,
    /// Whether the account is enabled; `true` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Whether the email was verified; `true` for signed-up users when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// Creation time, epoch milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_timestamp: Option<i64>,
    /// Last login, epoch milliseconds; none for users who never logged in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login_time: Option<i64>,
    /// Keycloak-style attributes (`designation`, `invitedAt`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: Attributes,
}

/// A group of the tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedGroup {
    /// The group's GUID.
    pub id: String,
    /// Internal name (`data_stewards`); the group's path is `/` + name.
    pub name: String,
    /// Display name; the name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Default groups are joined automatically by every invited user.
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_default: bool,
    /// GUIDs of the members.
    #[serde(default)]
    pub members: Vec<String>,
    /// Creation time, epoch milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    /// Who created the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Last update, epoch milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// Who last updated the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    /// Further attributes (`channels`, ...), kept as given.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: Attributes,
}

#[expect(clippy::trivially_copy_pass_by_ref, reason = "serde's skip_serializing_if passes a reference")]
fn is_false(value: &bool) -> bool {
    !*value
}

impl Seed {
    /// Reads and checks a seed or state file.
    pub fn load(path: &Path) -> Result<Seed, SeedError> {
        store::load(path, Seed::check)
    }

    /// Writes the tenant to `path` atomically: a temporary file beside it, synced, then
    /// renamed over it, so a sandbox killed mid-write leaves the previous state intact.
    pub fn save_atomically(&self, path: &Path) -> Result<(), SeedError> {
        store::save_atomically(self, path)
    }

    /// Checks what serde can't: unique ids and names, members that exist, known roles.
    pub fn check(&self) -> Result<(), String> {
        let roles = self.roles.clone().unwrap_or_else(default_roles);
        let role_names: HashSet<&str> = roles.iter().map(|r| r.name.as_str()).collect();
        unique(roles.iter().map(|r| r.id.as_str()), "role id")?;
        unique(roles.iter().map(|r| r.name.as_str()), "role name")?;
        unique(self.users.iter().map(|u| u.id.as_str()), "user id")?;
        let usernames: Vec<String> = self.users.iter().map(|u| u.username.to_lowercase()).collect();
        unique(usernames.iter().map(String::as_str), "username")?;
        let emails: Vec<String> =
            self.users.iter().filter_map(|u| u.email.as_ref().map(|e| e.to_lowercase())).collect();
        unique(emails.iter().map(String::as_str), "email")?;
        unique(self.groups.iter().map(|g| g.id.as_str()), "group id")?;
        unique(self.groups.iter().map(|g| g.name.as_str()), "group name")?;
        for user in &self.users {
            if user.id.is_empty() || user.username.is_empty() {
                return Err("every user needs a non-empty \"id\" and \"username\"".into());
            }
            if let Some(role) = &user.role
                && !role_names.contains(role.as_str())
            {
                return Err(format!(
                    "user {:?} has role {role:?}, which is not one of the tenant's roles",
                    user.username
                ));
            }
        }
        let user_ids: HashSet<&str> = self.users.iter().map(|u| u.id.as_str()).collect();
        for group in &self.groups {
            if group.id.is_empty() || group.name.is_empty() {
                return Err("every group needs a non-empty \"id\" and \"name\"".into());
            }
            if let Some(missing) = group.members.iter().find(|m| !user_ids.contains(m.as_str())) {
                return Err(format!(
                    "group {:?} lists member {missing:?}, which is not the id of any user",
                    group.name
                ));
            }
        }
        Ok(())
    }
}

fn unique<'a>(values: impl Iterator<Item = &'a str>, what: &str) -> Result<(), String> {
    let mut seen = HashSet::new();
    for value in values {
        if !seen.insert(value) {
            return Err(format!("{what} {value:?} appears more than once"));
        }
    }
    Ok(())
}

/// GUIDs of the default roles. Fixed, so that seeds and tests can name them; the values
/// are the ones Atlan's own documentation uses in its examples.
pub const ADMIN_ROLE_ID: &str = "be5f0df7-dab8-4107-8bf0-56ce7131623a";
/// GUID of the default `$member` role.
pub const MEMBER_ROLE_ID: &str = "620172e0-81df-4d30-a8b3-f92a69badd04";
/// GUID of the default `$guest` role.
pub const GUEST_ROLE_ID: &str = "0d1c39de-7323-4490-98d9-43240307eea7";

/// The three workspace roles every Atlan tenant has.
#[must_use]
pub fn default_roles() -> Vec<SeedRole> {
    [
        (ADMIN_ROLE_ID, "$admin", "Admin"),
        (MEMBER_ROLE_ID, "$member", "Member"),
        (GUEST_ROLE_ID, "$guest", "Guest"),
    ]
    .into_iter()
    .map(|(id, name, description)| SeedRole {
        id: id.into(),
        name: name.into(),
        description: Some(description.into()),
        level: Some("workspace".into()),
    })
    .collect()
}

/// What `--generate users=N,groups=M,memberships=K,seed=S` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerateSpec {
    /// Number of users.
    pub users: usize,
    /// Number of groups.
    pub groups: usize,
    /// Number of distinct (user, group) memberships.
    pub memberships: usize,
    /// Seed of the generator: the same spec always gives the same tenant.
    pub seed: u64,
}

impl FromStr for GenerateSpec {
    type Err = SeedError;

    fn from_str(text: &str) -> Result<Self, SeedError> {
        let bad = |why: String| SeedError::GenerateSpec(why);
        let mut spec = GenerateSpec { users: 0, groups: 0, memberships: 0, seed: 0 };
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("{part:?} is not KEY=NUMBER (e.g. users=1000)")))?;
            let number: u64 = value
                .trim()
                .parse()
                .map_err(|_| bad(format!("{value:?} in {part:?} is not a whole number")))?;
            let count = usize::try_from(number).map_err(|_| bad(format!("{number} is too large")))?;
            match key.trim() {
                "users" => spec.users = count,
                "groups" => spec.groups = count,
                "memberships" => spec.memberships = count,
                "seed" => spec.seed = number,
                other => {
                    return Err(bad(format!(
                        "unknown key {other:?}; use users=N,groups=M,memberships=K,seed=S"
                    )));
                }
            }
        }
        let possible = spec.users.saturating_mul(spec.groups);
        if spec.memberships > possible {
            return Err(bad(format!(
                "memberships={} is more than users × groups = {possible}",
                spec.memberships
            )));
        }
        Ok(spec)
    }
}

impl fmt::Display for GenerateSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "users={},groups={},memberships={},seed={}",
            self.users, self.groups, self.memberships, self.seed
        )
    }
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
    "finance",
    "marketing",
    "sales",
    "engineering",
    "data_stewards",
    "analytics",
    "legal",
    "hr",
    "support",
    "operations",
    "security",
    "product",
];

/// Epoch milliseconds the generator dates everything from (2026-01-01T00:00:00Z), so that a
/// generated tenant is the same on every machine and every day.
const GENERATED_EPOCH_MS: i64 = 1_767_225_600_000;

/// Builds a tenant of the given size, the same one for the same spec.
#[must_use]
pub fn generate(spec: GenerateSpec) -> Seed {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let users: Vec<SeedUser> = (1..=spec.users)
        .map(|n| {
            let first = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())];
            let last = LAST_NAMES[rng.random_range(0..LAST_NAMES.len())];
            let username = format!("user{n:06}");
            let role = match rng.random_range(0..20) {
                0 => "$admin",
                1..=3 => "$guest",
                _ => "$member",
            };
            let created = GENERATED_EPOCH_MS + rng.random_range(0..86_400_000 * 300);
            SeedUser {
                id: random_guid(&mut rng),
                email: Some(format!("{username}@example.com")),
                username,
                first_name: Some(first.into()),
                last_name: Some(last.into()),
                role: Some(role.into()),
                invited: false,
                enabled: None,
                email_verified: None,
                created_timestamp: Some(created),
                last_login_time: rng.random_bool(0.8).then(|| created + rng.random_range(0..86_400_000 * 30)),
                attributes: Attributes::new(),
            }
        })
        .collect();
    let mut groups: Vec<SeedGroup> = (1..=spec.groups)
        .map(|n| {
            let topic = GROUP_TOPICS[(n - 1) % GROUP_TOPICS.len()];
            let name = format!("{topic}_{n:04}");
            SeedGroup {
                id: random_guid(&mut rng),
                alias: Some(title_case(&name)),
                description: Some(format!("Generated group {n}")),
                name,
                is_default: false,
                members: Vec::new(),
                created_at: Some(GENERATED_EPOCH_MS),
                created_by: Some("roster-sandbox".into()),
                updated_at: None,
                updated_by: None,
                attributes: Attributes::new(),
            }
        })
        .collect();
    let mut memberships = BTreeSet::new();
    while memberships.len() < spec.memberships {
        memberships.insert((rng.random_range(0..spec.groups), rng.random_range(0..spec.users)));
    }
    for (group, user) in memberships {
        groups[group].members.push(users[user].id.clone());
    }
    Seed { roles: None, users, groups }
}

fn random_guid(rng: &mut ChaCha8Rng) -> String {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid().to_string()
}

fn title_case(name: &str) -> String {
    name.split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|c| c.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_spec_parses_every_key_and_rejects_nonsense() {
        let spec: GenerateSpec = "users=10, groups=3,memberships=5,seed=7".parse().unwrap();
        assert_eq!(spec, GenerateSpec { users: 10, groups: 3, memberships: 5, seed: 7 });
        assert!("users=ten".parse::<GenerateSpec>().is_err());
        assert!("people=3".parse::<GenerateSpec>().is_err());
        assert!("users=2,groups=2,memberships=5".parse::<GenerateSpec>().is_err());
    }

    #[test]
    fn generation_is_deterministic_for_a_seed_and_consistent() {
        let spec: GenerateSpec = "users=50,groups=5,memberships=100,seed=3".parse().unwrap();
        let a = generate(spec);
        assert_eq!(a, generate(spec));
        assert_ne!(a, generate(GenerateSpec { seed: 4, ..spec }));
        assert_eq!(a.users.len(), 50);
        assert_eq!(a.groups.iter().map(|g| g.members.len()).sum::<usize>(), 100);
        a.check().unwrap();
    }

    #[test]
    fn check_names_the_inconsistency() {
        let mut seed = generate("users=2,groups=1,memberships=1,seed=1".parse().unwrap());
        seed.groups[0].members.push("nobody".into());
        assert!(seed.check().unwrap_err().contains("\"nobody\""));
        seed.groups[0].members.pop();
        seed.users[1].username = seed.users[0].username.to_uppercase();
        assert!(seed.check().unwrap_err().contains("username"));
    }
}
