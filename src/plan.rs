//! From checked rows and what the tenant looks like now to the changes a run must make.
//!
//! This is pure: the [`Directory`] was read beforehand (by a provider, with as few calls as
//! it could), and the resulting [`Effect`]s are turned into API calls by the provider. Each
//! row ends up with a [`Disposition`]: a change to make, or already true (`unchanged`), or
//! not to be sent and why.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::model::{Change, GroupFields, GroupName, GroupRef, RoleRef, UserRef};
use crate::validation::{Checked, RowError, Verdict, cross_check};

/// A role of the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleInfo {
    /// GUID.
    pub id: String,
    /// Name, e.g. `$member`.
    pub name: String,
}

/// A user of the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// GUID.
    pub id: String,
    /// Username, lower-case.
    pub username: String,
    /// Email, lower-case.
    pub email: Option<String>,
    /// Workspace role name, when known.
    pub role: Option<String>,
}

/// A group of the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// GUID.
    pub id: String,
    /// Internal name.
    pub name: String,
    /// Display name.
    pub alias: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Whether new users join it automatically.
    pub is_default: bool,
    /// How many members it has.
    pub member_count: usize,
}

/// What a run knows about the tenant: the roles, the groups, the users the file names, and
/// the memberships it needs to tell whether an add or remove is already true.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// Every role.
    pub roles: Vec<RoleInfo>,
    /// Every group.
    pub groups: Vec<GroupInfo>,
    /// At least every user the file names (more if the provider listed them all).
    pub users: Vec<UserInfo>,
    /// Members of groups, for the (group, user) pairs whose membership was read.
    pub memberships: HashSet<(String, String)>,
    /// The (group, user) pairs the memberships cover: a pair absent from `memberships` but
    /// present here is known not to be a membership.
    pub membership_known: HashSet<(String, String)>,
    /// Every member (user GUIDs) of the groups read in full: those `--sync` makes equal to
    /// the file, and those about to be deleted (so that the undo file can bring them back).
    pub members_of: HashMap<String, Vec<String>>,
    /// Groups the platform won't let anyone change (UiPath's built-in Everyone,
    /// Administrators, ...).
    pub read_only_groups: HashSet<String>,
}

/// What the file needs the provider to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Users named by rows.
    pub users: BTreeSet<UserRef>,
    /// Whether any row sets a role.
    pub roles: bool,
    /// (group, user) pairs of `add` and `remove` rows, whose membership decides whether the
    /// row is already true.
    pub pairs: BTreeSet<(GroupRef, UserRef)>,
    /// Groups whose every member must be read (see [`Directory::members_of`]).
    pub full_groups: BTreeSet<GroupRef>,
}

impl Needs {
    /// Collects what the valid rows refer to; with `sync`, every group named by a
    /// membership row is read in full.
    #[must_use]
    pub fn of(rows: &[Checked], sync: bool) -> Needs {
        let mut needs = Needs::default();
        for change in rows.iter().filter_map(|r| match &r.verdict {
            Verdict::Valid(change) => Some(change),
            _ => None,
        }) {
            if let Some(user) = change.user() {
                needs.users.insert(user.clone());
            }
            match change {
                Change::Add { user, group } | Change::Remove { user, group } => {
                    needs.pairs.insert((group.clone(), user.clone()));
                }
                Change::SetRole { .. } => needs.roles = true,
                Change::DeleteGroup { group } => {
                    needs.full_groups.insert(group.clone());
                }
                _ => {}
            }
            if sync
                && let Change::Add { group, .. } | Change::Remove { group, .. } | Change::Keep { group, .. } =
                    change
            {
                needs.full_groups.insert(group.clone());
            }
        }
        needs
    }
}

/// Which group a membership change is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupTarget {
    /// A group that exists, by GUID.
    Existing(String),
    /// A group this run creates, by internal name.
    New(String),
}

