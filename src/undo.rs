//! The undo file: for every change an import made, the row that reverses it, importable as
//! it is (`roster import <stem>.undo.csv`).
//!
//! Reversals need the tenant as it was before the run, which the plan's [`Directory`] holds:
//! a user's old role, a group's old attributes, and the members of a deleted group.

use std::collections::BTreeMap;

use crate::outcome::{RowResult, Status};
use crate::output::table::Table;
use crate::plan::{Directory, Effect, GroupTarget, Plan};

/// The undo file's columns: the import format, and the lines each row reverses.
pub const UNDO_COLUMNS: [&str; 9] =
    ["action", "user", "group", "role", "alias", "description", "is_default", "new_name", "undoes_line"];

/// One reversing row; empty fields are left out of the import (as in any input file).
#[derive(Debug, Default)]
struct Reversal {
    order: u8,
    action: &'static str,
    user: String,
    group: String,
    role: String,
    alias: String,
    description: String,
    is_default: String,
    new_name: String,
}

impl Reversal {
    fn new(order: u8, action: &'static str, group: String) -> Reversal {
        Reversal { order, action, group, ..Reversal::default() }
    }

    fn membership(order: u8, action: &'static str, user: String, group: String) -> Reversal {
        Reversal { user, ..Reversal::new(order, action, group) }
    }

    fn cells(self, undoes: String) -> Vec<String> {
        vec![
            self.action.to_string(),
            self.user,
            self.group,
            self.role,
            self.alias,
            self.description,
            self.is_default,
            self.new_name,
            undoes,
        ]
    }
}

/// The rows that reverse the plan's effects that were carried out (`ok`); empty when
/// nothing changed. Recreated groups come first and deleted ones last, so the file
/// imports in one go.
#[must_use]
pub fn undo(plan: &Plan, directory: &Directory, results: &BTreeMap<u64, RowResult>) -> Table {
    let lines_by_effect = plan.lines_by_effect();
    let synced: std::collections::HashSet<u64> =
        plan.rows.iter().filter(|r| r.synced.is_some()).map(|r| r.line).collect();
    let done = |index: usize| {
        lines_by_effect[index].iter().any(|line| results.get(line).is_some_and(|r| r.status == Status::Ok))
    };
    // Groups the run renamed go by their new names in every reversal: the undo file is
    // planned against the tenant as this run leaves it.
    let renamed: BTreeMap<&str, String> = plan
        .effects
        .iter()
        .enumerate()
        .filter(|(index, _)| done(*index))
        .filter_map(|(_, effect)| match effect {
            Effect::UpdateGroup { id, fields, .. } => {
                fields.new_name.as_ref().map(|name| (id.as_str(), name.to_string()))
            }
            _ => None,
        })
        .collect();
    let mut rows: Vec<(u8, Vec<String>)> = Vec::new();
    for (index, effect) in plan.effects.iter().enumerate() {
        if !done(index) {
            continue;
        }
        let undoes = lines_by_effect[index]
            .iter()
            .map(|line| if synced.contains(line) { "sync".to_string() } else { line.to_string() })
            .collect::<Vec<_>>()
            .join(" ");
        for reversal in reverse(effect, directory, &renamed) {
            rows.push((reversal.order, reversal.cells(undoes.clone())));
        }
    }
    rows.sort_by_key(|(order, _)| *order);
    let mut table = Table::new(&UNDO_COLUMNS);
    for (_, row) in rows {
        table.push(row);
    }
    table
}

