//! The values a row carries, each a newtype whose constructor is the only way in: a `Guid`
//! is always well formed, a `GroupName` always follows Atlan's rule, and so on.
//!
//! A failed parse says what is wrong and how to fix it; the caller adds the line and column.

use std::fmt;

/// Why a cell's value was refused, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    /// What is wrong with the value.
    pub problem: String,
    /// How to fix it.
    pub fix: String,
}

impl ValueError {
    fn new(problem: impl Into<String>, fix: impl Into<String>) -> ValueError {
        ValueError { problem: problem.into(), fix: fix.into() }
    }
}

/// A GUID in its canonical form: 36 characters, lower-case hex with four hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid(String);

impl Guid {
    /// Parses a hyphenated GUID, in either case.
    pub fn parse(text: &str) -> Result<Guid, ValueError> {
        let well_formed = text.len() == 36
            && text.char_indices().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => c == '-',
                _ => c.is_ascii_hexdigit(),
            });
        if well_formed {
            Ok(Guid(text.to_ascii_lowercase()))
        } else {
            Err(ValueError::new(
                format!("{text:?} is not a GUID"),
                "a GUID looks like 53954c95-47f8-49b3-9812-23eb40fb07cc (8-4-4-4-12 hex digits)",
            ))
        }
    }

    /// Whether the text is shaped like a GUID (so it should be read as one).
    #[must_use]
    pub fn looks_like(text: &str) -> bool {
        text.len() == 36 && text.chars().filter(|c| *c == '-').count() == 4
    }

    /// The canonical text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address, lower-cased (Keycloak stores them so).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    /// Checks the address's shape: one `@`, a local part, and a domain with a dot.
    pub fn parse(text: &str) -> Result<Email, ValueError> {
        let fix = "write it as name@example.com, without spaces or angle brackets";
        let bad = |why: &str| Err(ValueError::new(format!("{text:?} is not an email address: {why}"), fix));
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("it contains whitespace");
        }
        let Some((local, domain)) = text.split_once('@') else { return bad("there is no @") };
        if domain.contains('@') {
            return bad("there is more than one @");
        }
        if local.is_empty() || local.len() > 64 {
            return bad("the part before the @ is empty or too long");
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 || labels.iter().any(|label| label.is_empty()) {
            return bad("the domain needs a dot, like example.com");
        }
        let domain_ok = labels.iter().all(|label| {
            label.chars().all(|c| c.is_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
        if !domain_ok || text.contains(['<', '>', '(', ')', ',', ';', '"', '[', ']']) || local.contains("..")
        {
            return bad("it contains characters an address can't have");
        }
        Ok(Email(text.to_lowercase()))
    }

    /// The lower-cased address.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A group's internal name by Atlan's rule: lower-case letters, digits and `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupName(String);

impl GroupName {
    /// Checks Atlan's rule ("all lowercase, without any spaces or special symbols other than
    /// an underscore"), suggesting the name that would pass.
    pub fn parse(text: &str) -> Result<GroupName, ValueError> {
        let valid = !text.is_empty()
            && text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if valid {
            return Ok(GroupName(text.to_string()));
        }
        let suggestion = GroupName::suggest(text);
        let fix = if suggestion.is_empty() {
            "use lower-case letters, digits and _ only".to_string()
        } else {
            format!("use lower-case letters, digits and _ only, e.g. {suggestion}")
        };
        Err(ValueError::new(format!("{text:?} is not a valid group name"), fix))
    }

    /// A name on a platform whose group names are free text (UiPath: "Automation
    /// Developers"): anything but empty, control characters, or more than 256 characters.
    pub fn free(text: &str) -> Result<GroupName, ValueError> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > 256 || text.chars().any(char::is_control) {
            return Err(ValueError::new(
                format!("{text:?} is not a valid group name"),
                "give the group's name as the platform shows it (1 to 256 characters)",
            ));
        }
        Ok(GroupName(text.to_string()))
    }

    /// The name Atlan's SDK would make of a display name, restricted to the allowed characters.
    #[must_use]
    pub fn suggest(text: &str) -> String {
        text.trim()
            .to_lowercase()
            .chars()
            .map(|c| if c.is_whitespace() || c == '-' { '_' } else { c })
            .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect()
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The workspace roles every Atlan tenant has.
pub const WORKSPACE_ROLES: [&str; 3] = ["$admin", "$member", "$guest"];

/// A role, by name (`$admin`, `$member`, `$guest`; the `$` optional) or by GUID.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoleRef {
    /// A workspace role's name, always with its `$`.
    Name(String),
    /// A role GUID, checked against the tenant's roles.
    Id(Guid),
}

impl RoleRef {
    /// Parses a role cell.
    pub fn parse(text: &str) -> Result<RoleRef, ValueError> {
        if Guid::looks_like(text) {
            return Guid::parse(text).map(RoleRef::Id);
        }
        let name = format!("${}", text.trim_start_matches('$').to_lowercase());
        if WORKSPACE_ROLES.contains(&name.as_str()) {
            Ok(RoleRef::Name(name))
        } else {
            Err(ValueError::new(
                format!("{text:?} is not a role"),
                "use $admin, $member or $guest (the $ is optional), or a role GUID",
            ))
        }
    }
}

impl fmt::Display for RoleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoleRef::Name(name) => f.write_str(name),
            RoleRef::Id(id) => id.fmt(f),
        }
    }
}