/// One change to the tenant; a provider folds effects into as few calls as its API allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Put a user into a group.
    Join {
        /// User GUID.
        user: String,
        /// The group.
        group: GroupTarget,
    },
    /// Take a user out of a group.
    Leave {
        /// User GUID.
        user: String,
        /// Group GUID.
        group: String,
    },
    /// Give a user a role.
    SetRole {
        /// User GUID.
        user: String,
        /// Role GUID.
        role_id: String,
        /// Role name.
        role_name: String,
    },
    /// Create a group.
    CreateGroup {
        /// Internal name.
        name: String,
        /// Attributes.
        fields: GroupFields,
    },
    /// Change a group's attributes.
    UpdateGroup {
        /// Group GUID.
        id: String,
        /// Internal name (Atlan's update needs the path, `/` + name).
        name: String,
        /// The attributes to set.
        fields: GroupFields,
    },
    /// Delete a group.
    DeleteGroup {
        /// Group GUID.
        id: String,
    },
}

/// What becomes of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Needs `effect` (an index into [`Plan::effects`]).
    Change(usize),
    /// Already true; the text says how.
    Unchanged(String),
    /// Not acted on, by design (e.g. `keep`); the text says why.
    Skipped(String),
    /// The same change as the row on line `of`; it shares that row's outcome.
    Duplicate {
        /// The first row's line.
        of: u64,
    },
    /// Not to be sent.
    Invalid(RowError),
}

/// A row's plan, with the GUIDs it resolved to (for the results file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRow {
    /// The input line; for a removal `--sync` added, a number past the file's last line.
    pub line: u64,
    /// For a removal `--sync` added: the username and group name it is about (it has no
    /// input row of its own).
    pub synced: Option<(String, String)>,
    /// What becomes of it.
    pub disposition: Disposition,
    /// The user's GUID, when resolved.
    pub user_id: Option<String>,
    /// The group's GUID, when resolved.
    pub group_id: Option<String>,
}

/// Everything a run will do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// One per input row, in input order.
    pub rows: Vec<PlannedRow>,
    /// The changes to make.
    pub effects: Vec<Effect>,
}

impl Plan {
    /// Whether any row is invalid.
    #[must_use]
    pub fn has_invalid(&self) -> bool {
        self.rows.iter().any(|r| matches!(r.disposition, Disposition::Invalid(_)))
    }

    /// For each effect, the lines of the rows it serves: built in one pass, since a run
    /// of hundreds of thousands of rows must not scan them once per effect.
    #[must_use]
    pub fn lines_by_effect(&self) -> Vec<Vec<u64>> {
        let mut lines = vec![Vec::new(); self.effects.len()];
        for row in &self.rows {
            if let Disposition::Change(effect) = row.disposition {
                lines[effect].push(row.line);
            }
        }
        lines
    }
}

/// Indexes of a [`Directory`] for resolving the names rows use.
struct Index<'a> {
    directory: &'a Directory,
    users_by_id: HashMap<&'a str, &'a UserInfo>,
    users_by_name: HashMap<&'a str, &'a UserInfo>,
    users_by_email: HashMap<&'a str, &'a UserInfo>,
    groups_by_id: HashMap<&'a str, &'a GroupInfo>,
    groups_by_name: HashMap<String, &'a GroupInfo>,
}

impl<'a> Index<'a> {
    fn new(directory: &'a Directory) -> Index<'a> {
        let users = &directory.users;
        let groups = &directory.groups;
        Index {
            directory,
            users_by_id: users.iter().map(|u| (u.id.as_str(), u)).collect(),
            users_by_name: users.iter().map(|u| (u.username.as_str(), u)).collect(),
            users_by_email: users.iter().filter_map(|u| u.email.as_deref().map(|e| (e, u))).collect(),
            groups_by_id: groups.iter().map(|g| (g.id.as_str(), g)).collect(),
            // Names match without regard to case: UiPath's do, and Atlan's are lower-case.
            groups_by_name: groups.iter().map(|g| (g.name.to_lowercase(), g)).collect(),
        }
    }

    fn user(&self, user: &UserRef) -> Option<&'a UserInfo> {
        match user {
            UserRef::Id(id) => self.users_by_id.get(id.as_str()).copied(),
            UserRef::Email(email) => self.users_by_email.get(email.as_str()).copied(),
            UserRef::Username(name) => self.users_by_name.get(name.as_str()).copied(),
        }
    }

