//! What changed between two exports: memberships added and removed, roles changed, users
//! added and removed; for the quarterly "what is different since the last review".
//!
//! Works on `memberships` exports (memberships, and roles from `user_role`) and on `users`
//! exports (users, and roles from `role`). Pure: two files in, one table out.

use std::collections::{BTreeMap, BTreeSet};

use crate::input::{Column, InputFile, restore};
use crate::output::table::Table;

/// The columns of a diff.
pub const DIFF_COLUMNS: [&str; 5] = ["change", "user", "group", "old_role", "new_role"];

/// What one export says: memberships present, and each user's role.
#[derive(Debug, Default)]
struct Snapshot {
    memberships: BTreeSet<(String, String)>,
    roles: BTreeMap<String, String>,
    users: BTreeSet<String>,
}

fn snapshot(file: &InputFile) -> Snapshot {
    let role_column = file.headers.iter().position(|h| h.trim().eq_ignore_ascii_case("user_role"));
    let mut snapshot = Snapshot::default();
    for row in &file.rows {
        let Some(user) = file.cell(row, Column::User).map(str::to_lowercase) else { continue };
        let action = file.cell(row, Column::Action).unwrap_or_default().to_lowercase();
        let role = role_column
            .and_then(|i| row.cells.get(i))
            .map(|c| restore(c.trim()).to_string())
            .or_else(|| file.cell(row, Column::Role).map(String::from))
            .filter(|r| !r.is_empty());
        if let Some(role) = role {
            snapshot.roles.insert(user.clone(), role);
        }
        snapshot.users.insert(user.clone());
        // An export lists present memberships as `keep` (or `add`) rows.
        if let (Some(group), "keep" | "add") = (file.cell(row, Column::Group), action.as_str()) {
            snapshot.memberships.insert((user, group.to_string()));
        }
    }
    snapshot
}

/// The changes from `old` to `new`, one row each, in a stable order.
#[must_use]
pub fn diff(old: &InputFile, new: &InputFile) -> Table {
    let (old, new) = (snapshot(old), snapshot(new));
    let mut table = Table::new(&DIFF_COLUMNS);
    let row = |change: &str, user: &str, group: &str, old_role: &str, new_role: &str| {
        vec![
            change.to_string(),
            user.to_string(),
            group.to_string(),
            old_role.to_string(),
            new_role.to_string(),
        ]
    };
    let memberships_compared = !old.memberships.is_empty() || !new.memberships.is_empty();
    for (user, group) in new.memberships.difference(&old.memberships) {
        table.push(row("membership_added", user, group, "", ""));
    }
    for (user, group) in old.memberships.difference(&new.memberships) {
        table.push(row("membership_removed", user, group, "", ""));
    }
    if !memberships_compared {
        // Users exports: users themselves come and go.
        for user in new.users.difference(&old.users) {
            table.push(row("user_added", user, "", "", new.roles.get(user).map_or("", String::as_str)));
        }
        for user in old.users.difference(&new.users) {
            table.push(row("user_removed", user, "", old.roles.get(user).map_or("", String::as_str), ""));
        }
    }
    for (user, old_role) in &old.roles {
        if let Some(new_role) = new.roles.get(user).filter(|r| *r != old_role) {
            table.push(row("role_changed", user, "", old_role, new_role));
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn file(text: &str) -> InputFile {
        InputFile::parse(Path::new("x.csv"), text.as_bytes()).unwrap()
    }

    #[test]
    fn memberships_added_removed_and_roles_changed() {
        let old = file(
            "action,user,group,user_role\nkeep,ann,hr,$member\nkeep,bob,hr,$admin\nkeep,bob,sales,$admin\n",
        );
        let new = file(
            "action,user,group,user_role\nkeep,ann,hr,$admin\nkeep,ann,sales,$admin\nkeep,bob,hr,$admin\n",
        );
        let rows: Vec<String> = diff(&old, &new).rows.iter().map(|r| r.join(",")).collect();
        assert_eq!(
            rows,
            [
                "membership_added,ann,sales,,",
                "membership_removed,bob,sales,,",
                "role_changed,ann,,$member,$admin"
            ]
        );
    }

    #[test]
    fn users_exports_show_users_coming_and_going() {
        let old = file("action,user,role\nset_role,ann,$member\nset_role,bob,$guest\n");
        let new = file("action,user,role\nset_role,ann,$member\nset_role,cy,$guest\n");
        let rows: Vec<String> = diff(&old, &new).rows.iter().map(|r| r.join(",")).collect();
        assert_eq!(rows, ["user_added,cy,,,$guest", "user_removed,bob,,$guest,"]);
    }

    #[test]
    fn identical_exports_have_no_differences() {
        let export = file("action,user,group,user_role\nkeep,ann,hr,$member\n");
        assert!(diff(&export, &export).rows.is_empty());
    }
}
