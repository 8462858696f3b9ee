//! What the providers share about calls: building each call's outcome for its effects, and
//! matching the users and groups a file names against what a platform returned.

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
