//! `roster import`, `export`, reviews, `--sync` and undo against an in-process UiPath
//! sandbox over loopback, the way `import.rs`, `export.rs` and `review.rs` run them against
//! Atlan's: the real binary, an empty environment but for `UIPATH_*`, and assertions on the
//! results file, the exit code, stderr, and what the sandbox saw and holds.
//!
//! UiPath's budget is tiny (notes §11), so what the sandbox counts is the point: one
//! `PUT /api/Group/{groupId}` per group per chunk of 500 changes, a new group's first
//! members in its `POST`, and nothing but reads and tokens in a dry run. No test asserts on
//! time: the token-expiry test makes its run outlast a token through roster's own PUT
//! pacing (governor keeps requests at least a period apart), not by measuring.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::time::Duration;

use roster::sandbox::UiPathOptions;
use roster::sandbox::uipath::seed::Seed;

use crate::common::{
    RosterOutput, TestOrg, UIPATH_GENERATED_CLIENT, UipathEnv, Workspace, default_results, read_csv,
    uipath_generated, write_csv,
};

/// `samples/uipath-tenant.json`, written out here rather than read from the sandbox's code,
/// so that a change to the sample shows up as a failing test.
mod sample {
    /// `roster`: PM.Group and PM.User.
    pub(crate) const ROSTER_APP: (&str, &str) =
        ("2db0cb3b-5e18-49f1-85af-a32c9d5d1ff4", "roster-sandbox-secret");
    /// `auditor`: PM.Group.Read and PM.User.Read.
    pub(crate) const AUDITOR_APP: (&str, &str) =
        ("1c39d32c-662b-4e57-b96a-42128e0bcc56", "auditor-sandbox-secret");
    /// `Administrators` (built in): Jo.
    pub(crate) const ADMINISTRATORS: &str = "ab77d6fd-d29b-4a9c-b938-ef637f108d81";
    /// `Finance Automation`: Jo, Ana and svc.batch.
    pub(crate) const FINANCE: &str = "293e82f6-6cec-4196-95a9-e6ce4ff0072f";
    /// `HR Process Owners`: Mei.
    pub(crate) const HR: &str = "363d68f2-818f-4070-884d-fd2d7edb03ac";
}

use sample::{ADMINISTRATORS, AUDITOR_APP, FINANCE, HR, ROSTER_APP};

/// The token endpoint as roster calls it (organization-scoped).
const TOKEN_ROUTE: &str = "POST /{organization}/identity_/connect/token";
/// Every change to an existing group: its rename, adds and removes, one call per chunk.
const PUT_ROUTE: &str = "PUT /{organization}/identity_/api/Group/{groupId}";
/// A new group, with its first members.
const CREATE_ROUTE: &str = "POST /{organization}/identity_/api/Group";
/// One group's deletion.
const DELETE_ROUTE: &str = "DELETE /{organization}/identity_/api/Group/{partitionGlobalId}/{groupId}";
/// The groups, in one unpaged listing.
const GROUPS_ROUTE: &str = "GET /{organization}/identity_/api/Group/{partitionGlobalId}";
/// A group's members, page by page.
const MEMBERS_ROUTE: &str = "GET /{organization}/identity_/api/Group/{partitionGlobalId}/{groupId}/Members";
/// The users, page by page.
const USERS_ROUTE: &str = "GET /{organization}/identity_/api/User/users/{partitionGlobalId}";

/// The columns roster appends to the input's own.
const RESULT_COLUMNS: [&str; 8] =
    ["line", "status", "detail", "http_status", "attempts", "request_id", "user_id", "group_id"];