    fn group(&self, group: &GroupRef) -> Option<&'a GroupInfo> {
        match group {
            GroupRef::Id(id) => self.groups_by_id.get(id.as_str()).copied(),
            GroupRef::Name(name) => self.groups_by_name.get(&name.as_str().to_lowercase()).copied(),
        }
    }

    fn role(&self, role: &RoleRef) -> Option<&'a RoleInfo> {
        self.directory.roles.iter().find(|r| match role {
            RoleRef::Name(name) => r.name == *name,
            RoleRef::Id(id) => r.id == id.as_str(),
        })
    }

    /// A membership's state: `Some(true)` member, `Some(false)` not, `None` unknown.
    fn is_member(&self, group: &str, user: &str) -> Option<bool> {
        let pair = (group.to_string(), user.to_string());
        if self.directory.memberships.contains(&pair) {
            Some(true)
        } else if self.directory.membership_known.contains(&pair) {
            Some(false)
        } else {
            None
        }
    }

    /// A change with its user and group resolved to GUIDs where they exist, so that rows
    /// naming one user or group differently are compared as one.
    fn canonical(&self, change: &Change) -> Change {
        let user = |u: &UserRef| {
            self.user(u)
                .and_then(|info| crate::model::Guid::parse(&info.id).ok())
                .map_or_else(|| u.clone(), UserRef::Id)
        };
        let group = |g: &GroupRef| {
            self.group(g)
                .and_then(|info| GroupName::free(&info.name).ok())
                .map_or_else(|| g.clone(), GroupRef::Name)
        };
        match change {
            Change::Add { user: u, group: g } => Change::Add { user: user(u), group: group(g) },
            Change::Remove { user: u, group: g } => Change::Remove { user: user(u), group: group(g) },
            Change::Keep { user: u, group: g } => Change::Keep { user: user(u), group: group(g) },
            Change::KeepUser { user: u } => Change::KeepUser { user: user(u) },
            Change::SetRole { user: u, role } => Change::SetRole { user: user(u), role: role.clone() },
            Change::UpdateGroup { group: g, fields } => {
                Change::UpdateGroup { group: group(g), fields: fields.clone() }
            }
            Change::DeleteGroup { group: g } => Change::DeleteGroup { group: group(g) },
            Change::CreateGroup { .. } => change.clone(),
        }
    }
}

/// Decides what to do with each row, given the tenant as it is.
#[must_use]
pub fn plan(checked: &[Checked], directory: &Directory) -> Plan {
    let index = Index::new(directory);
    // Rows that name one user or group in different ways are duplicates or contradictions
    // too; only the tenant can tell.
    let mut checked = checked.to_vec();
    cross_check(&mut checked, &|change| index.canonical(change));
    let created: HashSet<&str> = checked
        .iter()
        .filter_map(|r| match &r.verdict {
            Verdict::Valid(Change::CreateGroup { name, .. })
                if index.group(&GroupRef::Name(name.clone())).is_none() =>
            {
                Some(name.as_str())
            }
            _ => None,
        })
        .collect();
    let mut planner = Planner { index: &index, created: &created, plan: Plan::default() };
    for row in &checked {
        let row_plan = planner.row(row);
        planner.plan.rows.push(row_plan);
    }
    planner.plan
}

struct Planner<'a> {
    index: &'a Index<'a>,
    created: &'a HashSet<&'a str>,
    plan: Plan,
}