/// A user, by GUID, email or username.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UserRef {
    /// The user's GUID.
    Id(Guid),
    /// The user's email address.
    Email(Email),
    /// The user's username (lower-cased, as Keycloak stores it).
    Username(String),
}

impl UserRef {
    /// Reads a user cell: a GUID if shaped like one, an email if it has an `@`, else a
    /// username.
    pub fn parse(text: &str) -> Result<UserRef, ValueError> {
        if Guid::looks_like(text) {
            return Guid::parse(text).map(UserRef::Id);
        }
        if text.contains('@') {
            return Email::parse(text).map(UserRef::Email);
        }
        if text.chars().any(char::is_whitespace) {
            return Err(ValueError::new(
                format!("{text:?} is not a username, email or GUID"),
                "usernames have no spaces; give the user's username, email or GUID",
            ));
        }
        Ok(UserRef::Username(text.to_lowercase()))
    }
}

impl fmt::Display for UserRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserRef::Id(id) => id.fmt(f),
            UserRef::Email(email) => email.fmt(f),
            UserRef::Username(name) => f.write_str(name),
        }
    }
}

/// How a platform names groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// Atlan: lower-case letters, digits and `_`.
    Atlan,
    /// Free text (UiPath).
    Free,
}

impl NameRule {
    /// Parses a group name under this rule.
    pub fn parse(self, text: &str) -> Result<GroupName, ValueError> {
        match self {
            NameRule::Atlan => GroupName::parse(text),
            NameRule::Free => GroupName::free(text),
        }
    }
}

/// A group, by GUID or internal name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupRef {
    /// The group's GUID.
    Id(Guid),
    /// The group's internal name.
    Name(GroupName),
}

impl GroupRef {
    /// Reads a group cell: a GUID if shaped like one, else an internal name by Atlan's rule.
    pub fn parse(text: &str) -> Result<GroupRef, ValueError> {
        GroupRef::parse_with(text, NameRule::Atlan)
    }

    /// Reads a group cell: a GUID if shaped like one, else a name under `rule`.
    pub fn parse_with(text: &str, rule: NameRule) -> Result<GroupRef, ValueError> {
        if Guid::looks_like(text) {
            return Guid::parse(text).map(GroupRef::Id);
        }
        rule.parse(text).map(GroupRef::Name).map_err(|mut error| {
            error.fix = format!("{}; or give the group's GUID", error.fix);
            error
        })
    }
}

impl fmt::Display for GroupRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupRef::Id(id) => id.fmt(f),
            GroupRef::Name(name) => name.fmt(f),
        }
    }
}

/// Reads a yes/no cell: `true`/`false`, `yes`/`no`, `1`/`0`, in any case.
pub fn parse_bool(text: &str) -> Result<bool, ValueError> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Ok(true),
        "false" | "no" | "n" | "0" => Ok(false),
        _ => Err(ValueError::new(format!("{text:?} is not true or false"), "write true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_are_canonical_and_malformed_ones_explained() {
        let guid = Guid::parse("53954C95-47F8-49B3-9812-23EB40FB07CC").unwrap();
        assert_eq!(guid.as_str(), "53954c95-47f8-49b3-9812-23eb40fb07cc");
        let error = Guid::parse("53954c95-47f8-49b3-9812-23eb40fb07cg").unwrap_err();
        assert!(error.problem.contains("is not a GUID"), "{error:?}");
        assert!(Guid::parse("53954c9547f849b3981223eb40fb07cc").is_err());
    }

    #[test]
    fn emails() {
        assert_eq!(Email::parse("Jo.Doe@Example.COM").unwrap().as_str(), "jo.doe@example.com");
        for bad in [
            "jdoe",
            "jdoe@",
            "@example.com",
            "jdoe@example",
            "j doe@example.com",
            "a@@b.com",
            "a@b..com",
            "<a@b.com>",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn group_names_follow_atlans_rule_and_suggest_a_fix() {
        assert!(GroupName::parse("data_stewards_2").is_ok());
        let error = GroupName::parse("Data Stewards").unwrap_err();
        assert!(error.fix.contains("data_stewards"), "{error:?}");
        assert!(GroupName::parse("finance-team").unwrap_err().fix.contains("finance_team"));
        assert!(GroupName::parse("").is_err());
    }

    #[test]
    fn roles_by_name_with_or_without_dollar_or_by_guid() {
        assert_eq!(RoleRef::parse("admin").unwrap(), RoleRef::Name("$admin".into()));
        assert_eq!(RoleRef::parse("$Member").unwrap(), RoleRef::Name("$member".into()));
        assert!(matches!(RoleRef::parse("620172e0-81df-4d30-a8b3-f92a69badd04").unwrap(), RoleRef::Id(_)));
        assert!(RoleRef::parse("superuser").unwrap_err().fix.contains("$admin"));
    }

    #[test]
    fn user_cells_are_told_apart() {
        assert!(matches!(UserRef::parse("53954c95-47f8-49b3-9812-23eb40fb07cc").unwrap(), UserRef::Id(_)));
        assert!(matches!(UserRef::parse("JDoe@example.com").unwrap(), UserRef::Email(_)));
        assert_eq!(UserRef::parse("JDoe").unwrap(), UserRef::Username("jdoe".into()));
        assert!(UserRef::parse("jo doe").is_err());
        assert!(UserRef::parse("jdoe@nowhere").is_err());
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool("TRUE"), Ok(true));
        assert_eq!(parse_bool("no"), Ok(false));
        assert!(parse_bool("maybe").is_err());
    }
}
