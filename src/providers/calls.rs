//! What the providers share about calls: building each call's outcome for its effects, and
//! matching the users and groups a file names against what a platform returned.

use std::collections::HashMap;

use serde_json::Value;

use super::http::{NetworkFailure, Reply};
use super::{CallOutcome, EffectResult};
use crate::model::{GroupRef, UserRef};
use crate::plan::{GroupInfo, UserInfo};

/// A create's effect followed by the joins folded into it.
pub(crate) fn all_effects(effect: usize, members: &[(usize, String)]) -> Vec<usize> {
    std::iter::once(effect).chain(members.iter().map(|(e, _)| *e)).collect()
}

/// The outcome of a call that got a response.
pub(crate) fn outcome(effects: Vec<(usize, EffectResult)>, reply: &Reply) -> CallOutcome {
    CallOutcome {
        effects,
        http_status: Some(reply.status),
        attempts: reply.attempts,
        request_id: Some(reply.request_id.clone()),
    }
}

/// Every effect failed for the same reason, before any request.
pub(crate) fn failed_outcome(effects: Vec<usize>, why: &str) -> CallOutcome {
    CallOutcome {
        effects: effects.into_iter().map(|e| (e, EffectResult::Failed(why.to_string()))).collect(),
        http_status: None,
        attempts: 0,
        request_id: None,
    }
}

/// The outcome of a call that got no response: not attempted if it was never sent (the
/// run was interrupted), else failed.
pub(crate) fn network_outcome(effects: Vec<usize>, failure: &NetworkFailure) -> CallOutcome {
    let result = if failure.never_sent() {
        EffectResult::NotSent("not attempted: the run was interrupted; rerun with --resume".into())
    } else {
        EffectResult::Failed(network_text(failure))
    };
    CallOutcome {
        effects: effects.into_iter().map(|e| (e, result.clone())).collect(),
        http_status: None,
        attempts: failure.attempts,
        request_id: Some(failure.request_id.clone()),
    }
}

/// A call that got no answer, in words, with what to do.
pub(crate) fn network_text(failure: &NetworkFailure) -> String {
    format!(
        "no answer after {} attempts ({}); rerun with --resume to retry",
        failure.attempts, failure.message
    )
}

/// A string field of a JSON record.
pub(crate) fn text(record: &Value, key: &str) -> Option<String> {
    record.get(key).and_then(Value::as_str).map(String::from)
}

/// Whether a platform's user is the one a row names.
pub(crate) fn matches_user(user: &UserInfo, wanted: &UserRef) -> bool {
    match wanted {
        UserRef::Id(id) => user.id.eq_ignore_ascii_case(id.as_str()),
        UserRef::Email(email) => user.email.as_deref() == Some(email.as_str()),
        UserRef::Username(name) => user.username == *name,
    }
}

/// Whether a platform's group is the one a row names (names without regard to case).
pub(crate) fn matches_group(group: &GroupInfo, wanted: &GroupRef) -> bool {
    match wanted {
        GroupRef::Id(id) => group.id.eq_ignore_ascii_case(id.as_str()),
        GroupRef::Name(name) => group.name.eq_ignore_ascii_case(name.as_str()),
    }
}

/// Finds the users and groups rows name among those a platform returned, by index: a file
/// of hundreds of thousands of rows must not search every user once per row.
pub(crate) struct Finder<'a> {
    users: HashMap<String, &'a UserInfo>,
    groups: HashMap<String, &'a GroupInfo>,
}

impl<'a> Finder<'a> {
    pub(crate) fn new(users: &'a [UserInfo], groups: &'a [GroupInfo]) -> Finder<'a> {
        let mut by_user = HashMap::new();
        for user in users {
            by_user.insert(format!("id:{}", user.id.to_lowercase()), user);
            by_user.insert(format!("name:{}", user.username), user);
            if let Some(email) = &user.email {
                by_user.insert(format!("email:{email}"), user);
            }
        }
        let mut by_group = HashMap::new();
        for group in groups {
            by_group.insert(format!("id:{}", group.id.to_lowercase()), group);
            by_group.insert(format!("name:{}", group.name.to_lowercase()), group);
        }
        Finder { users: by_user, groups: by_group }
    }

    /// The user a row names (as [`matches_user`] would find it).
    pub(crate) fn user(&self, wanted: &UserRef) -> Option<&'a UserInfo> {
        let key = match wanted {
            UserRef::Id(id) => format!("id:{}", id.as_str().to_lowercase()),
            UserRef::Email(email) => format!("email:{email}"),
            UserRef::Username(name) => format!("name:{name}"),
        };
        self.users.get(&key).copied()
    }

    /// The group a row names (as [`matches_group`] would find it).
    pub(crate) fn group(&self, wanted: &GroupRef) -> Option<&'a GroupInfo> {
        let key = match wanted {
            GroupRef::Id(id) => format!("id:{}", id.as_str().to_lowercase()),
            GroupRef::Name(name) => format!("name:{}", name.as_str().to_lowercase()),
        };
        self.groups.get(&key).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_finder_finds_what_matching_finds() {
        let users = vec![UserInfo {
            id: "53954C95-47f8-49b3-9812-23eb40fb07cc".into(),
            username: "jdoe".into(),
            email: Some("jdoe@example.com".into()),
            role: None,
        }];
        let groups = vec![GroupInfo {
            id: "e79cb8eb-2bb6-4821-914c-f8dfd21fedc7".into(),
            name: "Finance Team".into(),
            alias: None,
            description: None,
            is_default: false,
            member_count: 0,
        }];
        let finder = Finder::new(&users, &groups);
        for text in ["jdoe", "JDoe@Example.com", "53954c95-47f8-49b3-9812-23eb40fb07cc"] {
            let wanted = UserRef::parse(text).unwrap();
            assert!(matches_user(&users[0], &wanted) && finder.user(&wanted).is_some(), "{text}");
        }
        assert!(finder.user(&UserRef::parse("nobody").unwrap()).is_none());
        for text in ["finance team", "E79CB8EB-2BB6-4821-914C-F8DFD21FEDC7"] {
            let wanted = GroupRef::parse_with(text, crate::model::NameRule::Free).unwrap();
            assert!(matches_group(&groups[0], &wanted) && finder.group(&wanted).is_some(), "{text}");
        }
    }
}
