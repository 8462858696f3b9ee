//! Desired-state sync: `import FILE --sync` makes the membership of every group the file
//! names equal to the file. Members the file doesn't list are removed; the guard rails
//! refuse a run whose removals exceed `--max-removals`, or which would empty a group.
//!
//! Pure: it extends a plan, given every member of the groups in scope.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::Change;
use crate::plan::{Directory, Disposition, Effect, GroupTarget, Plan, PlannedRow};
use crate::validation::{Checked, RowError};

/// The default `--max-removals`: small, so a truncated or wrong file can't strip a tenant.
pub const DEFAULT_MAX_REMOVALS: usize = 10;

/// What sync added to a plan, and what its guard rails say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Memberships the file doesn't list, now removals.
    pub added_removals: usize,
    /// All removals of the run (the file's own `remove` rows too).
    pub removals: usize,
    /// Groups (by name) that would be left without members.
    pub emptied: Vec<String>,
}

impl SyncReport {
    /// Why the run must not go ahead, if it mustn't.
    #[must_use]
    pub fn refusal(&self, max_removals: usize) -> Option<String> {
        if !self.emptied.is_empty() {
            return Some(format!(
                "--sync would leave group(s) {} without members; list at least one member of each (or drop --sync)",
                self.emptied.join(", ")
            ));
        }
        (self.removals > max_removals).then(|| {
            format!(
                "--sync would remove {} membership(s), more than --max-removals {max_removals}; check the file, then raise --max-removals if it is right",
                self.removals
            )
        })
    }
}

