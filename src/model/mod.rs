//! What a row asks for, once its cells have been parsed: the domain every later stage
//! (validation, plan, execution, results) speaks.

pub mod values;

use std::fmt;
use std::str::FromStr;

pub use values::{Email, GroupName, GroupRef, Guid, NameRule, RoleRef, UserRef, ValueError};

/// The `action` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Put a user into a group.
    Add,
    /// Take a user out of a group.
    Remove,
    /// No change: what export writes, so a reviewer only edits the rows to revoke.
    Keep,
    /// Give a user a workspace role.
    SetRole,
    /// Create a group (its members may follow as `add` rows).
    CreateGroup,
    /// Change a group's alias, description or default flag.
    UpdateGroup,
    /// Delete a group.
    DeleteGroup,
}

impl Action {
    /// Every action, in the order the README lists them.
    pub const ALL: [Action; 7] = [
        Action::Add,
        Action::Remove,
        Action::Keep,
        Action::SetRole,
        Action::CreateGroup,
        Action::UpdateGroup,
        Action::DeleteGroup,
    ];

    /// The action's name in files.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Add => "add",
            Action::Remove => "remove",
            Action::Keep => "keep",
            Action::SetRole => "set_role",
            Action::CreateGroup => "create_group",
            Action::UpdateGroup => "update_group",
            Action::DeleteGroup => "delete_group",
        }
    }

    /// Whether the action takes something away (and so needs `--yes` outside a dry run).
    #[must_use]
    pub fn is_destructive(self) -> bool {
        matches!(self, Action::Remove | Action::DeleteGroup)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = ValueError;

    /// Case-insensitive; `-` and spaces count as `_` (`Set Role`, `set-role`).
    fn from_str(text: &str) -> Result<Action, ValueError> {
        let normalized = text.trim().to_lowercase().replace(['-', ' '], "_");
        Action::ALL.into_iter().find(|a| a.as_str() == normalized).ok_or_else(|| ValueError {
            problem: format!("{text:?} is not an action"),
            fix: format!(
                "use one of {}",
                Action::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
            ),
        })
    }
}

/// The group attributes a `create_group` or `update_group` row may set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct GroupFields {
    /// Display name.
    pub alias: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Whether new users join the group automatically.
    pub is_default: Option<bool>,
    /// A new name (`update_group` with `new_name`, where the platform renames groups).
    pub new_name: Option<GroupName>,
}

impl GroupFields {
    /// Whether no field is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.alias.is_none()
            && self.description.is_none()
            && self.is_default.is_none()
            && self.new_name.is_none()
    }
}

/// One row's request, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Change {
    /// `add`: the user should be in the group.
    Add {
        /// Who.
        user: UserRef,
        /// Into which group.
        group: GroupRef,
    },
    /// `remove`: the user should not be in the group.
    Remove {
        /// Who.
        user: UserRef,
        /// Out of which group.
        group: GroupRef,
    },
    /// `keep`: no change.
    Keep {
        /// Who.
        user: UserRef,
        /// Which group.
        group: GroupRef,
    },
    /// `keep` with no group: the user stays as is (what a users export writes on platforms
    /// without roles).
    KeepUser {
        /// Who.
        user: UserRef,
    },
    /// `set_role`: the user should have this workspace role.
    SetRole {
        /// Who.
        user: UserRef,
        /// Which role.
        role: RoleRef,
    },
    /// `create_group`: the group should exist.
    CreateGroup {
        /// Its internal name.
        name: GroupName,
        /// Its attributes.
        fields: GroupFields,
    },
    /// `update_group`: the group's attributes should be these.
    UpdateGroup {
        /// Which group.
        group: GroupRef,
        /// The attributes to set; unset ones are left alone.
        fields: GroupFields,
    },
    /// `delete_group`: the group should not exist.
    DeleteGroup {
        /// Which group.
        group: GroupRef,
    },
}

impl Change {
    /// The row's action.
    #[must_use]
    pub fn action(&self) -> Action {
        match self {
            Change::Add { .. } => Action::Add,
            Change::Remove { .. } => Action::Remove,
            Change::Keep { .. } | Change::KeepUser { .. } => Action::Keep,
            Change::SetRole { .. } => Action::SetRole,
            Change::CreateGroup { .. } => Action::CreateGroup,
            Change::UpdateGroup { .. } => Action::UpdateGroup,
            Change::DeleteGroup { .. } => Action::DeleteGroup,
        }
    }

    /// The user the row is about, if any.
    #[must_use]
    pub fn user(&self) -> Option<&UserRef> {
        match self {
            Change::Add { user, .. }
            | Change::Remove { user, .. }
            | Change::Keep { user, .. }
            | Change::KeepUser { user }
            | Change::SetRole { user, .. } => Some(user),
            _ => None,
        }
    }

    /// The existing group the row is about, if any (not the one a `create_group` makes).
    #[must_use]
    pub fn group(&self) -> Option<&GroupRef> {
        match self {
            Change::Add { group, .. }
            | Change::Remove { group, .. }
            | Change::Keep { group, .. }
            | Change::UpdateGroup { group, .. }
            | Change::DeleteGroup { group } => Some(group),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse_loosely_and_list_the_choices_when_unknown() {
        assert_eq!("Set Role".parse::<Action>().unwrap(), Action::SetRole);
        assert_eq!("CREATE-GROUP".parse::<Action>().unwrap(), Action::CreateGroup);
        let error = "grant".parse::<Action>().unwrap_err();
        assert!(error.fix.contains("add, remove, keep, set_role"), "{error:?}");
    }
}
