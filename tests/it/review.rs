//! Access reviews, `--sync` and undo end to end against a sandbox over loopback: an export
//! edited by reviewers and imported, groups made equal to a sheet within the guard rails,
//! and the undo file putting a tenant back.
//!
//! Tenants are compared by names (groups' members by username, users' roles, groups'
//! attributes), so that a group recreated under a new GUID compares equal.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use roster::sandbox::Seed;

use crate::common::{
    TestSandbox, Workspace, generated, group_attributes, membership_pairs, memberships_by_name, read_csv,
    roles_by_name, write_csv,
};

/// The route of a removal: one call per group, carrying all of its leaving users.
const REMOVE_ROUTE: &str = "POST /api/service/groups/{guid}/members/remove";

/// Calls by route, for the routes that write.
fn writes_by_route(sandbox: &TestSandbox) -> BTreeMap<String, u64> {
    sandbox.stats().by_route.into_iter().filter(|(route, _)| !route.starts_with("GET ")).collect()
}

fn pairs<const N: usize>(pairs: [(&str, &str); N]) -> BTreeSet<(String, String)> {
    pairs.into_iter().map(|(user, group)| (user.to_string(), group.to_string())).collect()
}

#[tokio::test]
async fn a_review_exported_edited_and_imported_revokes_exactly_what_was_decided() {
    let work = Workspace::new();
    let sandbox = TestSandbox::start().await;
    let before = sandbox.state();
    let export = work.join("review.csv");
    work.export(&sandbox, "memberships").arg("-o").arg(&export).run().await.assert_exit(0);

    // The reviewers' edits: one `keep` becomes `remove`; one gets decision=revoke with a
    // justification; one is kept explicitly with a justification; the rest are untouched.
    let (header, mut records) = read_csv(&export);
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (action, decision, justification) = (column("action"), column("decision"), column("justification"));
    for record in &mut records {
        match (record[1].as_str(), record[2].as_str()) {
            ("jsmith", "data_stewards") => record[action] = "remove".into(),
            ("akumar", "finance_analysts") => {
                record[decision] = "revoke".into();
                record[justification] = "Never logged in; moved to Legal (HR-4411)".into();
            }
            ("jdoe", "data_stewards") => {
                record[decision] = "keep".into();
                record[justification] = "Owns the sales definitions".into();
            }
            _ => {}
        }
    }
    let reviewed = work.join("reviewed.csv");
    write_csv(&reviewed, &header, &records);

    let output = work.import(&sandbox, &reviewed).arg("--yes").run().await;
    output.assert_exit(0);
    insta::assert_snapshot!(output.table(&["line", "action", "user", "group", "decision", "justification", "status", "detail"]), @r"
    2 | keep | jdoe | data_stewards | keep | Owns the sales definitions | skipped | keep: no change asked for
    3 | remove | jsmith | data_stewards |  |  | ok | removed
    4 | keep | akumar | finance_analysts | revoke | Never logged in; moved to Legal (HR-4411) | ok | removed
    5 | keep | jdoe | finance_analysts |  |  | skipped | keep: no change asked for
    6 | keep | mgarcia | marketing |  |  | skipped | keep: no change asked for
    ");
    // The evidence: every column of the reviewed file, and the request id of each removal.
    assert_eq!(output.header[..header.len()], header[..]);
    assert!(!output.row(4)["request_id"].is_empty());
    // Only the revocations reached the tenant: one removal call per group.
    assert_eq!(writes_by_route(&sandbox), BTreeMap::from([(REMOVE_ROUTE.to_string(), 2)]));

    // Exporting again shows exactly the intended memberships.
    let intended = pairs([("jdoe", "data_stewards"), ("jdoe", "finance_analysts"), ("mgarcia", "marketing")]);
    assert_eq!(membership_pairs(&sandbox.state()), intended);
    let again = work.join("after.csv");
    work.export(&sandbox, "memberships").arg("-o").arg(&again).run().await.assert_exit(0);
    let exported: BTreeSet<(String, String)> =
        read_csv(&again).1.into_iter().map(|r| (r[1].clone(), r[2].clone())).collect();
    assert_eq!(exported, intended);

    // Should a decision be reversed, the undo file puts the memberships back.
    let undo = work.join("reviewed.undo.csv");
    let undone = work.import(&sandbox, &undo).arg("--yes").run().await;
    undone.assert_exit(0);
    assert_eq!(undone.statuses(), ["2 ok", "3 ok"]);
    assert_eq!(membership_pairs(&sandbox.state()), membership_pairs(&before));
}

/// A file of `keep` rows for the first `keep` members of each group that has members, and
/// the members each group should end with.
fn keep_file(tenant: &Seed, keep: usize) -> (String, BTreeMap<String, BTreeSet<String>>) {
    let username = |id: &String| tenant.users.iter().find(|u| &u.id == id).unwrap().username.clone();
    let mut text = String::from("action,user,group\n");
    let mut wanted = BTreeMap::new();
    for group in tenant.groups.iter().filter(|g| !g.members.is_empty()) {
        let kept: BTreeSet<String> = group.members.iter().take(keep).map(username).collect();
        for user in &kept {
            writeln!(text, "keep,{user},{}", group.name).unwrap();
        }
        wanted.insert(group.name.clone(), kept);
    }
    (text, wanted)
}

#[tokio::test]
async fn a_sync_over_its_removal_limit_is_refused_and_sends_nothing() {
    let work = Workspace::new();
    let tenant = generated("users=40,groups=3,memberships=45,seed=2");
    let sandbox = TestSandbox::with_seed(tenant.clone()).await;
    let before = sandbox.state();
    let (text, _) = keep_file(&tenant, 2);
    let input = work.write("teams.csv", &text);
    let removals = tenant.groups.iter().map(|g| g.members.len().saturating_sub(2)).sum::<usize>();
    assert!(removals > 10, "more than the default limit ({removals})");

    // The default --max-removals is 10.
    let refused = work.import(&sandbox, &input).args(["--sync", "--yes"]).run().await;
    refused.assert_exit(2);
    let why = format!(
        "--sync would remove {removals} membership(s), more than --max-removals 10; check the file, then raise --max-removals if it is right"
    );
    assert!(refused.stderr.contains(&format!("error: {why}; nothing was sent")), "{}", refused.stderr);
    assert_eq!(sandbox.stats().writes(), 0, "{:?}", sandbox.stats());
    assert_eq!(sandbox.state(), before);
    // Every row, the file's and the removals sync added, is skipped with the reason.
    assert_eq!(refused.rows.len(), text.lines().count() - 1 + removals);
    for row in &refused.rows {
        assert_eq!(row["status"], "skipped", "{row:?}");
        if row["line"].is_empty() {
            assert_eq!(row["action"], "remove");
            assert!(row["detail"].starts_with(&format!("not sent: {why}")), "{row:?}");
        }
    }
    assert!(!work.join("teams.undo.csv").exists(), "nothing changed, nothing to undo");

    // A lower limit refuses too.
    let lower = work.import(&sandbox, &input).args(["--sync", "--yes", "--max-removals", "3"]).run().await;
    lower.assert_exit(2);
    assert!(lower.stderr.contains("more than --max-removals 3"), "{}", lower.stderr);
    assert_eq!(sandbox.stats().writes(), 0);
}

#[tokio::test]
async fn a_sync_within_its_limit_makes_the_groups_equal_to_the_file() {
    let work = Workspace::new();
    let tenant = generated("users=40,groups=3,memberships=45,seed=2");
    let sandbox = TestSandbox::with_seed(tenant.clone()).await;
    let (mut text, mut wanted) = keep_file(&tenant, 2);
    // An add too: a user of no group joins the first one.
    let first = tenant.groups[0].name.clone();
    let outsider = tenant
        .users
        .iter()
        .find(|u| !tenant.groups.iter().any(|g| g.members.contains(&u.id)))
        .expect("a user in no group")
        .username
        .clone();
    writeln!(text, "add,{outsider},{first}").unwrap();
    wanted.get_mut(&first).unwrap().insert(outsider);
    let input = work.write("teams.csv", &text);
    let removals = tenant.groups.iter().map(|g| g.members.len().saturating_sub(2)).sum::<usize>();

    // The limit is inclusive: exactly as many removals as allowed go ahead.
    let limit = removals.to_string();
    let preview =
        work.import(&sandbox, &input).args(["--sync", "--dry-run", "--max-removals", &limit]).run().await;
    preview.assert_exit(0);
    assert_eq!(sandbox.stats().writes(), 0);
    let would: Vec<_> = preview.rows.iter().filter(|r| r["status"] == "would_change").collect();
    assert_eq!(would.len(), removals + 1, "the removals and the add");

    let output =
        work.import(&sandbox, &input).args(["--sync", "--yes", "--max-removals", &limit]).run().await;
    output.assert_exit(0);
    let synced: Vec<_> = output.rows.iter().filter(|r| r["line"].is_empty()).collect();
    assert_eq!(synced.len(), removals);
    for row in &synced {
        assert_eq!(
            (row["action"].as_str(), row["status"].as_str(), row["detail"].as_str()),
            ("remove", "ok", "removed (--sync: the file does not list this membership)"),
        );
    }
    // The file's own rows come first, in input order, then the added removals.
    let lines: Vec<&str> = output.column("line").into_iter().take(output.rows.len() - removals).collect();
    let expected: Vec<String> = (2..2 + output.rows.len() - removals).map(|l| l.to_string()).collect();
    assert_eq!(lines, expected);
    // One removal call per group, one add.
    assert_eq!(
        writes_by_route(&sandbox),
        BTreeMap::from([
            (REMOVE_ROUTE.to_string(), 3),
            ("POST /api/service/users/{guid}/groups".to_string(), 1)
        ])
    );
    let state = memberships_by_name(&sandbox.state());
    for (group, users) in &wanted {
        assert_eq!(&state[group], users, "{group}");
    }
    // Run again: the groups are as the file says, so nothing is sent.
    let writes = sandbox.stats().writes();
    let again = work.import(&sandbox, &input).args(["--sync", "--yes"]).run().await;
    again.assert_exit(0);
    assert_eq!(again.rows.len(), output.rows.len() - removals);
    assert_eq!(sandbox.stats().writes(), writes);
}

#[tokio::test]
async fn a_sync_that_would_empty_a_group_is_refused() {
    let work = Workspace::new();
    let sandbox = TestSandbox::start().await;
    let before = sandbox.state();
    // marketing's one member is removed by the file itself.
    let removes =
        work.write("removes.csv", "action,user,group\nremove,mgarcia,marketing\nkeep,jdoe,data_stewards\n");
    let refused = work.import(&sandbox, &removes).args(["--sync", "--yes"]).run().await;
    refused.assert_exit(2);
    assert!(
        refused.stderr.contains(
            "error: --sync would leave group(s) marketing without members; list at least one member of each (or drop --sync); nothing was sent"
        ),
        "{}",
        refused.stderr
    );
    assert!(refused.column("status").iter().all(|s| *s == "skipped"), "{:#?}", refused.rows);
    assert_eq!(sandbox.stats().writes(), 0, "{:?}", sandbox.stats());
    assert_eq!(sandbox.state(), before);
}

#[tokio::test]
async fn under_sync_a_keep_of_a_non_member_adds_them() {
    let work = Workspace::new();
    let sandbox = TestSandbox::start().await;
    // lchen is not in marketing: keeping lchen there means adding lchen, and mgarcia goes.
    let stale = work.write("stale.csv", "action,user,group\nkeep,lchen,marketing\n");
    let output = work.import(&sandbox, &stale).args(["--sync", "--yes"]).run().await;
    output.assert_exit(0);
    assert_eq!(output.column("status"), ["ok", "ok"], "{:#?}", output.rows);
    assert_eq!(memberships_by_name(&sandbox.state())["marketing"], BTreeSet::from(["lchen".to_string()]));
}

#[tokio::test]
async fn a_sync_dry_run_shows_the_plan_and_writes_nothing() {
    let work = Workspace::new();
    let sandbox = TestSandbox::start().await;
    let before = sandbox.state();
    let input = work.write(
        "teams.csv",
        "action,user,group\nkeep,jdoe,data_stewards\nadd,lchen,data_stewards\nkeep,akumar,finance_analysts\n",
    );
    let output = work.import(&sandbox, &input).args(["--sync", "--dry-run"]).run().await;
    output.assert_exit(0);
    insta::assert_snapshot!(output.table(&["line", "action", "user", "group", "status", "detail"]), @r"
    2 | keep | jdoe | data_stewards | skipped | keep: no change asked for
    3 | add | lchen | data_stewards | would_change | would add the user to the group: POST /api/service/users/3f94d413-ae47-4ddb-a5a9-1b286e7eb04e/groups (1 groups in one call)
    4 | keep | akumar | finance_analysts | skipped | keep: no change asked for
     | remove | jdoe | finance_analysts | would_change | would remove the user from the group: POST /api/service/groups/a99f50bc-46bf-4d08-a987-3411ef5cfc33/members/remove (1 users in one call) (--sync: the file does not list this membership)
     | remove | jsmith | data_stewards | would_change | would remove the user from the group: POST /api/service/groups/e79cb8eb-2bb6-4821-914c-f8dfd21fedc7/members/remove (1 users in one call) (--sync: the file does not list this membership)
    ");
    assert!(output.stderr.contains("dry run: nothing was changed"), "{}", output.stderr);

    // Over the limit, the dry run still shows the plan, and says a real run would refuse.
    let over = work.import(&sandbox, &input).args(["--sync", "--dry-run", "--max-removals", "1"]).run().await;
    over.assert_exit(0);
    assert_eq!(over.rows.iter().filter(|r| r["status"] == "would_change").count(), 3);
    assert!(
        over.stderr.contains(
            "a real run would refuse: --sync would remove 2 membership(s), more than --max-removals 1"
        ),
        "{}",
        over.stderr
    );
    assert_eq!(sandbox.stats().writes(), 0);
    assert_eq!(sandbox.state(), before);
    assert!(!work.join("teams.undo.csv").exists());
}

#[tokio::test]
async fn the_undo_file_puts_every_kind_of_change_back() {
    let work = Workspace::new();
    let sandbox = TestSandbox::start().await;
    let before = sandbox.state();
    let input = work.write(
        "changes.csv",
        "action,user,group,role,alias,description\n\
         add,lchen,marketing,,,\n\
         remove,jdoe,finance_analysts,,,\n\
         set_role,jsmith,,member,,\n\
         update_group,,finance_analysts,,Finance Team,Money people\n\
         create_group,,legal,,Legal,Lawyers\n\
         add,akumar,legal,,,\n\
         delete_group,,data_stewards,,,\n",
    );
    let applied = work.import(&sandbox, &input).arg("--yes").run().await;
    applied.assert_exit(0);
    assert!(applied.column("status").iter().all(|s| *s == "ok"), "{:#?}", applied.rows);
    let changed = sandbox.state();
    assert_ne!(memberships_by_name(&changed), memberships_by_name(&before));
    assert_ne!(roles_by_name(&changed), roles_by_name(&before));
    assert_ne!(group_attributes(&changed), group_attributes(&before));

    let undo = work.join("changes.undo.csv");
    insta::assert_snapshot!(std::fs::read_to_string(&undo).unwrap(), @r"
    action,user,group,role,alias,description,is_default,new_name,undoes_line
    create_group,,data_stewards,,Data Stewards,Owners of data quality and definitions,false,,8
    add,jdoe,finance_analysts,,,,,,3
    add,jdoe,data_stewards,,,,,,8
    add,jsmith,data_stewards,,,,,,8
    remove,lchen,marketing,,,,,,2
    set_role,jsmith,,$admin,,,,,4
    update_group,,finance_analysts,,Finance Analysts,Finance reporting team,,,5
    delete_group,,legal,,,,,,6
    ");
    let undone = work.import(&sandbox, &undo).arg("--yes").run().await;
    undone.assert_exit(0);
    assert!(undone.column("status").iter().all(|s| *s == "ok"), "{:#?}", undone.rows);

    let after = sandbox.state();
    assert_eq!(memberships_by_name(&after), memberships_by_name(&before));
    assert_eq!(roles_by_name(&after), roles_by_name(&before));
    assert_eq!(group_attributes(&after), group_attributes(&before));
    let names = |state: &Seed| state.groups.iter().map(|g| g.name.clone()).collect::<BTreeSet<_>>();
    assert_eq!(names(&after), names(&before), "legal is gone, data_stewards is back");

    // Undoing the undo redoes the run.
    let redo = work.join("changes.undo.undo.csv");
    work.import(&sandbox, &redo).arg("--yes").run().await.assert_exit(0);
    assert_eq!(memberships_by_name(&sandbox.state()), memberships_by_name(&changed));
    assert_eq!(roles_by_name(&sandbox.state()), roles_by_name(&changed));
}
