//! Every row is checked before anything is written: cells are parsed into a [`Change`]
//! (one error naming the column, the value and the fix), then a pure pass over all rows finds
//! exact duplicates (sent once) and contradictions (add and remove of one membership, two
//! roles for one user, ...). No I/O happens here.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use crate::input::{Column, InputFile, RawRow};
use crate::model::values::parse_bool;
use crate::model::{Action, Change, GroupFields, GroupRef, NameRule, RoleRef, UserRef, ValueError};

/// What is wrong with a row, where, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The column at fault, as its header is written in the file.
    pub column: Option<String>,
    /// What is wrong, quoting the bad value.
    pub problem: String,
    /// How to fix it.
    pub fix: String,
}

impl RowError {
    fn in_column(column: &str, error: ValueError) -> RowError {
        RowError { column: Some(column.to_string()), problem: error.problem, fix: error.fix }
    }

    /// An error not tied to one cell.
    #[must_use]
    pub fn row(problem: impl Into<String>, fix: impl Into<String>) -> RowError {
        RowError { column: None, problem: problem.into(), fix: fix.into() }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(column) = &self.column {
            write!(f, "column {column}: ")?;
        }
        write!(f, "{}; {}", self.problem, self.fix)
    }
}

/// The outcome of checking one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A change to make (or confirm).
    Valid(Change),
    /// The same change as an earlier row: reported, sent once.
    Duplicate {
        /// The change.
        change: Change,
        /// The line of the first row asking for it.
        of: u64,
    },
    /// Not to be sent.
    Invalid(RowError),
    /// Every cell empty (spreadsheets leave such rows behind).
    Empty,
}

/// One row and its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The row's line in the input.
    pub line: u64,
    /// What was decided.
    pub verdict: Verdict,
}

impl Checked {
    /// The change, for valid rows and duplicates.
    #[must_use]
    pub fn change(&self) -> Option<&Change> {
        match &self.verdict {
            Verdict::Valid(change) | Verdict::Duplicate { change, .. } => Some(change),
            _ => None,
        }
    }
}

/// What a platform allows, which decides what is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// The platform's name, for messages.
    pub platform: &'static str,
    /// How it names groups.
    pub group_names: NameRule,
    /// Whether it has workspace roles (`set_role`).
    pub roles: bool,
    /// Whether `update_group` may rename (`new_name`).
    pub renames: bool,
    /// Whether groups have alias, description and default flags.
    pub group_attributes: bool,
}

impl Rules {
    /// Atlan: internal names `[a-z0-9_]`, workspace roles, alias/description/default, no renames.
    pub const ATLAN: Rules = Rules {
        platform: "Atlan",
        group_names: NameRule::Atlan,
        roles: true,
        renames: false,
        group_attributes: true,
    };
    /// UiPath: free-text group names that can be renamed, no roles, no other group attributes.
    pub const UIPATH: Rules = Rules {
        platform: "UiPath",
        group_names: NameRule::Free,
        roles: false,
        renames: true,
        group_attributes: false,
    };
}

/// Checks every row of a file on its own and against the others, without a tenant, by
/// Atlan's rules.
#[must_use]
pub fn validate(file: &InputFile) -> Vec<Checked> {
    validate_for(file, &Rules::ATLAN)
}

/// Checks every row of a file on its own and against the others, without a tenant.
#[must_use]
pub fn validate_for(file: &InputFile, rules: &Rules) -> Vec<Checked> {
    let mut rows: Vec<Checked> = file
        .rows
        .iter()
        .map(|row| Checked {
            line: row.line,
            verdict: if row.cells.iter().all(|c| c.trim().is_empty()) {
                Verdict::Empty
            } else {
                parse_row(file, row, rules).map_or_else(Verdict::Invalid, Verdict::Valid)
            },
        })
        .collect();
    cross_check(&mut rows, &|change| change.clone());
    rows
}