fn reverse(effect: &Effect, directory: &Directory, renamed: &BTreeMap<&str, String>) -> Vec<Reversal> {
    let user = |id: &str| directory.users.iter().find(|u| u.id == id);
    let username = |id: &str| user(id).map_or(id.to_string(), |u| u.username.clone());
    let group = |id: &str| directory.groups.iter().find(|g| g.id == id);
    let group_name = |id: &str| {
        renamed.get(id).cloned().unwrap_or_else(|| group(id).map_or(id.to_string(), |g| g.name.clone()))
    };
    match effect {
        Effect::DeleteGroup { id } => {
            let Some(old) = group(id) else { return Vec::new() };
            let recreate = Reversal {
                alias: old.alias.clone().unwrap_or_default(),
                description: old.description.clone().unwrap_or_default(),
                is_default: old.is_default.to_string(),
                ..Reversal::new(0, "create_group", old.name.clone())
            };
            let members = directory.members_of.get(id).into_iter().flatten();
            std::iter::once(recreate)
                .chain(members.map(|m| Reversal::membership(1, "add", username(m), old.name.clone())))
                .collect()
        }
        Effect::Leave { user: u, group: g } => {
            vec![Reversal::membership(1, "add", username(u), group_name(g))]
        }
        Effect::Join { user: u, group: GroupTarget::Existing(g) } => {
            vec![Reversal::membership(2, "remove", username(u), group_name(g))]
        }
        // Undone by deleting the new group.
        Effect::Join { group: GroupTarget::New(_), .. } => Vec::new(),
        Effect::SetRole { user: u, .. } => user(u)
            .and_then(|x| x.role.clone())
            .map(|role| Reversal { user: username(u), role, ..Reversal::new(2, "set_role", String::new()) })
            .into_iter()
            .collect(),
        Effect::UpdateGroup { id, name, fields } => {
            let Some(old) = group(id) else { return Vec::new() };
            if let Some(new_name) = &fields.new_name {
                // A rename goes back by the group's new name.
                return vec![Reversal {
                    new_name: old.name.clone(),
                    ..Reversal::new(2, "update_group", new_name.to_string())
                }];
            }
            // Only the fields the run set go back. One that was empty before can't be
            // restored by import, where an empty cell means "leave alone".
            let back = |set: bool, value: Option<String>| {
                if set { value.unwrap_or_default() } else { String::new() }
            };
            let reversal = Reversal {
                alias: back(fields.alias.is_some(), old.alias.clone()),
                description: back(fields.description.is_some(), old.description.clone()),
                is_default: back(fields.is_default.is_some(), Some(old.is_default.to_string())),
                ..Reversal::new(2, "update_group", name.clone())
            };
            let empty = reversal.alias.is_empty()
                && reversal.description.is_empty()
                && reversal.is_default.is_empty();
            if empty { Vec::new() } else { vec![reversal] }
        }
        Effect::CreateGroup { name, .. } => vec![Reversal::new(3, "delete_group", name.clone())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::InputFile;
    use crate::plan::{GroupInfo, RoleInfo, UserInfo, plan};
    use crate::validation::{Rules, validate, validate_for};
    use std::path::Path;

    fn guid(n: u8) -> String {
        format!("00000000-0000-4000-8000-0000000000{n:02}")
    }

    #[test]
    fn every_kind_of_change_is_reversed_in_an_order_that_works() {
        let user = |n: u8, name: &str, role: &str| UserInfo {
            id: guid(n),
            username: name.into(),
            email: None,
            role: Some(role.into()),
        };
        let group = |n: u8, name: &str, alias: &str| GroupInfo {
            id: guid(n),
            name: name.into(),
            alias: Some(alias.into()),
            description: Some("old".into()),
            is_default: false,
            member_count: 1,
        };
        let mut directory = Directory {
            roles: vec![
                RoleInfo { id: "r1".into(), name: "$admin".into() },
                RoleInfo { id: "r2".into(), name: "$member".into() },
            ],
            users: vec![user(1, "ann", "$member"), user(2, "bob", "$member")],
            groups: vec![group(10, "hr", "HR"), group(11, "old_team", "Old Team")],
            ..Directory::default()
        };
        directory.members_of.insert(guid(11), vec![guid(2)]);
        directory.membership_known.insert((guid(10), guid(1)));
        directory.membership_known.insert((guid(10), guid(2)));
        directory.memberships.insert((guid(10), guid(2)));
        let file = InputFile::parse(
            Path::new("in.csv"),
            b"action,user,group,role,alias\nadd,ann,hr,,\nremove,bob,hr,,\nset_role,ann,,admin,\n\
              update_group,,hr,,Human Resources\ncreate_group,,new_team,,\ndelete_group,,old_team,,\n",
        )
        .unwrap();
        let plan = plan(&validate(&file), &directory);
        let results: BTreeMap<u64, RowResult> =
            (2..=7).map(|line| (line, RowResult::new(line, Status::Ok, "done"))).collect();
        let rows: Vec<String> = undo(&plan, &directory, &results).rows.iter().map(|r| r.join(",")).collect();
        assert_eq!(
            rows,
            [
                "create_group,,old_team,,Old Team,old,false,,7",
                "add,bob,hr,,,,,,3",
                "add,bob,old_team,,,,,,7",
                "remove,ann,hr,,,,,,2",
                "set_role,ann,,$member,,,,,4",
                "update_group,,hr,,HR,,,,5",
                "delete_group,,new_team,,,,,,6",
            ]
        );
        let nothing: BTreeMap<u64, RowResult> = BTreeMap::new();
        assert!(undo(&plan, &directory, &nothing).rows.is_empty());
    }

    #[test]
    fn a_group_renamed_by_the_run_goes_by_its_new_name() {
        let group = |n: u8, name: &str| GroupInfo {
            id: guid(n),
            name: name.into(),
            alias: None,
            description: None,
            is_default: false,
            member_count: 1,
        };
        let mut directory = Directory {
            users: vec![
                UserInfo { id: guid(1), username: "ann".into(), email: None, role: None },
                UserInfo { id: guid(2), username: "bob".into(), email: None, role: None },
            ],
            groups: vec![group(10, "HR Team")],
            ..Directory::default()
        };
        for user in [guid(1), guid(2)] {
            directory.membership_known.insert((guid(10), user));
        }
        directory.memberships.insert((guid(10), guid(2)));
        let file = InputFile::parse(
            Path::new("in.csv"),
            b"action,user,group,new_name\nupdate_group,,HR Team,People Team\nadd,ann,HR Team,\nremove,bob,HR Team,\n",
        )
        .unwrap();
        let plan = plan(&validate_for(&file, &Rules::UIPATH), &directory);
        let results: BTreeMap<u64, RowResult> =
            (2..=4).map(|line| (line, RowResult::new(line, Status::Ok, "done"))).collect();
        let rows: Vec<String> = undo(&plan, &directory, &results).rows.iter().map(|r| r.join(",")).collect();
        assert_eq!(
            rows,
            [
                "add,bob,People Team,,,,,,4",
                "update_group,,People Team,,,,,HR Team,2",
                "remove,ann,People Team,,,,,,3",
            ]
        );
    }
}