/// Adds a removal for every member of a group in scope that the file doesn't keep or add.
/// `checked` and `plan.rows` are the file's rows in the same order.
///
/// Built-in groups (UiPath's Everyone and Administrators) can't be changed, so `--sync`
/// can't make them equal to the file: a removal it would need there, and a `keep` of a
/// non-member (an add), are invalid rows, which hold the file back like any other.
pub fn add_removals(plan: &mut Plan, checked: &[Checked], directory: &Directory) -> SyncReport {
    // Per group in scope: the users the file wants in it, and those it removes itself.
    let mut wanted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut removed: BTreeSet<(String, String)> = BTreeSet::new();
    // Groups someone stays in or joins.
    let mut staying: BTreeSet<String> = BTreeSet::new();
    let is_member = |group: &str, user: &str| {
        directory.members_of.get(group).is_some_and(|m| m.iter().any(|u| u == user))
    };
    let name_of_group =
        |id: &str| directory.groups.iter().find(|g| g.id == id).map_or(id.to_string(), |g| g.name.clone());
    let built_in = |group: &str, problem: String| {
        directory.read_only_groups.contains(group).then(|| RowError {
            column: Some("group".into()),
            problem: format!(
                "{} is a built-in group, which can't be changed: {problem}",
                name_of_group(group)
            ),
            fix: "leave the group out of a --sync file, or list exactly its members".into(),
        })
    };
    let mut refused: Vec<(usize, RowError)> = Vec::new();
    // Under --sync a `keep` says "in the group": for someone who isn't, it becomes an add.
    let mut joins: Vec<(usize, String, String)> = Vec::new();
    for (index, (row, planned)) in checked.iter().zip(&plan.rows).enumerate() {
        let (Some(change), Some(group)) = (row.change(), planned.group_id.clone()) else { continue };
        if matches!(planned.disposition, Disposition::Invalid(_)) {
            continue;
        }
        let users = wanted.entry(group.clone()).or_default();
        match (change, planned.user_id.clone()) {
            (Change::Add { .. } | Change::Keep { .. }, Some(user)) => {
                let stale_keep = matches!(change, Change::Keep { .. }) && !is_member(&group, &user);
                if stale_keep && matches!(planned.disposition, Disposition::Skipped(_)) {
                    match built_in(&group, "--sync would add this user, who is not a member".into()) {
                        Some(error) => refused.push((index, error)),
                        None => joins.push((index, user.clone(), group.clone())),
                    }
                }
                staying.insert(group.clone());
                users.insert(user);
            }
            (Change::Remove { .. }, Some(user)) => {
                removed.insert((group, user));
            }
            _ => {}
        }
    }
    for (index, user, group) in joins {
        plan.effects.push(Effect::Join { user, group: GroupTarget::Existing(group) });
        plan.rows[index].disposition = Disposition::Change(plan.effects.len() - 1);
    }
    for (index, error) in refused {
        plan.rows[index].disposition = Disposition::Invalid(error);
    }
    let name_of_user =
        |id: &str| directory.users.iter().find(|u| u.id == id).map_or(id.to_string(), |u| u.username.clone());
    let mut report = SyncReport::default();
    let mut next_line = plan.rows.iter().map(|r| r.line).max().unwrap_or(1) + 1;
    for (group, users) in &wanted {
        if !staying.contains(group) {
            report.emptied.push(name_of_group(group));
        }
        let members = directory.members_of.get(group).map_or(&[][..], Vec::as_slice);
        for member in members {
            if users.contains(member) || removed.contains(&(group.clone(), member.clone())) {
                continue;
            }
            let disposition = if let Some(error) = built_in(group, "--sync would remove this member".into()) {
                Disposition::Invalid(error)
            } else {
                plan.effects.push(Effect::Leave { user: member.clone(), group: group.clone() });
                report.added_removals += 1;
                Disposition::Change(plan.effects.len() - 1)
            };
            plan.rows.push(PlannedRow {
                line: next_line,
                synced: Some((name_of_user(member), name_of_group(group))),
                disposition,
                user_id: Some(member.clone()),
                group_id: Some(group.clone()),
            });
            next_line += 1;
        }
    }
    report.removals = plan.effects.iter().filter(|e| matches!(e, Effect::Leave { .. })).count();
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::InputFile;
    use crate::plan::{GroupInfo, UserInfo, plan};
    use crate::validation::validate;
    use std::path::Path;

    fn guid(n: u8) -> String {
        format!("00000000-0000-4000-8000-0000000000{n:02}")
    }

    fn directory() -> Directory {
        let user =
            |n: u8, name: &str| UserInfo { id: guid(n), username: name.into(), email: None, role: None };
        let group = |n: u8, name: &str| GroupInfo {
            id: guid(n),
            name: name.into(),
            alias: None,
            description: None,
            is_default: false,
            member_count: 3,
        };
        let mut directory = Directory {
            users: vec![user(1, "ann"), user(2, "bob"), user(3, "cy")],
            groups: vec![group(10, "hr"), group(11, "sales")],
            ..Directory::default()
        };
        for g in [10, 11] {
            directory.members_of.insert(guid(g), vec![guid(1), guid(2), guid(3)]);
            for u in [1, 2, 3] {
                directory.memberships.insert((guid(g), guid(u)));
                directory.membership_known.insert((guid(g), guid(u)));
            }
        }
        directory
    }

    fn synced(text: &str) -> (Plan, SyncReport) {
        let file = InputFile::parse(Path::new("in.csv"), text.as_bytes()).unwrap();
        let checked = validate(&file);
        let directory = directory();
        let mut plan = plan(&checked, &directory);
        let report = add_removals(&mut plan, &checked, &directory);
        (plan, report)
    }

    #[test]
    fn members_the_file_does_not_list_are_removed_from_the_groups_it_names() {
        let (plan, report) = synced("action,user,group\nkeep,ann,hr\nremove,bob,hr\n");
        assert_eq!(report, SyncReport { added_removals: 1, removals: 2, emptied: vec![] });
        let extra = plan.rows.last().unwrap();
        assert_eq!(extra.synced, Some(("cy".to_string(), "hr".to_string())));
        assert_eq!(extra.line, 4, "numbered after the file's last line");
        assert!(
            plan.rows.iter().all(|r| r.group_id.as_deref() != Some(guid(11).as_str())),
            "sales is not in scope"
        );
    }

    #[test]
    fn the_guard_rails_refuse_too_many_removals_and_emptied_groups() {
        let (_, report) = synced("action,user,group\nkeep,ann,hr\n");
        assert_eq!(report.removals, 2);
        assert!(report.refusal(1).unwrap().contains("more than --max-removals 1"));
        assert_eq!(report.refusal(2), None);
        let (_, report) = synced("action,user,group\nremove,ann,hr\n");
        assert_eq!(report.emptied, ["hr"]);
        assert!(report.refusal(100).unwrap().contains("without members"));
    }

    #[test]
    fn built_in_groups_are_never_changed_the_rows_that_would_are_invalid() {
        let mut directory = directory();
        directory.read_only_groups.insert(guid(10));
        let file = InputFile::parse(Path::new("in.csv"), b"action,user,group\nkeep,ann,hr\nkeep,ann,sales\n")
            .unwrap();
        let checked = validate(&file);
        let mut planned = plan(&checked, &directory);
        let report = add_removals(&mut planned, &checked, &directory);
        // bob and cy leave sales; in hr, which is built in, they stay, and their rows say why.
        assert_eq!((report.added_removals, report.removals), (2, 2), "{report:?}");
        assert!(
            planned.effects.iter().all(|e| matches!(e, Effect::Leave { group, .. } if *group == guid(11)))
        );
        let invalid: Vec<(u64, &str)> = planned
            .rows
            .iter()
            .filter_map(|r| match &r.disposition {
                Disposition::Invalid(e) => Some((r.line, e.problem.as_str())),
                _ => None,
            })
            .collect();
        let why = "hr is a built-in group, which can't be changed: --sync would remove this member";
        assert_eq!(invalid, [(4, why), (5, why)]);

        // A keep of a non-member would be an add.
        directory.members_of.insert(guid(10), vec![guid(1)]);
        let file = InputFile::parse(Path::new("in.csv"), b"action,user,group\nkeep,cy,hr\n").unwrap();
        let checked = validate(&file);
        let mut planned = plan(&checked, &directory);
        add_removals(&mut planned, &checked, &directory);
        assert!(
            matches!(&planned.rows[0].disposition, Disposition::Invalid(e) if e.problem.ends_with("--sync would add this user, who is not a member")),
            "{:?}",
            planned.rows[0]
        );
        assert!(
            planned.effects.is_empty(),
            "nothing for hr; ann's removal is invalid too: {:?}",
            planned.effects
        );
    }

    #[test]
    fn a_keep_of_a_non_member_becomes_an_add_and_saves_the_group() {
        let mut directory = directory();
        directory.members_of.insert(guid(10), vec![guid(1)]);
        let file = InputFile::parse(Path::new("in.csv"), b"action,user,group\nkeep,bob,hr\n").unwrap();
        let checked = validate(&file);
        let mut planned = plan(&checked, &directory);
        let report = add_removals(&mut planned, &checked, &directory);
        assert!(report.emptied.is_empty(), "bob joins hr as ann leaves");
        assert_eq!(report.removals, 1);
        let Disposition::Change(join) = planned.rows[0].disposition else { panic!("{:?}", planned.rows[0]) };
        assert_eq!(
            planned.effects[join],
            Effect::Join { user: guid(2), group: GroupTarget::Existing(guid(10)) }
        );
    }
}