/// Parses one row's cells into the change it asks for.
pub fn parse_row(file: &InputFile, row: &RawRow, rules: &Rules) -> Result<Change, RowError> {
    if row.width > file.headers.len() {
        return Err(RowError::row(
            format!("the row has {} cells but the header has {}", row.width, file.headers.len()),
            "remove the extra cells, or quote a value that contains the delimiter",
        ));
    }
    let cells = Cells { file, row };
    let action: Action = cells
        .required(
            Column::Action,
            "give one of add, remove, keep, set_role, create_group, update_group, delete_group",
        )?
        .parse()
        .map_err(|e| RowError::in_column(file.header(Column::Action), e))?;
    let action = cells.decided(action)?;
    let user = || cells.parsed(Column::User, UserRef::parse, "give the user's username, email or GUID");
    let names = rules.group_names;
    let (which, example) = match names {
        NameRule::Atlan => ("internal name", "data_stewards"),
        NameRule::Free => ("name", "Data Stewards"),
    };
    let group_fix = format!("give the group's {which} or GUID");
    let group = || cells.parsed(Column::Group, |text| GroupRef::parse_with(text, names), &group_fix);
    Ok(match action {
        Action::Add => Change::Add { user: user()?, group: group()? },
        Action::Remove => Change::Remove { user: user()?, group: group()? },
        // A keep without a group keeps the user as is: a users export of a platform
        // without roles is made of such rows.
        Action::Keep if cells.get(Column::Group).is_none() => Change::KeepUser { user: user()? },
        Action::Keep => Change::Keep { user: user()?, group: group()? },
        Action::SetRole if !rules.roles => {
            return Err(RowError {
                column: Some(file.header(Column::Action).to_string()),
                problem: format!("{} has no workspace roles, so set_role can't be applied", rules.platform),
                fix: "grant access through group membership (add rows) instead".into(),
            });
        }
        Action::SetRole => Change::SetRole {
            user: user()?,
            role: cells.parsed(Column::Role, RoleRef::parse, "give $admin, $member or $guest")?,
        },
        Action::CreateGroup => Change::CreateGroup {
            name: cells.parsed(
                Column::Group,
                |text| names.parse(text),
                &format!("give the new group's {which}, e.g. {example}"),
            )?,
            fields: cells.group_fields(rules)?,
        },
        Action::UpdateGroup => {
            let group = group()?;
            let fields = cells.group_fields(rules)?;
            if fields.is_empty() {
                let fix = if rules.group_attributes {
                    "fill in alias, description or is_default with the new value"
                } else {
                    "fill in new_name with the group's new name"
                };
                return Err(RowError::row("update_group changes nothing", fix));
            }
            Change::UpdateGroup { group, fields }
        }
        Action::DeleteGroup => Change::DeleteGroup { group: group()? },
    })
}

/// A row's cells, read through the file's header map.
struct Cells<'a> {
    file: &'a InputFile,
    row: &'a RawRow,
}