impl Planner<'_> {
    fn effect(&mut self, effect: Effect) -> Disposition {
        self.plan.effects.push(effect);
        Disposition::Change(self.plan.effects.len() - 1)
    }

    fn row(&mut self, row: &Checked) -> PlannedRow {
        let mut planned = PlannedRow {
            line: row.line,
            synced: None,
            disposition: Disposition::Skipped(String::new()),
            user_id: None,
            group_id: None,
        };
        let change = match &row.verdict {
            Verdict::Valid(change) => change,
            Verdict::Duplicate { change, of } => {
                self.resolve_ids(change, &mut planned);
                planned.disposition = Disposition::Duplicate { of: *of };
                return planned;
            }
            Verdict::Invalid(error) => {
                planned.disposition = Disposition::Invalid(error.clone());
                return planned;
            }
            Verdict::Empty => {
                planned.disposition = Disposition::Skipped("empty row".into());
                return planned;
            }
        };
        self.resolve_ids(change, &mut planned);
        planned.disposition = self.decide(change).unwrap_or_else(Disposition::Invalid);
        planned
    }

    fn resolve_ids(&self, change: &Change, planned: &mut PlannedRow) {
        planned.user_id = change.user().and_then(|u| self.index.user(u)).map(|u| u.id.clone());
        planned.group_id = change.group().and_then(|g| self.index.group(g)).map(|g| g.id.clone());
    }

    fn user(&self, user: &UserRef) -> Result<&UserInfo, RowError> {
        self.index.user(user).ok_or_else(|| {
            let (how, value) = match user {
                UserRef::Id(id) => ("GUID", id.to_string()),
                UserRef::Email(email) => ("email", email.to_string()),
                UserRef::Username(name) => ("username", name.clone()),
            };
            RowError {
                column: Some("user".into()),
                problem: format!("no user with {how} {value:?} in the tenant"),
                fix: "check the spelling, or invite the user first".into(),
            }
        })
    }

    /// An existing group, or a group this run creates.
    fn group(&self, group: &GroupRef) -> Result<GroupTarget, RowError> {
        if let Some(info) = self.index.group(group) {
            return Ok(GroupTarget::Existing(info.id.clone()));
        }
        match group {
            GroupRef::Name(name) if self.created.contains(name.as_str()) => {
                Ok(GroupTarget::New(name.to_string()))
            }
            _ => Err(RowError {
                column: Some("group".into()),
                problem: format!("no group {group} in the tenant"),
                fix: "check the name (the internal name, not the display name), or add a create_group row"
                    .into(),
            }),
        }
    }

    /// Built-in groups (UiPath's Everyone, Administrators) can't be changed: only kept.
    fn refuse_built_in(&self, change: &Change) -> Result<(), RowError> {
        let read_only = &self.index.directory.read_only_groups;
        let built_in = change.group().and_then(|g| self.index.group(g)).filter(|g| read_only.contains(&g.id));
        match built_in {
            Some(group) if !matches!(change, Change::Keep { .. }) => Err(RowError {
                column: Some("group".into()),
                problem: format!("{} is a built-in group, which can't be changed", group.name),
                fix: "use a group of your own".into(),
            }),
            _ => Ok(()),
        }
    }

    fn decide(&mut self, change: &Change) -> Result<Disposition, RowError> {
        self.refuse_built_in(change)?;
        Ok(match change {
            Change::KeepUser { user } => {
                self.user(user)?;
                Disposition::Skipped("keep: no change asked for".into())
            }
            Change::Keep { user, group } => {
                self.user(user)?;
                self.group(group)?;
                Disposition::Skipped("keep: no change asked for".into())
            }
            Change::Add { user, group } => {
                let user = self.user(user)?.clone();
                match self.group(group)? {
                    GroupTarget::Existing(id) if self.index.is_member(&id, &user.id) == Some(true) => {
                        Disposition::Unchanged(format!("{} is already in {group}", user.username))
                    }
                    target => self.effect(Effect::Join { user: user.id, group: target }),
                }
            }
            Change::Remove { user, group } => {
                let user = self.user(user)?.clone();
                match self.group(group)? {
                    GroupTarget::Existing(id) if self.index.is_member(&id, &user.id) != Some(false) => {
                        self.effect(Effect::Leave { user: user.id, group: id })
                    }
                    _ => Disposition::Unchanged(format!("{} is not in {group}", user.username)),
                }
            }
            Change::SetRole { user, role } => {
                let user = self.user(user)?.clone();
                let role = self.index.role(role).ok_or_else(|| RowError {
                    column: Some("role".into()),
                    problem: format!("the tenant has no role {role}"),
                    fix: "use $admin, $member or $guest".into(),
                })?;
                if user.role.as_deref() == Some(role.name.as_str()) {
                    Disposition::Unchanged(format!("{} already has role {}", user.username, role.name))
                } else {
                    self.effect(Effect::SetRole {
                        user: user.id,
                        role_id: role.id.clone(),
                        role_name: role.name.clone(),
                    })
                }
            }
            Change::CreateGroup { name, fields } => match self.index.group(&GroupRef::Name(name.clone())) {
                None => self.effect(Effect::CreateGroup { name: name.to_string(), fields: fields.clone() }),
                Some(existing) if differences(existing, fields).is_empty() => {
                    Disposition::Unchanged(format!("group {name} already exists"))
                }
                Some(existing) => {
                    return Err(RowError::row(
                        format!(
                            "group {name} already exists with a different {}",
                            differences(existing, fields).join(", ")
                        ),
                        "use update_group to change an existing group",
                    ));
                }
            },
            Change::UpdateGroup { group, fields } => {
                let info = match self.group(group)? {
                    GroupTarget::Existing(_) => self.index.group(group).expect("an existing group"),
                    GroupTarget::New(name) => {
                        return Err(RowError::row(
                            format!("group {name} is created by another row of this file"),
                            "put its alias, description and is_default on the create_group row",
                        ));
                    }
                };
                let taken =
                    fields.new_name.as_ref().and_then(|n| self.index.group(&GroupRef::Name(n.clone())));
                if let Some(other) = taken.filter(|other| other.id != info.id) {
                    return Err(RowError {
                        column: Some("new_name".into()),
                        problem: format!("a group named {} exists already", other.name),
                        fix: "choose another name, or delete that group first".into(),
                    });
                }
                if differences(info, fields).is_empty() {
                    Disposition::Unchanged(format!("group {} already has these values", info.name))
                } else {
                    self.effect(Effect::UpdateGroup {
                        id: info.id.clone(),
                        name: info.name.clone(),
                        fields: fields.clone(),
                    })
                }
            }
            Change::DeleteGroup { group } => match self.index.group(group) {
                Some(info) => self.effect(Effect::DeleteGroup { id: info.id.clone() }),
                None => Disposition::Unchanged(format!("there is no group {group}: nothing to delete")),
            },
        })
    }
}