/// The columns of a memberships export, the same for every platform.
const MEMBERSHIP_COLUMNS: [&str; 10] = [
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

/// The sample organization, reached as the `roster` application.
async fn sample_org() -> (TestOrg, UipathEnv) {
    let org = TestOrg::start().await;
    let env = org.env(ROSTER_APP);
    (org, env)
}

/// Calls that change something, by route: everything but reads and token requests.
fn writes(org: &TestOrg) -> BTreeMap<String, u64> {
    org.stats()
        .by_route
        .into_iter()
        .filter(|(route, _)| !route.starts_with("GET ") && route != TOKEN_ROUTE)
        .collect()
}

fn routes<const N: usize>(calls: [(&str, u64); N]) -> BTreeMap<String, u64> {
    calls.into_iter().map(|(route, n)| (route.to_string(), n)).collect()
}

/// Each group's members by userName, groups by name: an organization as people see it.
fn members_by_name(state: &Seed) -> BTreeMap<String, BTreeSet<String>> {
    let user_name = |id: &String| {
        state.users.iter().find(|u| &u.id == id).map_or_else(|| id.clone(), |u| u.user_name.clone())
    };
    state.groups.iter().map(|g| (g.name.clone(), g.members.iter().map(user_name).collect())).collect()
}

/// Groups by GUID, with their names and members: what an undo must restore (the sandbox
/// stamps `lastModificationTime`, which no undo can take back).
fn outline(state: &Seed) -> BTreeMap<String, (String, BTreeSet<String>)> {
    state
        .groups
        .iter()
        .map(|g| (g.id.clone(), (g.name.clone(), g.members.iter().cloned().collect())))
        .collect()
}

/// `members_by_name` of a literal.
fn groups<const N: usize>(groups: [(&str, &[&str]); N]) -> BTreeMap<String, BTreeSet<String>> {
    groups
        .into_iter()
        .map(|(name, members)| (name.to_string(), members.iter().map(ToString::to_string).collect()))
        .collect()
}

fn group_id(state: &Seed, name: &str) -> String {
    state.groups.iter().find(|g| g.name == name).unwrap_or_else(|| panic!("no group {name}")).id.clone()
}

/// Fails unless every results row has `status`.
#[track_caller]
fn assert_all(output: &RosterOutput, status: &str) {
    assert!(!output.rows.is_empty(), "no rows");
    for row in &output.rows {
        assert_eq!(row["status"], status, "{row:?}");
    }
}

/// A file holding `secret`, for `--api-key-file`.
fn secret_file(work: &Workspace, secret: &str) -> std::path::PathBuf {
    work.write("uipath-secret", &format!("{secret}\n"))
}

#[tokio::test]
async fn every_action_of_the_sample_is_applied_with_one_put_per_group() {
    let work = Workspace::new();
    let (org, env) = sample_org().await;
    let input = work.copy_sample("uipath-assignments.csv");
    let output = work.uipath_import(&env, &input).arg("--yes").run().await;
    output.assert_exit(0);

    // Every input row, in input order, with its own cells (the ticket column too) first.
    let (input_header, input_rows) = read_csv(&input);
    let expected: Vec<&str> = input_header.iter().map(String::as_str).chain(RESULT_COLUMNS).collect();
    assert_eq!(output.header, expected);
    assert_eq!(output.rows.len(), input_rows.len());
    for (result, original) in output.rows.iter().zip(&input_rows) {
        for (column, cell) in input_header.iter().zip(original) {
            assert_eq!(&result[column], cell, "line {}, column {column}", result["line"]);
        }
    }

    let state = org.state();
    let reviewers = group_id(&state, "RPA Reviewers");
    let table = output
        .table(&["line", "status", "detail", "http_status", "attempts"])
        .replace(&reviewers, "[new group]");
    insta::assert_snapshot!(table, @r"
    2 | ok | created group RPA Reviewers ([new group]) | 201 | 1
    3 | ok | added to the new group RPA Reviewers | 201 | 1
    4 | ok | added | 200 | 1
    5 | ok | added | 200 | 1
    6 | ok | removed | 200 | 1
    7 | skipped | keep: no change asked for |  | 
    8 | ok | renamed to People Process Owners | 200 | 1
    9 | ok | deleted | 204 | 1
    ");

    // Finance Automation's two adds and its removal went in one PUT, HR's rename in another;
    // the new group's first member rode on its POST.
    assert_eq!(writes(&org), routes([(CREATE_ROUTE, 1), (PUT_ROUTE, 2), (DELETE_ROUTE, 1)]));
    assert_eq!(org.stats().calls(TOKEN_ROUTE), 1, "one token for the whole run");
    let request = |line: u64| output.row(line)["request_id"].clone();
    assert_eq!([request(3), request(5), request(6)], [request(2), request(4), request(4)]);
    let distinct: BTreeSet<String> = output.rows.iter().map(|r| r["request_id"].clone()).collect();
    assert_eq!(distinct.len(), 5, "four calls, and no request id for the keep row");
    assert_eq!((output.row(4)["group_id"].as_str(), output.row(8)["group_id"].as_str()), (FINANCE, HR));

    // The organization ends as the file asked; the renamed group keeps its GUID.
    assert_eq!(
        members_by_name(&state),
        groups([
            ("Everyone", &[]),
            ("Administrators", &["jo.doe@example.com"]),
            (
                "Finance Automation",
                &[
                    "ana.silva@example.com",
                    "jo.doe@example.com",
                    "mei.chen@example.com",
                    "raj.patel@example.com"
                ]
            ),
            ("People Process Owners", &["mei.chen@example.com"]),
            ("RPA Reviewers", &["raj.patel@example.com"]),
        ])
    );
    assert_eq!(group_id(&state, "People Process Owners"), HR);

    let summary = work.redact(&output.stderr);
    assert!(summary.contains("[TMP]/uipath-assignments.csv: 8 rows: 7 ok, 1 skipped"), "{summary}");
    assert!(
        summary.ends_with("undo: [TMP]/uipath-assignments.undo.csv (6 rows; `roster import [TMP]/uipath-assignments.undo.csv` reverses this run)\n"),
        "{summary}"
    );
}

#[tokio::test]
async fn the_undo_file_puts_the_organization_back() {
    let work = Workspace::new();
    let (org, env) = sample_org().await;
    let before = org.state();
    let input = work.copy_sample("uipath-assignments.csv");
    work.uipath_import(&env, &input).arg("--yes").run().await.assert_exit(0);

    let undo = work.join("uipath-assignments.undo.csv");
    insta::assert_snapshot!(std::fs::read_to_string(&undo).unwrap(), @r"
    action,user,group,role,alias,description,is_default,new_name,undoes_line
    create_group,,Citizen Developers,,,,false,,9
    add,svc.batch,Finance Automation,,,,,,6
    remove,mei.chen@example.com,Finance Automation,,,,,,4
    remove,raj.patel@example.com,Finance Automation,,,,,,5
    update_group,,People Process Owners,,,,,HR Process Owners,8
    delete_group,,RPA Reviewers,,,,,,2
    ");
    let undone = work.uipath_import(&env, &undo).arg("--yes").run().await;
    undone.assert_exit(0);
    assert_all(&undone, "ok");
    assert_eq!(members_by_name(&org.state()), members_by_name(&before));
    assert_eq!(group_id(&org.state(), "HR Process Owners"), HR, "renamed back, not recreated");
    // The second run: Finance Automation's add and two removals in one PUT, HR's rename back.
    assert_eq!(writes(&org), routes([(CREATE_ROUTE, 2), (PUT_ROUTE, 4), (DELETE_ROUTE, 2)]));
}

#[tokio::test]
async fn a_dry_run_reads_and_asks_for_a_token_and_writes_nothing() {
    let work = Workspace::new();
    let (org, env) = sample_org().await;
    let before = org.state();
    let input = work.copy_sample("uipath-assignments.csv");
    // The platform named on the command line this time, not only by the environment.
    let output = work.uipath_import(&env, &input).args(["--dry-run", "--provider", "uipath"]).run().await;
    output.assert_exit(0);

    let stats = org.stats();
    let methods: BTreeSet<&str> = stats.by_method.keys().map(String::as_str).collect();
    assert_eq!(methods, BTreeSet::from(["GET", "POST"]), "{stats:?}");
    assert_eq!(stats.by_method["POST"], stats.calls(TOKEN_ROUTE), "every POST asked for a token: {stats:?}");
    assert_eq!(writes(&org), BTreeMap::new());
    assert_eq!(org.state(), before);
    insta::assert_snapshot!(output.table(&["line", "status", "detail"]), @r"
    2 | would_change | would create group RPA Reviewers: POST /api/Group (creating the group with 1 first members)
    3 | would_change | would add the user to the group: POST /api/Group (creating the group with 1 first members)
    4 | would_change | would add the user to the group: PUT /api/Group/293e82f6-6cec-4196-95a9-e6ce4ff0072f (2 adds and 1 removes in one call)
    5 | would_change | would add the user to the group: PUT /api/Group/293e82f6-6cec-4196-95a9-e6ce4ff0072f (2 adds and 1 removes in one call)
    6 | would_change | would remove the user from the group: PUT /api/Group/293e82f6-6cec-4196-95a9-e6ce4ff0072f (2 adds and 1 removes in one call)
    7 | skipped | keep: no change asked for
    8 | would_change | would update group HR Process Owners: PUT /api/Group/363d68f2-818f-4070-884d-fd2d7edb03ac (0 adds and 0 removes in one call)
    9 | would_change | would delete the group: DELETE /api/Group/{partitionGlobalId}/f4d1c7a9-2b3e-4c5d-8e6f-708192a3b4c5
    ");
    assert!(output.stderr.contains("dry run: nothing was changed"), "{}", output.stderr);
    assert!(!work.join("uipath-assignments.undo.csv").exists(), "nothing changed, nothing to undo");
}

#[tokio::test]
async fn more_than_500_changes_to_a_group_are_chunked_and_adds_and_removes_share_a_put() {
    let work = Workspace::new();
    let mut seed = uipath_generated("users=1200,groups=2,memberships=0,seed=11");
    let users: Vec<(String, String)> =
        seed.users.iter().map(|u| (u.id.clone(), u.user_name.clone())).collect();
    // The first group has 600 members; the second, two.
    seed.groups[0].members = users[..600].iter().map(|(id, _)| id.clone()).collect();
    seed.groups[1].members = users[..2].iter().map(|(id, _)| id.clone()).collect();
    let (big, small) = (seed.groups[0].name.clone(), seed.groups[1].name.clone());
    let org = TestOrg::with(seed, UiPathOptions::default()).await;
    let env = org.env(UIPATH_GENERATED_CLIENT);

    // 700 changes to the big group (300 leave, 400 join); three to the small one.
    let mut text = String::from("action,user,group\n");
    for (_, name) in &users[..300] {
        writeln!(text, "remove,{name},{big}").unwrap();
    }
    for (_, name) in &users[600..1000] {
        writeln!(text, "add,{name},{big}").unwrap();
    }
    write!(text, "add,{},{small}\nadd,{},{small}\nremove,{},{small}\n", users[2].1, users[3].1, users[0].1)
        .unwrap();
    let input = work.write("bulk.csv", &text);
    let output = work.uipath_import(&env, &input).arg("--yes").run().await;
    output.assert_exit(0);
    assert_eq!(output.rows.len(), 703);
    assert_all(&output, "ok");

    // Three PUTs: 500 and 200 changes for the big group, one for the small one's three.
    assert_eq!(writes(&org), routes([(PUT_ROUTE, 3)]));
    let mut calls: BTreeMap<String, (String, usize, usize)> = BTreeMap::new();
    for row in &output.rows {
        let call = calls.entry(row["request_id"].clone()).or_insert_with(|| (row["group"].clone(), 0, 0));
        assert_eq!(call.0, row["group"], "one group per call");
        if row["action"] == "add" { call.1 += 1 } else { call.2 += 1 }
    }
    // (adds, removes) of each call, by group.
    let mut by_group: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
    for (group, adds, removes) in calls.into_values() {
        by_group.entry(group).or_default().push((adds, removes));
    }
    assert_eq!(by_group[&small], [(2, 1)], "the small group's adds and removal in one PUT");
    let chunks = &by_group[&big];
    let mut sizes: Vec<usize> = chunks.iter().map(|(adds, removes)| adds + removes).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [200, 500], "{chunks:?}");
    assert_eq!(chunks.iter().fold((0, 0), |sum, c| (sum.0 + c.0, sum.1 + c.1)), (400, 300));
    assert!(chunks.iter().any(|(adds, removes)| *adds > 0 && *removes > 0), "a chunk mixes both: {chunks:?}");

    let state = members_by_name(&org.state());
    let names = |range: std::ops::Range<usize>| -> BTreeSet<String> {
        users[range].iter().map(|(_, name)| name.clone()).collect()
    };
    assert_eq!(state[&big], names(300..1000));
    assert_eq!(state[&small], names(1..4));
}

#[tokio::test]
async fn a_token_that_expires_mid_run_is_renewed_without_losing_a_row() {
    let work = Workspace::new();
    // Three-second tokens, and eight PUTs paced at least half a second apart by roster's own
    // budget (PUT=600 per five minutes), one at a time: the run outlasts its first token
    // however fast the machine is, and a token fetched again after a 401 (the sandbox counts
    // expiry in whole seconds, so some lapse before roster renews them) outlives the wait
    // for the next slot by far.
    let options = UiPathOptions { token_ttl: Duration::from_secs(3), ..UiPathOptions::default() };
    let seed = uipath_generated("users=8,groups=8,memberships=0,seed=3");
    let mut text = String::from("action,user,group\n");
    let mut wanted = BTreeMap::new();
    for (user, group) in seed.users.iter().zip(&seed.groups) {
        writeln!(text, "add,{},{}", user.user_name, group.name).unwrap();
        wanted.insert(group.id.clone(), (group.name.clone(), BTreeSet::from([user.id.clone()])));
    }
    let org = TestOrg::with(seed, options).await;
    let env = org.env(UIPATH_GENERATED_CLIENT);
    let input = work.write("slow.csv", &text);
    let output = work
        .roster([std::ffi::OsStr::new("import"), input.as_os_str()])
        .uipath(&env)
        .args(["--budget", "GET=30000,PUT=600,DELETE=30000,POST=30000", "--concurrency", "1"])
        .results_at(&default_results(&input))
        .run()
        .await;
    output.assert_exit(0);
    assert_eq!(output.rows.len(), 8);
    assert_all(&output, "ok");

    let stats = org.stats();
    assert!(stats.calls(TOKEN_ROUTE) > 1, "the token was renewed: {stats:?}");
    // A call that met the expired token (401) was sent again with a new one; nothing else
    // was refused.
    let refused: u64 = stats.by_status.iter().filter(|(status, _)| *status != "200").map(|(_, n)| n).sum();
    assert_eq!(refused, stats.by_status.get("401").copied().unwrap_or(0), "{stats:?}");
    assert_eq!(stats.calls(PUT_ROUTE), 8 + stats.by_status.get("401").copied().unwrap_or(0), "{stats:?}");
    let mut after = outline(&org.state());
    after.retain(|id, _| wanted.contains_key(id));
    assert_eq!(after, wanted);
}

#[tokio::test]
async fn rows_uipath_cannot_apply_are_invalid_with_clear_messages() {
    let work = Workspace::new();
    let (org, env) = sample_org().await;
    let input = work.write(
        "in.csv",
        "action,user,group,role,alias,description,is_default,new_name\n\
         set_role,jo.doe@example.com,,admin,,,,\n\
         create_group,,Team X,,TX,,,\n\
         update_group,,Finance Automation,,,Money,,\n\
         create_group,,Team Y,,,,true,\n\
         update_group,,Finance Automation,,,,,\n\
         add,raj.patel@example.com,citizen developers,,,,,\n",
    );
    let held = work.uipath_import(&env, &input).run().await;
    held.assert_exit(1);
    insta::assert_snapshot!(held.table(&["line", "status", "detail"]), @r"
    2 | invalid | column action: UiPath has no workspace roles, so set_role can't be applied; grant access through group membership (add rows) instead
    3 | invalid | column alias: UiPath groups have no alias; leave alias empty
    4 | invalid | column description: UiPath groups have no description; leave description empty
    5 | invalid | column is_default: UiPath groups have no default flag; leave is_default empty
    6 | invalid | update_group changes nothing; fill in new_name with the group's new name
    7 | skipped | not sent: 5 row(s) of this file are invalid; fix them, or rerun with --skip-invalid to send the valid rows
    ");
    assert_eq!(writes(&org), BTreeMap::new(), "nothing is written while a row is invalid");

    // The valid row goes with --skip-invalid: group names match in any case.
    let sent = work.uipath_import(&env, &input).arg("--skip-invalid").run().await;
    sent.assert_exit(1);
    assert_eq!(sent.row(7)["status"], "ok");
    assert_eq!(writes(&org), routes([(PUT_ROUTE, 1)]));
    assert_eq!(
        members_by_name(&org.state())["Citizen Developers"],
        BTreeSet::from(["raj.patel@example.com".into()])
    );
}

#[tokio::test]
async fn new_name_renames_a_group_in_the_put_that_carries_its_member_changes() {
    let work = Workspace::new();
    let (org, env) = sample_org().await;
    let before = org.state();
    let input = work.write(
        "rename.csv",
        "action,user,group,new_name\n\
         update_group,,HR Process Owners,People & Process\n\
         add,raj.patel@example.com,HR Process Owners,\n\
         remove,mei.chen@example.com,hr process owners,\n\
         update_group,,Citizen Developers,Finance Automation\n",
    );
    let output = work.uipath_import(&env, &input).args(["--yes", "--skip-invalid"]).run().await;
    output.assert_exit(1);
    insta::assert_snapshot!(output.table(&["line", "status", "detail"]), @r"
    2 | ok | renamed to People & Process
    3 | ok | added
    4 | ok | removed
    5 | invalid | column new_name: a group named Finance Automation exists already; choose another name, or delete that group first
    ");
    assert_eq!(writes(&org), routes([(PUT_ROUTE, 1)]), "the rename, the add and the removal in one call");
    let state = org.state();
    assert_eq!(group_id(&state, "People & Process"), HR);
    assert_eq!(members_by_name(&state)["People & Process"], BTreeSet::from(["raj.patel@example.com".into()]));

    // The undo file names the group as the run left it, and puts everything back in one PUT.
    let undo = work.join("rename.undo.csv");
    insta::assert_snapshot!(std::fs::read_to_string(&undo).unwrap(), @r"
    action,user,group,role,alias,description,is_default,new_name,undoes_line
    add,mei.chen@example.com,People & Process,,,,,,4
    update_group,,People & Process,,,,,HR Process Owners,2
    remove,raj.patel@example.com,People & Process,,,,,,3
    ");
    let undone = work.uipath_import(&env, &undo).arg("--yes").run().await;
    undone.assert_exit(0);
    assert_all(&undone, "ok");
    assert_eq!(writes(&org), routes([(PUT_ROUTE, 2)]));
    assert_eq!(outline(&org.state()), outline(&before));
}

#[tokio::test]
async fn built_in_groups_cannot_be_changed_even_by_sync() {
    let work = Workspace::new();
    let (org, env) = sample_org().await;
    let before = org.state();
    let changes = work.write(
        "built-in.csv",
        "action,user,group,new_name\n\
         add,raj.patel@example.com,Administrators,\n\
         remove,jo.doe@example.com,administrators,\n\
         update_group,,Everyone,All Users\n\
         add,raj.patel@example.com,Everyone,\n",
    );
    let deletions = work.write(
        "deletions.csv",
        &format!("action,group\ndelete_group,Everyone\ndelete_group,{ADMINISTRATORS}\n"),
    );
    let output = work.uipath_import(&env, &changes).arg("--yes").run().await;
    output.assert_exit(1);
    insta::assert_snapshot!(output.table(&["line", "status", "detail"]), @r"
    2 | invalid | column group: Administrators is a built-in group, which can't be changed; use a group of your own
    3 | invalid | column group: Administrators is a built-in group, which can't be changed; use a group of your own
    4 | invalid | column group: Everyone is a built-in group, which can't be changed; use a group of your own
    5 | invalid | column group: Everyone is a built-in group, which can't be changed; use a group of your own
    ");
    let deleted = work.uipath_import(&env, &deletions).arg("--yes").run().await;
    deleted.assert_exit(1);
    assert_eq!(deleted.statuses(), ["2 invalid", "3 invalid"]);
    assert_eq!(deleted.row(3)["detail"], output.row(2)["detail"], "by GUID as by name");

    // --sync would have to add Ana to Administrators and remove Jo: both rows are invalid,
    // and they hold back the file's valid changes to Finance Automation.
    let sync = work.write(
        "sync.csv",
        "action,user,group\nkeep,ana.silva@example.com,Administrators\nkeep,jo.doe@example.com,Finance Automation\n",
    );
    let synced = work.uipath_import(&env, &sync).args(["--sync", "--yes"]).run().await;
    synced.assert_exit(1);
    insta::assert_snapshot!(synced.table(&["line", "action", "user", "group", "status", "detail"]), @r"
    2 | keep | ana.silva@example.com | Administrators | invalid | column group: Administrators is a built-in group, which can't be changed: --sync would add this user, who is not a member; leave the group out of a --sync file, or list exactly its members
    3 | keep | jo.doe@example.com | Finance Automation | skipped | keep: no change asked for
     | remove | ana.silva@example.com | Finance Automation | skipped | not sent: 2 row(s) of this file are invalid; fix them, or rerun with --skip-invalid to send the valid rows (--sync: the file does not list this membership)
     | remove | svc.batch | Finance Automation | skipped | not sent: 2 row(s) of this file are invalid; fix them, or rerun with --skip-invalid to send the valid rows (--sync: the file does not list this membership)
     | remove | jo.doe@example.com | Administrators | invalid | column group: Administrators is a built-in group, which can't be changed: --sync would remove this member; leave the group out of a --sync file, or list exactly its members (--sync: the file does not list this membership)
    ");

    assert_eq!(writes(&org), BTreeMap::new());
    assert_eq!(org.state(), before);
}

#[tokio::test]
async fn exports_have_the_atlan_columns_and_importing_them_unedited_changes_nothing() {
    let work = Workspace::new();
    let (org, env) = sample_org().await;
    let before = org.state();

    let memberships = work.uipath_export(&env, "memberships").run().await;
    memberships.assert_exit(0);
    insta::assert_snapshot!(memberships.stdout, @r"
    action,user,group,user_email,user_name,user_role,last_login,group_alias,decision,justification
    keep,jo.doe@example.com,Administrators,jo.doe@example.com,Jo Doe,,2026-07-07T08:10:28Z,,,
    keep,ana.silva@example.com,Finance Automation,ana.silva@example.com,Ana Silva,,2026-06-30T15:45:02Z,,,
    keep,jo.doe@example.com,Finance Automation,jo.doe@example.com,Jo Doe,,2026-07-07T08:10:28Z,,,
    keep,svc.batch,Finance Automation,,Batch Service,,,,,
    keep,mei.chen@example.com,HR Process Owners,mei.chen@example.com,Mei Chen,,,,,
    ");
    // The groups and users once, then the members of every group but Everyone (whose
    // membership is implicit), and one token.
    let stats = org.stats();
    assert_eq!(
        stats.by_route,
        routes([(TOKEN_ROUTE, 1), (GROUPS_ROUTE, 1), (USERS_ROUTE, 1), (MEMBERS_ROUTE, 4)])
    );

    let (header, _) = read_csv(&work.write("memberships-stdout.csv", &memberships.stdout));
    assert_eq!(header, MEMBERSHIP_COLUMNS);

    for (what, status) in [("memberships", "skipped"), ("groups", "unchanged")] {
        let export = work.join(&format!("{what}.csv"));
        work.uipath_export(&env, what).arg("-o").arg(&export).run().await.assert_exit(0);
        let imported = work.uipath_import(&env, &export).run().await;
        imported.assert_exit(0);
        assert_all(&imported, status);
        assert_eq!(imported.rows.len(), read_csv(&export).1.len(), "{what}: every row reported");
    }
    // The users and groups exports have the columns Atlan's have.
    let (groups_header, _) = read_csv(&work.join("groups.csv"));
    assert_eq!(
        groups_header,
        ["action", "group", "alias", "description", "is_default", "member_count", "group_guid"]
    );
    let users = work.join("users.csv");
    work.uipath_export(&env, "users").arg("-o").arg(&users).run().await.assert_exit(0);
    let (users_header, records) = read_csv(&users);
    assert_eq!(
        users_header,
        [
            "action",
            "user",
            "role",
            "user_email",
            "first_name",
            "last_name",
            "last_login",
            "user_status",
            "group_count"
        ]
    );
    let li = records.iter().find(|r| r[1] == "li.wong@example.com").expect("a row for Li");
    assert_eq!((li[7].as_str(), li[8].as_str()), ("Invited", "0"));

    assert_eq!(writes(&org), BTreeMap::new());
    assert_eq!(org.state(), before);
}

#[tokio::test]
async fn importing_an_unedited_users_export_changes_nothing() {
    let work = Workspace::new();
    let (org, env) = sample_org().await;
    let before = org.state();
    let users = work.join("users.csv");
    work.uipath_export(&env, "users").arg("-o").arg(&users).run().await.assert_exit(0);
    let imported = work.uipath_import(&env, &users).run().await;
    imported.assert_exit(0);
    assert_eq!(imported.rows.len(), 6);
    for row in &imported.rows {
        assert!(["unchanged", "skipped"].contains(&row["status"].as_str()), "{row:?}");
    }
    assert_eq!(writes(&org), BTreeMap::new());
    assert_eq!(org.state(), before);
}

#[tokio::test]
async fn a_review_revocation_is_applied_alone_in_one_put() {
    let work = Workspace::new();
    let (org, env) = sample_org().await;
    let export = work.join("review.csv");
    work.uipath_export(&env, "memberships").arg("-o").arg(&export).run().await.assert_exit(0);

    let (header, mut records) = read_csv(&export);
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    for record in &mut records {
        if (record[1].as_str(), record[2].as_str()) == ("ana.silva@example.com", "Finance Automation") {
            record[column("decision")] = "revoke".into();
            record[column("justification")] = "Moved to Legal (HR-4411)".into();
        }
    }
    let reviewed = work.join("reviewed.csv");
    write_csv(&reviewed, &header, &records);
    let output = work.uipath_import(&env, &reviewed).arg("--yes").run().await;
    output.assert_exit(0);
    insta::assert_snapshot!(output.table(&["line", "user", "group", "decision", "status", "detail"]), @r"
    2 | jo.doe@example.com | Administrators |  | skipped | keep: no change asked for
    3 | ana.silva@example.com | Finance Automation | revoke | ok | removed
    4 | jo.doe@example.com | Finance Automation |  | skipped | keep: no change asked for
    5 | svc.batch | Finance Automation |  | skipped | keep: no change asked for
    6 | mei.chen@example.com | HR Process Owners |  | skipped | keep: no change asked for
    ");
    assert_eq!(output.header[..header.len()], header[..], "the reviewers' columns are kept as evidence");
    assert_eq!(writes(&org), routes([(PUT_ROUTE, 1)]));
    assert_eq!(
        members_by_name(&org.state())["Finance Automation"],
        BTreeSet::from(["jo.doe@example.com".into(), "svc.batch".into()])
    );
}

#[tokio::test]
async fn sync_makes_each_named_group_equal_to_the_file_in_one_put_and_undo_reverts_it() {
    let work = Workspace::new();
    let (org, env) = sample_org().await;
    let before = org.state();
    let input = work.write(
        "teams.csv",
        "action,user,group\n\
         keep,jo.doe@example.com,Finance Automation\n\
         keep,ana.silva@example.com,finance automation\n\
         add,raj.patel@example.com,Finance Automation\n\
         keep,mei.chen@example.com,HR Process Owners\n\
         keep,li.wong@example.com,HR Process Owners\n",
    );
    let preview = work.uipath_import(&env, &input).args(["--sync", "--dry-run"]).run().await;
    preview.assert_exit(0);
    assert_eq!(writes(&org), BTreeMap::new());

    let output = work.uipath_import(&env, &input).args(["--sync", "--yes"]).run().await;
    output.assert_exit(0);
    insta::assert_snapshot!(output.table(&["line", "action", "user", "group", "status", "detail"]), @r"
    2 | keep | jo.doe@example.com | Finance Automation | skipped | keep: no change asked for
    3 | keep | ana.silva@example.com | finance automation | skipped | keep: no change asked for
    4 | add | raj.patel@example.com | Finance Automation | ok | added
    5 | keep | mei.chen@example.com | HR Process Owners | skipped | keep: no change asked for
    6 | keep | li.wong@example.com | HR Process Owners | ok | added
     | remove | svc.batch | Finance Automation | ok | removed (--sync: the file does not list this membership)
    ");
    // Finance Automation's add and removal in one PUT; HR's add in another. Groups the file
    // doesn't name (Administrators, Citizen Developers) are left alone.
    assert_eq!(writes(&org), routes([(PUT_ROUTE, 2)]));
    let state = members_by_name(&org.state());
    assert_eq!(
        state["Finance Automation"],
        ["ana.silva@example.com", "jo.doe@example.com", "raj.patel@example.com"].map(String::from).into()
    );
    assert_eq!(
        state["HR Process Owners"],
        ["li.wong@example.com", "mei.chen@example.com"].map(String::from).into()
    );
    assert_eq!(state["Administrators"], members_by_name(&before)["Administrators"]);

    let undone = work.uipath_import(&env, &work.join("teams.undo.csv")).arg("--yes").run().await;
    undone.assert_exit(0);
    assert_all(&undone, "ok");
    assert_eq!(writes(&org), routes([(PUT_ROUTE, 4)]));
    assert_eq!(outline(&org.state()), outline(&before));
}

#[tokio::test]
async fn a_bad_client_secret_exits_3_naming_the_variables_and_never_shows_the_secret() {
    let work = Workspace::new();
    let (org, mut env) = sample_org().await;
    let secret = "not-the-secret-5f3a9c";
    env.client_secret = secret.into();
    let input = work.write("in.csv", "action,user,group\nadd,raj.patel@example.com,Citizen Developers\n");
    let from_env = work.uipath_import(&env, &input).run().await;
    // The same secret from a file, UIPATH_CLIENT_SECRET unset.
    let file = secret_file(&work, secret);
    env.client_secret = String::new();
    let from_file = work.uipath_import(&env, &input).arg("--api-key-file").arg(&file).run().await;
    let export = work.uipath_export(&env, "memberships").arg("--api-key-file").arg(&file).run().await;

    for output in [&from_env, &from_file, &export] {
        output.assert_exit(3);
        assert!(
            output.stderr.contains("error: UiPath refused the API token (HTTP 400): check UIPATH_CLIENT_ID and UIPATH_CLIENT_SECRET"),
            "{}",
            output.stderr
        );
        let results = std::fs::read_to_string(default_results(&input)).unwrap_or_default();
        for text in [&output.stdout, &output.stderr, &results] {
            assert!(!text.contains(secret), "the secret leaked: {text}");
        }
    }
    assert_eq!(from_env.statuses(), ["2 not_attempted"]);
    // Nothing but the three token requests reached the organization.
    assert_eq!(org.stats().by_route, routes([(TOKEN_ROUTE, 3)]));
}

#[tokio::test]
async fn a_missing_partition_id_is_a_clear_error_since_the_tokens_carry_no_prt_id() {
    let work = Workspace::new();
    let (org, mut env) = sample_org().await;
    env.partition = None;
    let input = work.write("in.csv", "action,user,group\nadd,raj.patel@example.com,Citizen Developers\n");
    let import = work.uipath_import(&env, &input).run().await;
    let export = work.uipath_export(&env, "groups").run().await;
    for output in [&import, &export] {
        output.assert_exit(3);
        assert!(
            output.stderr.contains("error: the organization's GUID is unknown: set UIPATH_PARTITION_GLOBAL_ID (it is in the admin portal's URLs), since the token carries no prt_id claim"),
            "{}",
            output.stderr
        );
    }
    assert_eq!(import.statuses(), ["2 not_attempted"]);
    assert_eq!(org.stats().by_route, routes([(TOKEN_ROUTE, 2)]), "no call went to a guessed partition");
}

#[tokio::test]
async fn a_read_only_client_can_export_and_its_writes_fail_row_by_row_with_the_scope_to_grant() {
    // The auditor was granted only the `.Read` scopes, and a token request must name granted
    // scopes (notes §3.1): roster's request for `PM.Group PM.User` is refused, so it asks
    // again with no scope and gets the read-only token the auditor may have.
    let work = Workspace::new();
    let org = TestOrg::start().await;
    let before = org.state();
    let env = org.env(AUDITOR_APP);
    let export = work.uipath_export(&env, "memberships").run().await;
    export.assert_exit(0);
    assert!(export.stdout.contains("keep,jo.doe@example.com,Finance Automation"), "{}", export.stdout);
    let input = work.write("in.csv", "action,user,group\nadd,raj.patel@example.com,Citizen Developers\n");
    let import = work.uipath_import(&env, &input).run().await;
    import.assert_exit(1);
    assert_eq!(import.column("status"), ["failed"]);
    let detail = &import.rows[0]["detail"];
    assert!(detail.starts_with("HTTP 403: Scope(s) '"), "{detail}");
    assert!(
        detail.ends_with("the external application lacks a scope; give it PM.Group and PM.User"),
        "{detail}"
    );
    for output in [&import, &export] {
        assert!(!output.stderr.contains(AUDITOR_APP.1));
    }
    assert_eq!(writes(&org), routes([("PUT /{organization}/identity_/api/Group/{groupId}", 1)]));
    assert_eq!(org.state(), before, "the organization refused the write");
}