impl Cells<'_> {
    fn get(&self, column: Column) -> Option<&str> {
        self.file.cell(self.row, column)
    }

    fn required(&self, column: Column, fix: &str) -> Result<&str, RowError> {
        self.get(column).ok_or_else(|| {
            let problem = if self.file.has(column) {
                "the cell is empty".to_string()
            } else {
                format!("the file has no {} column, which this row needs", column.name())
            };
            RowError { column: Some(self.file.header(column).to_string()), problem, fix: fix.to_string() }
        })
    }

    fn parsed<T>(
        &self,
        column: Column,
        parse: impl Fn(&str) -> Result<T, ValueError>,
        fix: &str,
    ) -> Result<T, RowError> {
        parse(self.required(column, fix)?).map_err(|e| RowError::in_column(self.file.header(column), e))
    }

    /// A reviewer's `decision` on an exported `keep` row: `keep` leaves it, `revoke` (or
    /// `remove`) turns it into a removal.
    fn decided(&self, action: Action) -> Result<Action, RowError> {
        let Some(decision) = self.get(Column::Decision) else { return Ok(action) };
        let column = Some(self.file.header(Column::Decision).to_string());
        if action != Action::Keep {
            return Err(RowError {
                column,
                problem: format!("a decision ({decision:?}) on a row whose action is {action}"),
                fix: "decisions go on the keep rows of an export; clear the decision, or set the action to keep".into(),
            });
        }
        match decision.to_lowercase().as_str() {
            "keep" => Ok(Action::Keep),
            "revoke" | "remove" => Ok(Action::Remove),
            _ => Err(RowError {
                column,
                problem: format!("{decision:?} is not a decision"),
                fix: "write keep or revoke (or leave it empty to keep)".into(),
            }),
        }
    }

    fn group_fields(&self, rules: &Rules) -> Result<GroupFields, RowError> {
        let unsupported = |column: Column, what: &str| RowError {
            column: Some(self.file.header(column).to_string()),
            problem: format!("{} groups have no {what}", rules.platform),
            fix: format!("leave {} empty", column.name()),
        };
        if !rules.group_attributes {
            for (column, what) in [
                (Column::Alias, "alias"),
                (Column::Description, "description"),
                (Column::IsDefault, "default flag"),
            ] {
                // `false` is true of every group of such a platform, and is what groups
                // exports and undo files write for them: it asks for nothing.
                let harmless = column == Column::IsDefault
                    && self.get(column).is_some_and(|value| matches!(parse_bool(value), Ok(false)));
                if self.get(column).is_some() && !harmless {
                    return Err(unsupported(column, what));
                }
            }
        }
        let new_name = self
            .get(Column::NewName)
            .map(|text| {
                if !rules.renames {
                    return Err(RowError {
                        column: Some(self.file.header(Column::NewName).to_string()),
                        problem: format!("{} does not rename groups", rules.platform),
                        fix: "create a group with the new name, move the members, then delete the old one"
                            .into(),
                    });
                }
                rules
                    .group_names
                    .parse(text)
                    .map_err(|e| RowError::in_column(self.file.header(Column::NewName), e))
            })
            .transpose()?;
        let is_default = self
            .get(Column::IsDefault)
            .filter(|_| rules.group_attributes)
            .map(parse_bool)
            .transpose()
            .map_err(|e| RowError::in_column(self.file.header(Column::IsDefault), e))?;
        Ok(GroupFields {
            alias: self.get(Column::Alias).map(String::from),
            description: self.get(Column::Description).map(String::from),
            is_default,
            new_name,
        })
    }
}

/// What several rows say about one thing (a membership, a user's role, a group).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subject {
    Membership(UserRef, GroupRef),
    Role(UserRef),
    Group(GroupRef),
}

fn subjects(change: &Change) -> Vec<Subject> {
    match change {
        Change::Add { user, group } | Change::Remove { user, group } | Change::Keep { user, group } => {
            vec![Subject::Membership(user.clone(), group.clone()), Subject::Group(group.clone())]
        }
        Change::SetRole { user, .. } => vec![Subject::Role(user.clone())],
        Change::KeepUser { .. } => Vec::new(),
        Change::CreateGroup { name, .. } => vec![Subject::Group(GroupRef::Name(name.clone()))],
        Change::UpdateGroup { group, .. } | Change::DeleteGroup { group } => {
            vec![Subject::Group(group.clone())]
        }
    }
}