/// The fields a row sets to something other than what the group has.
fn differences(group: &GroupInfo, fields: &GroupFields) -> Vec<&'static str> {
    let mut differ = Vec::new();
    if fields.alias.as_ref().is_some_and(|a| Some(a) != group.alias.as_ref()) {
        differ.push("alias");
    }
    if fields.description.as_ref().is_some_and(|d| Some(d) != group.description.as_ref()) {
        differ.push("description");
    }
    if fields.is_default.is_some_and(|d| d != group.is_default) {
        differ.push("is_default");
    }
    if fields.new_name.as_ref().is_some_and(|n| n.as_str() != group.name) {
        differ.push("name");
    }
    differ
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::InputFile;
    use crate::validation::validate;
    use std::path::Path;

    const U1: &str = "00000000-0000-4000-8000-000000000001";
    const U2: &str = "00000000-0000-4000-8000-000000000002";
    const G1: &str = "00000000-0000-4000-8000-0000000000a1";
    const G2: &str = "00000000-0000-4000-8000-0000000000a2";

    fn directory() -> Directory {
        let user = |id: &str, name: &str, role: &str| UserInfo {
            id: id.into(),
            username: name.into(),
            email: Some(format!("{name}@example.com")),
            role: Some(role.into()),
        };
        let group = |id: &str, name: &str| GroupInfo {
            id: id.into(),
            name: name.into(),
            alias: Some(name.to_uppercase()),
            description: None,
            is_default: false,
            member_count: 1,
        };
        let pairs: HashSet<(String, String)> = [(G1, U1), (G1, U2), (G2, U1), (G2, U2)]
            .into_iter()
            .map(|(g, u)| (g.to_string(), u.to_string()))
            .collect();
        Directory {
            roles: vec![
                RoleInfo { id: "r-admin".into(), name: "$admin".into() },
                RoleInfo { id: "r-member".into(), name: "$member".into() },
            ],
            groups: vec![group(G1, "finance"), group(G2, "marketing")],
            users: vec![user(U1, "jdoe", "$member"), user(U2, "ann", "$admin")],
            memberships: HashSet::from([(G1.to_string(), U1.to_string()), (G2.to_string(), U1.to_string())]),
            membership_known: pairs,
            members_of: HashMap::new(),
            read_only_groups: HashSet::new(),
        }
    }

    fn plan_of(text: &str) -> Plan {
        let file = InputFile::parse(Path::new("in.csv"), text.as_bytes()).unwrap();
        plan(&validate(&file), &directory())
    }

    #[test]
    fn what_is_already_true_is_unchanged_and_the_rest_becomes_effects() {
        let plan = plan_of(
            "action,user,group,role,alias\n\
             add,jdoe,finance,,\nadd,ann,finance,,\nremove,ann,marketing,,\nremove,jdoe,marketing,,\n\
             set_role,jdoe,,member,\nset_role,ann,,member,\nkeep,jdoe,finance,,\n",
        );
        let kinds: Vec<String> = plan
            .rows
            .iter()
            .map(|r| match &r.disposition {
                Disposition::Change(i) => {
                    format!("{:?}", plan.effects[*i]).split_whitespace().next().unwrap().to_string()
                }
                other => format!("{other:?}").split('(').next().unwrap().to_string(),
            })
            .collect();
        assert_eq!(kinds, ["Unchanged", "Join", "Unchanged", "Leave", "Unchanged", "SetRole", "Skipped"]);
        assert_eq!(plan.rows[1].user_id.as_deref(), Some(U2));
        assert_eq!(plan.rows[1].group_id.as_deref(), Some(G1));
    }

    #[test]
    fn members_of_a_group_created_in_the_same_file_join_the_new_group() {
        let plan =
            plan_of("action,user,group,alias\ncreate_group,,hr,HR\nadd,jdoe,hr,\nadd,ann@example.com,hr,\n");
        assert_eq!(
            plan.effects[0],
            Effect::CreateGroup {
                name: "hr".into(),
                fields: GroupFields { alias: Some("HR".into()), ..GroupFields::default() }
            }
        );
        assert_eq!(plan.effects[1], Effect::Join { user: U1.into(), group: GroupTarget::New("hr".into()) });
        assert_eq!(plan.effects.len(), 3);
        assert_eq!(plan.lines_by_effect(), [vec![2], vec![3], vec![4]]);
    }

    #[test]
    fn unknown_users_groups_and_roles_are_invalid_with_a_fix() {
        let plan =
            plan_of("action,user,group,role\nadd,ghost,finance,\nadd,jdoe,nowhere,\nset_role,jdoe,,guest\n");
        let errors: Vec<String> = plan
            .rows
            .iter()
            .map(|r| match &r.disposition {
                Disposition::Invalid(e) => e.to_string(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            errors[0],
            "column user: no user with username \"ghost\" in the tenant; check the spelling, or invite the user first"
        );
        assert!(errors[1].starts_with("column group: no group nowhere in the tenant"));
        assert!(errors[2].starts_with("column role: the tenant has no role $guest"));
    }

    #[test]
    fn one_user_named_two_ways_is_a_duplicate_or_a_contradiction() {
        let plan = plan_of("action,user,group\nadd,ann,finance\nadd,ann@example.com,finance\n");
        assert_eq!(plan.rows[1].disposition, Disposition::Duplicate { of: 2 });
        let plan = plan_of("action,user,group\nadd,ann,marketing\nremove,ann@example.com,marketing\n");
        assert!(plan.has_invalid());
    }

    #[test]
    fn groups_create_update_delete_against_the_tenant() {
        let plan = plan_of(
            "action,group,alias,description\ncreate_group,finance,FINANCE,\ncreate_group,marketing,Other,\n\
             update_group,finance,FINANCE,\nupdate_group,marketing,,New text\ndelete_group,gone,,\n",
        );
        assert!(matches!(plan.rows[0].disposition, Disposition::Unchanged(_)));
        assert!(
            matches!(&plan.rows[1].disposition, Disposition::Invalid(e) if e.problem.contains("different alias"))
        );
        assert!(matches!(plan.rows[2].disposition, Disposition::Unchanged(_)));
        assert!(matches!(plan.rows[3].disposition, Disposition::Change(_)));
        assert!(
            matches!(&plan.rows[4].disposition, Disposition::Unchanged(d) if d.contains("nothing to delete"))
        );
    }
}
