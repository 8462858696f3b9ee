//! `roster import` end to end against a sandbox over loopback: every action, the dry run,
//! coalescing, the confirmation removals need, invalid rows holding a file back, a 429
//! storm, injected faults, `--resume`, SIGKILL and Ctrl-C.
//!
//! Tests assert what a user would notice: the results file (every input row, in input
//! order, with a status), the exit code and stderr; and what the sandbox saw (calls per
//! route, writes, rate-limit violations) and holds afterwards. None asserts on time: the
//! sandbox enforces its own timing rules and counts what broke them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use roster::sandbox::{FaultOptions, RateLimit, Seed, SeedGroup};

use crate::common::sample::{AKUMAR, DATA_STEWARDS, EVERYONE, JDOE, JSMITH, LCHEN, MGARCIA, PNEW};
use crate::common::{Row, TestSandbox, Workspace, default_results, generated, options, read_results};

/// The route of `add`: one call per user, carrying all of that user's new groups.
const ADD_ROUTE: &str = "POST /api/service/users/{guid}/groups";
/// The route of `remove`: one call per group, carrying all of its leaving users.
const REMOVE_ROUTE: &str = "POST /api/service/groups/{guid}/members/remove";
/// The route of `create_group`, carrying the new group's first members.
const CREATE_ROUTE: &str = "POST /api/service/groups";

/// The columns roster appends to the input's own.
const RESULT_COLUMNS: [&str; 8] =
    ["line", "status", "detail", "http_status", "attempts", "request_id", "user_id", "group_id"];

fn group<'a>(state: &'a Seed, name: &str) -> &'a SeedGroup {
    state.groups.iter().find(|g| g.name == name).unwrap_or_else(|| panic!("no group {name} in {state:#?}"))
}

fn members(state: &Seed, name: &str) -> BTreeSet<String> {
    group(state, name).members.iter().cloned().collect()
}

fn role_of(state: &Seed, username: &str) -> String {
    let user = state.users.iter().find(|u| u.username == username).expect("a user");
    user.role.clone().unwrap_or_default()
}

fn set<const N: usize>(ids: [&str; N]) -> BTreeSet<String> {
    ids.into_iter().map(String::from).collect()
}

/// Calls by route, for the routes that write.
fn writes_by_route(sandbox: &TestSandbox) -> BTreeMap<String, u64> {
    sandbox.stats().by_route.into_iter().filter(|(route, _)| !route.starts_with("GET ")).collect()
}