/// Marks exact duplicates and contradictions among valid rows. `normalize` maps each change
/// to a canonical form first (offline: itself; against a tenant: with users and groups
/// resolved to GUIDs, so that `jdoe` and `jdoe@example.com` are seen to be one user).
pub fn cross_check(rows: &mut [Checked], normalize: &dyn Fn(&Change) -> Change) {
    let mut first_of: HashMap<Change, u64> = HashMap::new();
    let mut by_subject: HashMap<Subject, Vec<(usize, Change)>> = HashMap::new();
    for (index, row) in rows.iter_mut().enumerate() {
        let Verdict::Valid(change) = &row.verdict else { continue };
        let canonical = normalize(change);
        if let Some(&of) = first_of.get(&canonical) {
            row.verdict = Verdict::Duplicate { change: change.clone(), of };
            continue;
        }
        first_of.insert(canonical.clone(), row.line);
        for subject in subjects(&canonical) {
            by_subject.entry(subject).or_default().push((index, canonical.clone()));
        }
    }
    let mut contradictions: Vec<(usize, RowError)> = Vec::new();
    for (subject, claims) in &by_subject {
        // Messages name the user and group as the first row wrote them, not as resolved.
        let first = rows[claims[0].0].change().map(subjects).unwrap_or_default();
        let shown = first
            .iter()
            .find(|s| std::mem::discriminant(*s) == std::mem::discriminant(subject))
            .unwrap_or(subject);
        if let Some(problem) = contradiction(shown, claims) {
            let lines: BTreeSet<u64> = claims.iter().map(|(i, _)| rows[*i].line).collect();
            for (index, _) in claims {
                let others: Vec<String> =
                    lines.iter().filter(|l| **l != rows[*index].line).map(u64::to_string).collect();
                let fix = format!(
                    "keep one of these rows, or split them across runs (see line {})",
                    others.join(", ")
                );
                contradictions.push((*index, RowError::row(problem.clone(), fix)));
            }
        }
    }
    contradictions.sort_by_key(|(index, _)| *index);
    for (index, error) in contradictions {
        if matches!(rows[index].verdict, Verdict::Valid(_)) {
            rows[index].verdict = Verdict::Invalid(error);
        }
    }
}

/// Why the claims about one subject can't all be carried out, if they can't.
fn contradiction(subject: &Subject, claims: &[(usize, Change)]) -> Option<String> {
    let actions: BTreeSet<Action> = claims.iter().map(|(_, c)| c.action()).collect();
    match subject {
        // `add` and `keep` agree (the user stays in); `remove` contradicts either.
        Subject::Membership(user, group) => {
            (actions.contains(&Action::Remove) && actions.len() > 1).then(|| {
                let names: Vec<&str> = actions.iter().map(|a| a.as_str()).collect();
                format!("rows for {user} in {group} contradict each other ({})", names.join(" and "))
            })
        }
        Subject::Role(user) => {
            let roles: BTreeSet<String> = claims
                .iter()
                .filter_map(|(_, c)| match c {
                    Change::SetRole { role, .. } => Some(role.to_string()),
                    _ => None,
                })
                .collect();
            (roles.len() > 1).then(|| {
                format!(
                    "{user} is given more than one role ({})",
                    roles.into_iter().collect::<Vec<_>>().join(", ")
                )
            })
        }
        Subject::Group(group) => {
            if actions.contains(&Action::DeleteGroup) && actions.len() > 1 {
                return Some(format!("group {group} is deleted by one row and used by another"));
            }
            let creates = claims.iter().filter(|(_, c)| c.action() == Action::CreateGroup).count();
            if creates > 1 {
                return Some(format!("group {group} is created twice with different attributes"));
            }
            conflicting_updates(claims)
                .map(|field| format!("group {group} is given two different values of {field}"))
        }
    }
}

