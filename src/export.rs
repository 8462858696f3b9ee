//! The tenant as tables in the import format, so that an access review is: export, mark
//! rows in a spreadsheet, import the decisions.
//!
//! `memberships` writes one `keep` row per (user, group) with the context a reviewer needs
//! (email, name, role, last login, group alias) and empty `decision` and `justification`
//! columns to fill in; `users` writes `set_role` rows and `groups` writes `create_group`
//! rows, so that importing an unedited export changes nothing. Context columns have names
//! import does not read, and are carried through to the results untouched.

use std::collections::HashMap;

use crate::output::table::Table;
use crate::plan::{GroupInfo, RoleInfo};

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// One row per (user, group).
    Memberships,
    /// One row per user.
    Users,
    /// One row per group.
    Groups,
    /// One row per role (a reference list; roles are not imported).
    Roles,
}

/// A user, with what a reviewer wants to see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    /// GUID.
    pub id: String,
    /// Username.
    pub username: String,
    /// Email.
    pub email: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Workspace role name.
    pub role: Option<String>,
    /// Last login, epoch milliseconds.
    pub last_login: Option<i64>,
    /// `Enabled`, `Disabled`, `Invited`, as the platform says.
    pub status: Option<String>,
    /// Groups the user is in.
    pub group_count: usize,
}

/// What an export read from the tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantView {
    /// Roles (for `roles`).
    pub roles: Vec<RoleInfo>,
    /// Groups (for `groups` and `memberships`).
    pub groups: Vec<GroupInfo>,
    /// Users (every user for `users`; the members for `memberships`).
    pub people: Vec<Person>,
    /// (group GUID, user GUID) pairs (for `memberships`).
    pub memberships: Vec<(String, String)>,
}

/// The columns of a memberships export: the import format, context, and the reviewer's.
pub const MEMBERSHIP_COLUMNS: [&str; 10] = [
    "action",
    "user",
    "group",
    "user_email",
    "user_name",
    "user_role",
    "last_login",
    "group_alias",
    "decision",
    "justification",
];

/// Lays out what was read as the table `kind` asks for. `has_roles` says whether the platform
/// has workspace roles: a users export is then `set_role` rows, else `keep` rows.
#[must_use]
pub fn table(kind: ExportKind, view: &TenantView, has_roles: bool) -> Table {
    match kind {
        ExportKind::Memberships => memberships(view),
        ExportKind::Users => users(view, if has_roles { "set_role" } else { "keep" }),
        ExportKind::Groups => groups(view),
        ExportKind::Roles => roles(view),
    }
}

fn memberships(view: &TenantView) -> Table {
    let mut table = Table::new(&MEMBERSHIP_COLUMNS);
    // Indexed, not searched: a tenant's memberships can run to hundreds of thousands.
    let groups: HashMap<&str, &GroupInfo> = view.groups.iter().map(|g| (g.id.as_str(), g)).collect();
    let people: HashMap<&str, &Person> = view.people.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut rows: Vec<(&GroupInfo, &Person)> = view
        .memberships
        .iter()
        .filter_map(|(g, u)| Some((*groups.get(g.as_str())?, *people.get(u.as_str())?)))
        .collect();
    rows.sort_by(|a, b| (&a.0.name, &a.1.username).cmp(&(&b.0.name, &b.1.username)));
    for (group, person) in rows {
        table.push(vec![
            "keep".into(),
            person.username.clone(),
            group.name.clone(),
            person.email.clone().unwrap_or_default(),
            full_name(person),
            person.role.clone().unwrap_or_default(),
            person.last_login.map(iso_date_time).unwrap_or_default(),
            group.alias.clone().unwrap_or_default(),
            String::new(),
            String::new(),
        ]);
    }
    table
}

fn users(view: &TenantView, action: &str) -> Table {
    let mut table = Table::new(&[
        "action",
        "user",
        "role",
        "user_email",
        "first_name",
        "last_name",
        "last_login",
        // Not `status`: the results file has a `status` column of its own, and this one
        // must be carried through to it like any context column.
        "user_status",
        "group_count",
    ]);
    let mut people: Vec<&Person> = view.people.iter().collect();
    people.sort_by(|a, b| a.username.cmp(&b.username));
    for person in people {
        table.push(vec![
            action.into(),
            person.username.clone(),
            person.role.clone().unwrap_or_default(),
            person.email.clone().unwrap_or_default(),
            person.first_name.clone().unwrap_or_default(),
            person.last_name.clone().unwrap_or_default(),
            person.last_login.map(iso_date_time).unwrap_or_default(),
            person.status.clone().unwrap_or_default(),
            person.group_count.to_string(),
        ]);
    }
    table
}

fn groups(view: &TenantView) -> Table {
    let mut table =
        Table::new(&["action", "group", "alias", "description", "is_default", "member_count", "group_guid"]);
    let mut groups: Vec<&GroupInfo> = view.groups.iter().collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    for group in groups {
        table.push(vec![
            "create_group".into(),
            group.name.clone(),
            group.alias.clone().unwrap_or_default(),
            group.description.clone().unwrap_or_default(),
            group.is_default.to_string(),
            group.member_count.to_string(),
            group.id.clone(),
        ]);
    }
    table
}

fn roles(view: &TenantView) -> Table {
    let mut table = Table::new(&["role", "role_id"]);
    let mut roles: Vec<&RoleInfo> = view.roles.iter().collect();
    roles.sort_by(|a, b| a.name.cmp(&b.name));
    for role in roles {
        table.push(vec![role.name.clone(), role.id.clone()]);
    }
    table
}

fn full_name(person: &Person) -> String {
    [person.first_name.as_deref(), person.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Epoch milliseconds as `2026-11-23T14:05:00Z` (UTC, to the second).
#[must_use]
pub fn iso_date_time(epoch_ms: i64) -> String {
    let seconds = epoch_ms.div_euclid(1000);
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (second_of_day / 3600, second_of_day % 3600 / 60, second_of_day % 60);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_iso_8601() {
        assert_eq!(iso_date_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_date_time(1_763_640_000_000), "2025-11-20T12:00:00Z");
        assert_eq!(iso_date_time(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn memberships_are_keep_rows_sorted_by_group_then_user() {
        let person = |id: &str, name: &str| Person {
            id: id.into(),
            username: name.into(),
            email: Some(format!("{name}@x.io")),
            first_name: Some("F".into()),
            last_name: Some("L".into()),
            role: Some("$member".into()),
            ..Person::default()
        };
        let group = |id: &str, name: &str| GroupInfo {
            id: id.into(),
            name: name.into(),
            alias: Some(name.to_uppercase()),
            description: None,
            is_default: false,
            member_count: 1,
        };
        let view = TenantView {
            roles: Vec::new(),
            groups: vec![group("g2", "sales"), group("g1", "hr")],
            people: vec![person("u1", "zoe"), person("u2", "ann")],
            memberships: vec![
                ("g2".into(), "u2".into()),
                ("g1".into(), "u1".into()),
                ("g1".into(), "u2".into()),
            ],
        };
        let table = table(ExportKind::Memberships, &view, true);
        let keys: Vec<(String, String)> = table.rows.iter().map(|r| (r[2].clone(), r[1].clone())).collect();
        assert_eq!(
            keys,
            [("hr".into(), "ann".into()), ("hr".into(), "zoe".into()), ("sales".into(), "ann".into())]
        );
        assert_eq!(table.rows[0][..5], ["keep", "ann", "hr", "ann@x.io", "F L"]);
    }
}