#[tokio::test]
async fn every_action_of_the_sample_is_applied_end_to_end() {
    let work = Workspace::new();
    let sandbox = TestSandbox::start().await;
    let input = work.copy_sample("assignments.csv");
    let output = work.import(&sandbox, &input).arg("--yes").run().await;
    output.assert_exit(0);

    // Every input row, in input order, with its own cells (the ticket column too) first.
    let (input_header, input_rows) = read_results(&input);
    let expected_header: Vec<&str> = input_header.iter().map(String::as_str).chain(RESULT_COLUMNS).collect();
    assert_eq!(output.header, expected_header);
    assert_eq!(output.rows.len(), input_rows.len());
    for (number, (result, original)) in output.rows.iter().zip(&input_rows).enumerate() {
        assert_eq!(result["line"], (number + 2).to_string());
        for (column, cell) in original {
            assert_eq!(&result[column], cell, "line {}, column {column}", result["line"]);
        }
    }

    let state = sandbox.state();
    let hr = group(&state, "human_resources");
    let table =
        output.table(&["line", "status", "detail", "http_status", "attempts"]).replace(&hr.id, "[new group]");
    insta::assert_snapshot!(table, @r"
    2 | ok | created group human_resources ([new group]) | 200 | 1
    3 | ok | added to the new group human_resources | 200 | 1
    4 | ok | added to the new group human_resources | 200 | 1
    5 | ok | added | 200 | 1
    6 | ok | added | 200 | 1
    7 | unchanged | jsmith is already in data_stewards |  | 
    8 | ok | removed | 200 | 1
    9 | skipped | keep: no change asked for |  | 
    10 | ok | role set to $member | 200 | 1
    11 | ok | updated alias, description | 200 | 1
    12 | ok | deleted | 200 | 1
    ");
    // GUIDs resolved for each row, and the request id of the call that carried it: the new
    // group's first members rode on its create, mgarcia's two groups on one call.
    assert_eq!(
        (output.row(5)["user_id"].as_str(), output.row(5)["group_id"].as_str()),
        (MGARCIA, DATA_STEWARDS)
    );
    assert_eq!(output.row(12)["group_id"], EVERYONE);
    let request = |line: u64| output.row(line)["request_id"].clone();
    assert!(!request(2).is_empty());
    assert_eq!([request(3), request(4)], [request(2), request(2)]);
    assert_eq!(request(6), request(5));
    let distinct: BTreeSet<String> = output.rows.iter().map(|r| r["request_id"].clone()).collect();
    assert_eq!(distinct.len(), 7, "six calls, and no request id for rows without one");

    // One write per call, and nothing else.
    assert_eq!(
        writes_by_route(&sandbox),
        BTreeMap::from([
            (CREATE_ROUTE.to_string(), 1),
            ("POST /api/service/groups/{guid}".to_string(), 1),
            ("POST /api/service/groups/{guid}/delete".to_string(), 1),
            (REMOVE_ROUTE.to_string(), 1),
            (ADD_ROUTE.to_string(), 1),
            ("POST /api/service/users/{guid}/roles/update".to_string(), 1),
        ])
    );

    // The tenant ends as the file asked.
    assert_eq!(
        (hr.alias.as_deref(), hr.description.as_deref()),
        (Some("Human Resources"), Some("People team"))
    );
    assert_eq!(members(&state, "human_resources"), set([JDOE, AKUMAR]));
    assert_eq!(members(&state, "data_stewards"), set([JSMITH, JDOE, MGARCIA]));
    assert_eq!(members(&state, "finance_analysts"), set([JDOE, MGARCIA]));
    let marketing = group(&state, "marketing");
    assert_eq!(
        (marketing.alias.as_deref(), marketing.description.as_deref()),
        (Some("Marketing & Growth"), Some("Campaigns and brand"))
    );
    assert!(!state.groups.iter().any(|g| g.id == EVERYONE), "everyone was deleted");
    assert_eq!(role_of(&state, "lchen"), "$member");

    let summary = work.redact(&output.stderr);
    assert!(summary.contains("[TMP]/assignments.csv: 11 rows: 9 ok, 1 unchanged, 1 skipped"), "{summary}");
    assert!(summary.contains("results: [TMP]/assignments.results.csv\n"), "{summary}");
    assert!(summary.ends_with("undo: [TMP]/assignments.undo.csv (7 rows; `roster import [TMP]/assignments.undo.csv` reverses this run)\n"), "{summary}");
}

#[tokio::test]
async fn a_dry_run_reads_the_tenant_and_writes_nothing() {
    let work = Workspace::new();
    let sandbox = TestSandbox::start().await;
    let before = sandbox.state();
    let input = work.copy_sample("assignments.csv");
    // No --yes: a dry run removes nothing, so it needs no confirmation.
    let output = work.import(&sandbox, &input).arg("--dry-run").run().await;
    output.assert_exit(0);

    let stats = sandbox.stats();
    assert!(stats.requests > 0, "the tenant was read");
    assert_eq!(stats.writes(), 0, "{stats:?}");
    assert_eq!(sandbox.state(), before);
    insta::assert_snapshot!(output.table(&["line", "status", "detail"]), @r"
    2 | would_change | would create group human_resources: POST /api/service/groups (creating the group with 2 first members)
    3 | would_change | would add the user to the group: POST /api/service/groups (creating the group with 2 first members)
    4 | would_change | would add the user to the group: POST /api/service/groups (creating the group with 2 first members)
    5 | would_change | would add the user to the group: POST /api/service/users/b060a754-4d16-4e13-b5a8-ba42f10aee39/groups (2 groups in one call)
    6 | would_change | would add the user to the group: POST /api/service/users/b060a754-4d16-4e13-b5a8-ba42f10aee39/groups (2 groups in one call)
    7 | unchanged | jsmith is already in data_stewards
    8 | would_change | would remove the user from the group: POST /api/service/groups/a99f50bc-46bf-4d08-a987-3411ef5cfc33/members/remove (1 users in one call)
    9 | skipped | keep: no change asked for
    10 | would_change | would set the role to $member: POST /api/service/users/3f94d413-ae47-4ddb-a5a9-1b286e7eb04e/roles/update (to $member)
    11 | would_change | would update group marketing: POST /api/service/groups/9e24070f-7ddb-4420-b015-bb6be3551407
    12 | would_change | would delete the group: POST /api/service/groups/a852d26f-279a-4f57-b3e2-72831cd814a4/delete
    ");
    assert!(output.stderr.contains("dry run: nothing was changed"), "{}", output.stderr);
}

#[tokio::test]
async fn calls_are_coalesced_one_per_user_and_one_per_group() {
    let work = Workspace::new();
    let sandbox = TestSandbox::start().await;
    let input = work.write(
        "coalesce.csv",
        "action,user,group,alias\n\
         create_group,,analytics,Analytics\n\
         add,jdoe,analytics,\n\
         add,akumar,analytics,\n\
         add,lchen,analytics,\n\
         add,lchen,data_stewards,\n\
         add,lchen,finance_analysts,\n\
         add,lchen,marketing,\n\
         add,lchen@example.com,marketing,\n\
         remove,jsmith,data_stewards,\n\
         remove,jdoe,data_stewards,\n\
         add,pnew,marketing,\n",
    );
    let output = work.import(&sandbox, &input).arg("--yes").run().await;
    output.assert_exit(0);
    assert!(output.column("status").iter().all(|s| *s == "ok"), "{:#?}", output.rows);
    assert_eq!(output.row(9)["detail"], "duplicate of line 8, sent once: added");

    // The new group with its three first members: one call. lchen's three groups: one call;
    // pnew's: another. Two users leaving data_stewards: one call.
    assert_eq!(
        writes_by_route(&sandbox),
        BTreeMap::from([
            (CREATE_ROUTE.to_string(), 1),
            (REMOVE_ROUTE.to_string(), 1),
            (ADD_ROUTE.to_string(), 2)
        ])
    );
    let request = |line: u64| output.row(line)["request_id"].clone();
    let calls: BTreeSet<Vec<String>> = [
        vec![request(2), request(3), request(4), request(5)],
        vec![request(6), request(7), request(8), request(9)],
        vec![request(10), request(11)],
        vec![request(12)],
    ]
    .into_iter()
    .collect();
    for rows_of_one_call in &calls {
        assert!(rows_of_one_call.iter().all(|id| *id == rows_of_one_call[0]), "{rows_of_one_call:?}");
    }
    let ids: BTreeSet<&String> = calls.iter().map(|rows| &rows[0]).collect();
    assert_eq!(ids.len(), 4, "four calls, four request ids");

    let state = sandbox.state();
    assert_eq!(members(&state, "analytics"), set([JDOE, AKUMAR, LCHEN]));
    assert_eq!(members(&state, "data_stewards"), set([LCHEN]));
    assert_eq!(members(&state, "finance_analysts"), set([JDOE, AKUMAR, LCHEN]));
    assert_eq!(members(&state, "marketing"), set([MGARCIA, LCHEN, PNEW]));
}

#[tokio::test]
async fn an_invalid_row_holds_the_file_back_unless_skip_invalid() {
    let work = Workspace::new();
    let sandbox = TestSandbox::start().await;
    let input = work.write(
        "in.csv",
        "action,user,group\nadd,lchen,marketing\nadd,lchen,Not A Name\nadd,jdoe,marketing\n",
    );
    let held = work.import(&sandbox, &input).run().await;
    held.assert_exit(1);
    assert_eq!(held.statuses(), ["2 skipped", "3 invalid", "4 skipped"]);
    assert_eq!(
        held.row(2)["detail"],
        "not sent: 1 row(s) of this file are invalid; fix them, or rerun with --skip-invalid to send the valid rows"
    );
    assert_eq!(sandbox.stats().writes(), 0, "nothing is written while a row is invalid");

    let sent = work.import(&sandbox, &input).arg("--skip-invalid").run().await;
    sent.assert_exit(1);
    assert_eq!(sent.statuses(), ["2 ok", "3 invalid", "4 ok"]);
    assert!(sent.stderr.contains("1 invalid row(s) were not sent (--skip-invalid)"), "{}", sent.stderr);
    assert_eq!(sandbox.stats().calls(ADD_ROUTE), 2);
    assert_eq!(members(&sandbox.state(), "marketing"), set([MGARCIA, LCHEN, JDOE]));
}

#[tokio::test]
async fn removals_and_deletions_need_yes_outside_a_dry_run() {
    let work = Workspace::new();
    let sandbox = TestSandbox::start().await;
    let input = work.write(
        "in.csv",
        "action,user,group\nadd,lchen,marketing\nremove,jdoe,finance_analysts\ndelete_group,,everyone\n",
    );
    // stdin is not a terminal: there is no one to ask.
    let refused = work.import(&sandbox, &input).run().await;
    refused.assert_exit(2);
    assert!(
        refused.stderr.contains(
            "error: this import would remove 1 membership(s) and delete 1 group(s); nothing was sent. Rerun with --yes to confirm"
        ),
        "{}",
        refused.stderr
    );
    assert_eq!(refused.statuses(), ["2 skipped", "3 skipped", "4 skipped"]);
    assert_eq!(
        refused.row(3)["detail"],
        "not sent: removals and deletions need confirmation; rerun with --yes (see them first with --dry-run)"
    );
    assert_eq!(sandbox.stats().writes(), 0);

    let preview = work.import(&sandbox, &input).arg("--dry-run").run().await;
    preview.assert_exit(0);
    assert_eq!(preview.statuses(), ["2 would_change", "3 would_change", "4 would_change"]);
    assert_eq!(sandbox.stats().writes(), 0);

    let confirmed = work.import(&sandbox, &input).arg("--yes").run().await;
    confirmed.assert_exit(0);
    assert_eq!(confirmed.statuses(), ["2 ok", "3 ok", "4 ok"]);
    let state = sandbox.state();
    assert_eq!(members(&state, "finance_analysts"), set([AKUMAR]));
    assert!(!state.groups.iter().any(|g| g.id == EVERYONE));
}

/// A tenant of `users` users and two empty groups, and a file adding every user to the
/// first group: one call per user.
fn many_adds(work: &Workspace, users: usize, seed: u64) -> (Seed, std::path::PathBuf) {
    let tenant = generated(&format!("users={users},groups=2,memberships=0,seed={seed}"));
    let group = &tenant.groups[0].name;
    let text: String = std::iter::once("action,user,group\n".to_string())
        .chain(tenant.users.iter().map(|user| format!("add,{},{group}\n", user.username)))
        .collect();
    let input = work.write("adds.csv", &text);
    (tenant, input)
}

#[tokio::test]
async fn a_429_storm_with_lockouts_ends_with_every_row_ok_and_no_violation() {
    let work = Workspace::new();
    let (tenant, input) = many_adds(&work, 30, 7);
    let mut options = options();
    options.rate_limit = Some(RateLimit { per_minute: 10, lockout: Duration::from_secs(1) });
    let sandbox = TestSandbox::with_options(tenant.clone(), options).await;
    // roster does not know the tenant's budget: it paces for its own --rate, meets 429s,
    // and must pause everyone for each Retry-After.
    let output = work.import(&sandbox, &input).run().await;
    output.assert_exit(0);
    assert!(output.column("status").iter().all(|s| *s == "ok"), "{:#?}", output.rows);
    let stats = sandbox.stats();
    assert!(stats.rate_limited >= 2, "the storm happened, lockout after lockout: {stats:?}");
    assert_eq!(stats.rate_limit_violations, 0, "a request came back before its Retry-After: {stats:?}");
    assert!(output.column("attempts").iter().any(|a| *a != "1"), "some call was retried after its 429");
    let all: BTreeSet<String> = tenant.users.iter().map(|u| u.id.clone()).collect();
    assert_eq!(members(&sandbox.state(), &tenant.groups[0].name), all);
    assert!(output.stderr.contains("answered 429"), "{}", output.stderr);
}

#[tokio::test]
async fn faults_leave_every_row_with_a_final_status_and_no_group_created_twice() {
    let work = Workspace::new();
    let tenant = generated("users=12,groups=4,memberships=12,seed=5");
    let name = |n: usize| tenant.groups[n].name.clone();
    let user = |n: usize| tenant.users[n].username.clone();
    let member_of = |n: usize| {
        let id = &tenant.groups[n].members[0];
        tenant.users.iter().find(|u| &u.id == id).expect("a member").username.clone()
    };
    let mut rows = vec![
        "create_group,,new_team_a,,New Team A".to_string(),
        format!("add,{},new_team_a,,", user(0)),
        format!("add,{},new_team_a,,", user(1)),
        format!("add,{},new_team_a,,", user(2)),
        "create_group,,new_team_b,,New Team B".to_string(),
        format!("add,{},new_team_b,,", user(3)),
        format!("add,{},new_team_b,,", user(4)),
        format!("remove,{},{},,", member_of(1), name(1)),
        format!("remove,{},{},,", member_of(2), name(2)),
        format!("set_role,{},,guest,", user(5)),
        format!("set_role,{},,admin,", user(6)),
        format!("update_group,,{},,Renamed Two", name(2)),
        format!("delete_group,,{},,", name(3)),
    ];
    for n in 7..12 {
        rows.push(format!("add,{},{},,", user(n), name(1)));
        rows.push(format!("add,{},{},,", user(n), name(2)));
    }
    let input = work.write("faulty.csv", &format!("action,user,group,role,alias\n{}\n", rows.join("\n")));
    let mut options = options();
    options.faults = Some(FaultOptions { rate: 0.3, seed: 42 });
    let sandbox = TestSandbox::with_options(tenant.clone(), options).await;
    let output = work.import(&sandbox, &input).arg("--yes").run().await;

    // Every row once, in order, with a final status.
    let lines: Vec<String> = output.column("line").iter().map(|l| (*l).to_string()).collect();
    let expected: Vec<String> = (2..rows.len() + 2).map(|l| l.to_string()).collect();
    assert_eq!(lines, expected, "{}", output.stderr);
    for row in &output.rows {
        assert!(["ok", "unchanged", "failed"].contains(&row["status"].as_str()), "{row:?}");
        assert!(!row["detail"].is_empty(), "{row:?}");
    }
    let failed = output.rows.iter().filter(|r| r["status"] == "failed").count();
    output.assert_exit(i32::from(failed > 0));

    // The run met every kind of fault, and retried through them.
    let seen = sandbox.stats();
    for kind in ["lost_response", "reset"] {
        assert!(seen.faults.contains_key(kind), "no {kind} in {:?}", seen.faults);
    }
    assert!(seen.faults.keys().any(|k| k.starts_with('5')), "{:?}", seen.faults);
    assert!(output.column("attempts").iter().any(|a| !["", "1"].contains(a)), "{:#?}", output.rows);

    // Each new group exists exactly once, whatever happened to the calls creating it.
    let state = sandbox.state();
    for new in ["new_team_a", "new_team_b"] {
        assert_eq!(state.groups.iter().filter(|g| g.name == new).count(), 1, "{new}");
    }
    assert_eq!(state.groups.len(), tenant.groups.len() + 2 - 1, "two created, one deleted, no stray group");
    // Every row reported ok holds in the tenant.
    let id_of = |username: &str| tenant.users.iter().find(|u| u.username == username).unwrap().id.clone();
    for (row, result) in rows.iter().zip(&output.rows) {
        if result["status"] != "ok" {
            continue;
        }
        let cells: Vec<&str> = row.split(',').collect();
        match cells[0] {
            "add" => assert!(members(&state, cells[2]).contains(&id_of(cells[1])), "{row}"),
            "remove" => assert!(!members(&state, cells[2]).contains(&id_of(cells[1])), "{row}"),
            "set_role" => assert_eq!(role_of(&state, cells[1]), format!("${}", cells[3]), "{row}"),
            "create_group" | "update_group" => {
                assert_eq!(group(&state, cells[2]).alias.as_deref(), Some(cells[4]), "{row}");
            }
            "delete_group" => assert!(!state.groups.iter().any(|g| g.name == cells[2]), "{row}"),
            other => panic!("{other}"),
        }
    }
}

#[tokio::test]
async fn resume_reruns_only_the_rows_not_ok_or_unchanged() {
    let work = Workspace::new();
    let sandbox = TestSandbox::start().await;
    let input = work.write(
        "roles.csv",
        "action,user,role\nset_role,lchen,member\nset_role,mgarcia,guest\nset_role,akumar,admin\n\
         set_role,jsmith,member\nset_role,jdoe,guest\n",
    );
    // An earlier run's results, as roster writes them (its word is taken for rows 2 and 4,
    // although the tenant shows them undone).
    let earlier = work.write(
        "earlier.csv",
        "action,user,role,line,status,detail,http_status,attempts,request_id,user_id,group_id\n\
         set_role,lchen,member,2,ok,role set to $member,200,1,r-1,,\n\
         set_role,mgarcia,guest,3,failed,HTTP 500: boom,500,6,r-2,,\n\
         set_role,akumar,admin,4,unchanged,akumar already has role $admin,,,,,\n\
         set_role,jsmith,member,5,not_attempted,not attempted: the run was interrupted,,,,,\n\
         set_role,jdoe,guest,6,skipped,not sent: 1 row(s) of this file are invalid,,,,,\n",
    );
    let output = work.import(&sandbox, &input).arg("--resume").arg(&earlier).run().await;
    output.assert_exit(0);
    insta::assert_snapshot!(output.table(&["line", "status", "detail"]), @r"
    2 | ok | role set to $member (earlier run)
    3 | ok | role set to $guest
    4 | unchanged | akumar already has role $admin (earlier run)
    5 | ok | role set to $member
    6 | ok | role set to $guest
    ");
    assert_eq!(sandbox.stats().calls("POST /api/service/users/{guid}/roles/update"), 3);
    let state = sandbox.state();
    assert_eq!((role_of(&state, "lchen"), role_of(&state, "akumar")), ("$guest".into(), "$member".into()));

    // A results file of another input is refused before anything is sent.
    let other = work.write("other.csv", "action,user,role\nset_role,lchen,guest\n");
    let before = sandbox.stats().requests;
    let refused = work.import(&sandbox, &other).arg("--resume").arg(&earlier).run().await;
    refused.assert_exit(2);
    assert!(
        work.redact(&refused.stderr).starts_with(
            "error: cannot resume from [TMP]/earlier.csv: line 2 differs from line 2 of [TMP]/other.csv"
        ),
        "{}",
        refused.stderr
    );
    assert_eq!(sandbox.stats().requests, before);
}

/// A slow tenant (every response `latency_ms` late) and a file of ten one-call rows, run one call
/// at a time: slow enough to interrupt after the first row is written.
async fn slow_run(work: &Workspace, latency_ms: u64) -> (TestSandbox, Seed, std::path::PathBuf) {
    let (tenant, input) = many_adds(work, 10, 3);
    let mut options = options();
    options.latency = Duration::from_millis(latency_ms);
    let sandbox = TestSandbox::with_options(tenant.clone(), options).await;
    (sandbox, tenant, input)
}

#[tokio::test]
async fn ctrl_c_finishes_the_calls_in_flight_and_records_the_rest_as_not_attempted() {
    let work = Workspace::new();
    let (sandbox, tenant, input) = slow_run(&work, 200).await;
    let group_name = tenant.groups[0].name.clone();
    let mut running = work.import(&sandbox, &input).args(["--concurrency", "1"]).spawn();
    running.wait_for_rows(1).await;
    running.interrupt();
    let output = running.finish().await;
    output.assert_exit(130);

    // Every row, in input order: the ones whose call was made are ok (the call in flight at
    // Ctrl-C included), the others were never sent.
    let expected: Vec<String> = (2..12).map(|l| l.to_string()).collect();
    assert_eq!(output.column("line"), expected);
    let ok: Vec<&Row> = output.rows.iter().filter(|r| r["status"] == "ok").collect();
    let not_attempted: Vec<&Row> = output.rows.iter().filter(|r| r["status"] == "not_attempted").collect();
    assert_eq!(ok.len() + not_attempted.len(), 10, "{:#?}", output.rows);
    assert!(!ok.is_empty() && !not_attempted.is_empty(), "{:#?}", output.rows);
    for row in &not_attempted {
        assert_eq!(row["detail"], "not attempted: the run was interrupted; rerun with --resume");
    }
    let calls = sandbox.stats().calls(ADD_ROUTE);
    assert_eq!(calls, ok.len() as u64, "every call that reached the tenant finished and was recorded");
    let added: BTreeSet<String> = ok.iter().map(|r| r["user_id"].clone()).collect();
    assert_eq!(members(&sandbox.state(), &group_name), added);
    assert!(
        output.stderr.contains("not_attempted: not attempted: the run was interrupted"),
        "{}",
        output.stderr
    );

    // Resuming sends exactly the rows that were not attempted.
    let resumed = work.import(&sandbox, &input).arg("--resume").arg(default_results(&input)).run().await;
    resumed.assert_exit(0);
    assert!(resumed.column("status").iter().all(|s| *s == "ok"), "{:#?}", resumed.rows);
    assert_eq!(sandbox.stats().calls(ADD_ROUTE), 10);
    assert_eq!(members(&sandbox.state(), &group_name).len(), 10);
}

#[tokio::test]
async fn a_killed_run_resumes_to_the_right_end_state() {
    let work = Workspace::new();
    let (sandbox, tenant, input) = slow_run(&work, 150).await;
    let group_name = tenant.groups[0].name.clone();
    let results = default_results(&input);
    let mut running = work.import(&sandbox, &input).args(["--concurrency", "1"]).spawn();
    running.wait_for_rows(2).await;
    let killed = running.kill();
    assert_eq!(killed.code, None, "killed by a signal");
    // What the killed run left: the rows it had finished, each flushed as it finished.
    let (_, left) = read_results(&results);
    assert!(left.len() >= 2 && left.len() < 10, "{left:#?}");
    assert!(left.iter().all(|r| r["status"] == "ok"), "{left:#?}");
    // The natural way back: the same command with --resume of the file it left.
    let resumed = work.import(&sandbox, &input).arg("--resume").arg(&results).run().await;
    resumed.assert_exit(0);
    let expected: Vec<String> = (2..12).map(|l| l.to_string()).collect();
    assert_eq!(resumed.column("line"), expected);
    let carried: BTreeSet<&str> = resumed
        .rows
        .iter()
        .filter(|r| r["detail"].ends_with("(earlier run)"))
        .map(|r| r["line"].as_str())
        .collect();
    let finished_before: BTreeSet<&str> = left.iter().map(|r| r["line"].as_str()).collect();
    assert_eq!(carried, finished_before, "rows the killed run finished are not sent again");
    // The resumed run sent one call for each row it reports ok. The call the kill cut short
    // may have reached the tenant (then its row is unchanged now, or, if it landed after the
    // resumed run read the tenant, sent again): at most one call beyond those.
    let sent_now = resumed
        .rows
        .iter()
        .filter(|r| r["status"] == "ok" && !r["detail"].ends_with("(earlier run)"))
        .count();
    let unchanged = resumed.rows.iter().filter(|r| r["status"] == "unchanged").count();
    assert_eq!(carried.len() + sent_now + unchanged, 10, "{:#?}", resumed.rows);
    let calls = usize::try_from(sandbox.stats().calls(ADD_ROUTE)).unwrap();
    let cut_short = calls - carried.len() - sent_now;
    assert!(unchanged <= cut_short && cut_short <= 1, "{calls} calls for {:#?}", resumed.rows);
    assert_eq!(members(&sandbox.state(), &group_name).len(), 10);
}

#[tokio::test]
async fn ctrl_c_while_reading_the_tenant_sends_nothing() {
    let work = Workspace::new();
    let (sandbox, _, input) = slow_run(&work, 300).await;
    let mut running = work.import(&sandbox, &input).spawn();
    // The second read arrives once the first is answered: roster is reading the tenant.
    while sandbox.stats().requests < 2 {
        running.assert_running();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    running.interrupt();
    let output = running.finish().await;
    output.assert_exit(130);
    assert_eq!(sandbox.stats().writes(), 0);
    assert_eq!(output.rows.len(), 10);
    for row in &output.rows {
        assert_eq!(
            (row["status"].as_str(), row["detail"].as_str()),
            ("not_attempted", "not attempted: the run was interrupted; rerun with --resume")
        );
    }
}

/// A file as Excel saves it in many locales: `;`, a BOM, CRLF. The results file comes back
/// the same way (so Excel opens it as it opened the input), with the right line numbers.
#[tokio::test]
async fn the_results_file_keeps_the_inputs_delimiter_and_bom() {
    let work = Workspace::new();
    let sandbox = TestSandbox::start().await;
    let input = work.write(
        "excel.csv",
        "\u{feff}Ticket;Action;User;Group\r\nT-1;add;lchen;marketing\r\n\r\nT-2;add;jdoe;data_stewards\r\n",
    );
    let output = work.import(&sandbox, &input).run().await;
    output.assert_exit(0);
    assert_eq!(output.statuses(), ["2 ok", "4 unchanged"]);
    let written = std::fs::read_to_string(default_results(&input)).unwrap();
    assert!(written.starts_with("\u{feff}Ticket;Action;User;Group;line;status;detail;"), "{written}");
    assert!(written.contains("\nT-1;add;lchen;marketing;2;ok;added;200;1;"), "{written}");
}