/// The first group field two `create_group`/`update_group` rows set to different values.
fn conflicting_updates(claims: &[(usize, Change)]) -> Option<&'static str> {
    let fields: Vec<&GroupFields> = claims
        .iter()
        .filter_map(|(_, c)| match c {
            Change::CreateGroup { fields, .. } | Change::UpdateGroup { fields, .. } => Some(fields),
            _ => None,
        })
        .collect();
    let differs = |get: &dyn Fn(&GroupFields) -> Option<String>| {
        fields.iter().filter_map(|f| get(f)).collect::<BTreeSet<_>>().len() > 1
    };
    if differs(&|f| f.alias.clone()) {
        Some("alias")
    } else if differs(&|f| f.description.clone()) {
        Some("description")
    } else if differs(&|f| f.is_default.map(|d| d.to_string())) {
        Some("is_default")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn check(text: &str) -> Vec<Checked> {
        validate(&InputFile::parse(Path::new("in.csv"), text.as_bytes()).unwrap())
    }

    fn error(text: &str) -> String {
        match &check(text)[0].verdict {
            Verdict::Invalid(error) => error.to_string(),
            other => panic!("expected an invalid row, got {other:?}"),
        }
    }

    #[test]
    fn each_cell_error_names_column_value_and_fix() {
        let header = "action,user,group,role,alias,description,is_default\n";
        let cases = [
            ("grant,jdoe,finance,,,,", "column action: \"grant\" is not an action; use one of add, remove"),
            ("add,,finance,,,,", "column user: the cell is empty; give the user's username"),
            (
                "add,jdoe,Finance Team,,,,",
                "column group: \"Finance Team\" is not a valid group name; use lower-case letters, digits and _ only, e.g. finance_team; or give the group's GUID",
            ),
            (
                "add,jdoe@example,finance,,,,",
                "column user: \"jdoe@example\" is not an email address: the domain needs a dot",
            ),
            (
                "add,53954c95-47f8-49b3-9812-23eb40fb07cz,finance,,,,",
                "column user: \"53954c95-47f8-49b3-9812-23eb40fb07cz\" is not a GUID",
            ),
            (
                "set_role,jdoe,,owner,,,",
                "column role: \"owner\" is not a role; use $admin, $member or $guest",
            ),
            ("create_group,,,,,,", "column group: the cell is empty; give the new group's internal name"),
            (
                "create_group,,hr,,,,maybe",
                "column is_default: \"maybe\" is not true or false; write true or false",
            ),
            (
                "update_group,,hr,,,,",
                "update_group changes nothing; fill in alias, description or is_default",
            ),
        ];
        for (row, expected) in cases {
            let got = error(&format!("{header}{row}\n"));
            assert!(got.starts_with(expected), "row {row:?}\n  got:  {got}\n  want: {expected}…");
        }
        assert!(error("action,user\nset_role,jdoe\n").contains("the file has no role column"));
        assert!(error("action,user,group\nadd,jdoe,g,extra\n").contains("4 cells but the header has 3"));
    }

    #[test]
    fn valid_rows_of_every_action() {
        let rows = check(
            "action,user,group,role,alias,description,is_default\n\
             add,jdoe,finance,,,,\nremove,jdoe@example.com,marketing,,,,\nkeep,jdoe,hr,,,,\n\
             set_role,jdoe,,admin,,,\ncreate_group,,new_team,,New Team,The new team,false\n\
             update_group,,finance,,Finance,,\ndelete_group,,old_team,,,,\n,,,,,,\n",
        );
        let actions: Vec<Option<Action>> = rows.iter().map(|r| r.change().map(Change::action)).collect();
        assert_eq!(
            actions,
            [
                Some(Action::Add),
                Some(Action::Remove),
                Some(Action::Keep),
                Some(Action::SetRole),
                Some(Action::CreateGroup),
                Some(Action::UpdateGroup),
                Some(Action::DeleteGroup),
                None
            ]
        );
        assert_eq!(rows[7].verdict, Verdict::Empty);
    }

    #[test]
    fn a_reviewers_decision_turns_keep_rows_into_removals() {
        let rows = check(
            "action,user,group,decision,justification\nkeep,jdoe,hr,revoke,left the team\nkeep,ann,hr,Keep,\n\
             keep,bob,hr,,\nkeep,cy,hr,maybe,\nadd,dee,hr,revoke,\n",
        );
        let actions: Vec<Option<Action>> = rows.iter().map(|r| r.change().map(Change::action)).collect();
        assert_eq!(actions, [Some(Action::Remove), Some(Action::Keep), Some(Action::Keep), None, None]);
        assert!(
            matches!(&rows[3].verdict, Verdict::Invalid(e) if e.to_string().starts_with("column decision: \"maybe\" is not a decision"))
        );
        assert!(matches!(&rows[4].verdict, Verdict::Invalid(e) if e.problem.contains("whose action is add")));
    }

    #[test]
    fn uipath_rules_allow_free_group_names_and_renames_but_no_roles() {
        let file = InputFile::parse(
            Path::new("in.csv"),
            b"action,user,group,role,new_name,alias\nadd,jdoe,Automation Developers,,,\n\
              update_group,,Finance Team,,Finance & Ops,\nset_role,jdoe,,admin,,\nupdate_group,,Finance Team,,,Fin\n\
              update_group,,finance,,finance_ops,\n",
        )
        .unwrap();
        let uipath = validate_for(&file, &Rules::UIPATH);
        assert!(matches!(uipath[0].verdict, Verdict::Valid(_)));
        assert!(
            matches!(&uipath[1].verdict, Verdict::Valid(Change::UpdateGroup { fields, .. }) if fields.new_name.as_ref().unwrap().as_str() == "Finance & Ops")
        );
        assert!(
            matches!(&uipath[2].verdict, Verdict::Invalid(e) if e.problem.contains("UiPath has no workspace roles"))
        );
        assert!(
            matches!(&uipath[3].verdict, Verdict::Invalid(e) if e.problem.contains("UiPath groups have no alias"))
        );
        // `is_default=false`, as a groups export and an undo file write it, asks for nothing;
        // `true` can't be had.
        let flags = InputFile::parse(
            Path::new("in.csv"),
            b"action,group,is_default\ncreate_group,Team A,false\ncreate_group,Team B,true\n",
        )
        .unwrap();
        let flags = validate_for(&flags, &Rules::UIPATH);
        assert!(
            matches!(&flags[0].verdict, Verdict::Valid(Change::CreateGroup { fields, .. }) if fields.is_default.is_none()),
            "{flags:?}"
        );
        assert!(
            matches!(&flags[1].verdict, Verdict::Invalid(e) if e.problem.contains("UiPath groups have no default flag"))
        );
        let atlan = validate(&file);
        assert!(
            matches!(&atlan[0].verdict, Verdict::Invalid(e) if e.problem.contains("not a valid group name"))
        );
        assert!(
            matches!(&atlan[4].verdict, Verdict::Invalid(e) if e.problem.contains("Atlan does not rename groups"))
        );
    }

    #[test]
    fn exact_duplicates_point_at_the_first_row() {
        let rows = check("action,user,group\nadd,jdoe,finance\nadd,JDoe,finance\n");
        assert!(matches!(rows[0].verdict, Verdict::Valid(_)));
        assert!(matches!(rows[1].verdict, Verdict::Duplicate { of: 2, .. }));
    }

    #[test]
    fn contradictions_invalidate_every_row_involved() {
        let rows = check("action,user,group,role\nadd,jdoe,finance,\nremove,jdoe,finance,\nadd,jdoe,hr,\n");
        let Verdict::Invalid(error) = &rows[0].verdict else { panic!("{rows:?}") };
        assert_eq!(
            error.to_string(),
            "rows for jdoe in finance contradict each other (add and remove); keep one of these rows, or split them across runs (see line 3)"
        );
        assert!(matches!(rows[1].verdict, Verdict::Invalid(_)));
        assert!(matches!(rows[2].verdict, Verdict::Valid(_)));
        let roles = check("action,user,role\nset_role,jdoe,admin\nset_role,jdoe,guest\nset_role,ann,guest\n");
        assert!(
            matches!(&roles[0].verdict, Verdict::Invalid(e) if e.problem.contains("more than one role ($admin, $guest)"))
        );
        assert!(matches!(roles[2].verdict, Verdict::Valid(_)));
        let groups = check("action,user,group,alias\ncreate_group,,hr,HR\nadd,jdoe,hr,\ndelete_group,,hr,\n");
        assert!(groups.iter().all(|r| matches!(r.verdict, Verdict::Invalid(_))), "{groups:?}");
        let aliases = check("action,group,alias\nupdate_group,hr,HR\nupdate_group,hr,Human Resources\n");
        assert!(
            matches!(&aliases[1].verdict, Verdict::Invalid(e) if e.problem.contains("two different values of alias"))
        );
    }
}
