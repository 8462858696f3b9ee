//! `roster validate` and the validation messages an import writes: each rule once, with
//! the message a user reads snapshot-tested (temp paths redacted), whole-file problems,
//! and the input formats that are accepted. Rules that need the tenant (unknown users and
//! groups, one user named two ways) are checked by a dry run against the sandbox.

use std::path::Path;

use crate::common::{RosterOutput, TestSandbox, Workspace};

/// `roster validate INPUT`, run to the end.
async fn validate(work: &Workspace, input: &Path) -> RosterOutput {
    work.roster([Path::new("validate"), input]).run().await
}

#[tokio::test]
async fn validate_reports_every_invalid_row_of_the_sample() {
    let work = Workspace::new();
    let input = work.copy_sample("assignments-invalid.csv");
    let output = validate(&work, &input).await;
    output.assert_exit(1);
    assert_eq!(output.stdout, "", "validate writes only to stderr");
    assert!(!work.join("assignments-invalid.results.csv").exists(), "validate writes no file");
    insta::assert_snapshot!(work.redact(&output.stderr), @r#"
    [TMP]/assignments-invalid.csv:3: column action: "grant" is not an action; use one of add, remove, keep, set_role, create_group, update_group, delete_group
    [TMP]/assignments-invalid.csv:4: column user: the cell is empty; give the user's username, email or GUID
    [TMP]/assignments-invalid.csv:5: column user: "53954c95-47f8-49b3-9812-23eb40fb07zz" is not a GUID; a GUID looks like 53954c95-47f8-49b3-9812-23eb40fb07cc (8-4-4-4-12 hex digits)
    [TMP]/assignments-invalid.csv:6: column group: "Finance Analysts" is not a valid group name; use lower-case letters, digits and _ only, e.g. finance_analysts; or give the group's GUID
    [TMP]/assignments-invalid.csv:7: column user: "mgarcia@example" is not an email address: the domain needs a dot, like example.com; write it as name@example.com, without spaces or angle brackets
    [TMP]/assignments-invalid.csv:8: column role: "owner" is not a role; use $admin, $member or $guest (the $ is optional), or a role GUID
    [TMP]/assignments-invalid.csv:9: column group: the cell is empty; give the new group's internal name, e.g. data_stewards
    [TMP]/assignments-invalid.csv:10: column is_default: "sometimes" is not true or false; write true or false
    [TMP]/assignments-invalid.csv:11: update_group changes nothing; fill in alias, description or is_default with the new value
    [TMP]/assignments-invalid.csv:13: note: same as line 12; it will be sent once
    [TMP]/assignments-invalid.csv:14: rows for mgarcia in data_stewards contradict each other (add and remove); keep one of these rows, or split them across runs (see line 15)
    [TMP]/assignments-invalid.csv:15: rows for mgarcia in data_stewards contradict each other (add and remove); keep one of these rows, or split them across runs (see line 14)
    [TMP]/assignments-invalid.csv:16: jsmith is given more than one role ($admin, $guest); keep one of these rows, or split them across runs (see line 17)
    [TMP]/assignments-invalid.csv:17: jsmith is given more than one role ($admin, $guest); keep one of these rows, or split them across runs (see line 16)
    [TMP]/assignments-invalid.csv:18: the row has 9 cells but the header has 8; remove the extra cells, or quote a value that contains the delimiter
    [TMP]/assignments-invalid.csv: 19 rows: 4 valid, 14 invalid, 1 duplicate, 0 empty
    "#);
}

#[tokio::test]
async fn validate_passes_the_valid_sample() {
    let work = Workspace::new();
    let input = work.copy_sample("assignments.csv");
    let output = validate(&work, &input).await;
    output.assert_exit(0);
    insta::assert_snapshot!(work.redact(&output.stderr), @r"
    [TMP]/assignments.csv: 11 rows: 11 valid, 0 invalid, 0 duplicate, 0 empty
    No problems found offline; `roster import --dry-run` also checks users and groups against the tenant.
    ");
}

/// The rules `samples/assignments-invalid.csv` does not show.
#[tokio::test]
async fn validate_reports_the_other_rules() {
    let work = Workspace::new();
    let input = work.write(
        "rules.csv",
        "action,user,group,alias\n\
         ,jdoe,marketing,\n\
         set_role,jdoe,,\n\
         add,jdoe,hr,\n\
         delete_group,,hr,\n\
         create_group,,legal,Legal\n\
         create_group,,legal,Law\n\
         update_group,,marketing,Marketing\n\
         update_group,,marketing,Growth\n\
         ,,,\n\
         keep,jdoe,data_stewards,\n",
    );
    let output = validate(&work, &input).await;
    output.assert_exit(1);
    insta::assert_snapshot!(work.redact(&output.stderr), @r"
    [TMP]/rules.csv:2: column action: the cell is empty; give one of add, remove, keep, set_role, create_group, update_group, delete_group
    [TMP]/rules.csv:3: column role: the file has no role column, which this row needs; give $admin, $member or $guest
    [TMP]/rules.csv:4: group hr is deleted by one row and used by another; keep one of these rows, or split them across runs (see line 5)
    [TMP]/rules.csv:5: group hr is deleted by one row and used by another; keep one of these rows, or split them across runs (see line 4)
    [TMP]/rules.csv:6: group legal is created twice with different attributes; keep one of these rows, or split them across runs (see line 7)
    [TMP]/rules.csv:7: group legal is created twice with different attributes; keep one of these rows, or split them across runs (see line 6)
    [TMP]/rules.csv:8: group marketing is given two different values of alias; keep one of these rows, or split them across runs (see line 9)
    [TMP]/rules.csv:9: group marketing is given two different values of alias; keep one of these rows, or split them across runs (see line 8)
    [TMP]/rules.csv: 10 rows: 1 valid, 8 invalid, 0 duplicate, 1 empty
    ");
}

#[tokio::test]
async fn a_file_that_cannot_be_read_as_assignments_exits_2() {
    let work = Workspace::new();
    let cases = [
        ("empty.csv", ""),
        ("no-action.csv", "user,group\njdoe,marketing\n"),
        ("two-users.csv", "action,username,email,group\nadd,jdoe,jdoe@example.com,marketing\n"),
    ];
    let mut messages = Vec::new();
    for (name, text) in cases {
        let input = work.write(name, text);
        let output = validate(&work, &input).await;
        output.assert_exit(2);
        messages.push(work.redact(&output.stderr));
    }
    insta::assert_snapshot!(messages.concat(), @r#"
    error: [TMP]/empty.csv is empty: it needs a header row naming its columns, e.g. action,user,group
    error: [TMP]/no-action.csv, line 1: there is no "action" column (the header is: user,group); name the columns action,user,group,role,... (see README, "Input format")
    error: [TMP]/two-users.csv, line 1: columns "username" and "email" both give the user column; keep one
    "#);
}

/// Excel in many locales saves `;`-separated files with a BOM and CRLF; headers may be in
/// any case and order, and `email` stands in for `user`. Messages name the column as the
/// file writes it, and the line numbers stay right.
#[tokio::test]
async fn semicolons_bom_crlf_and_header_spellings_are_read() {
    let work = Workspace::new();
    let input = work.write(
        "excel.csv",
        "\u{feff}Group;EMAIL;Action\r\nmarketing;lchen@example.com;ADD\r\nmarketing;lchen@example;add\r\n",
    );
    let output = validate(&work, &input).await;
    output.assert_exit(1);
    insta::assert_snapshot!(work.redact(&output.stderr), @r#"
    [TMP]/excel.csv:3: column EMAIL: "lchen@example" is not an email address: the domain needs a dot, like example.com; write it as name@example.com, without spaces or angle brackets
    [TMP]/excel.csv: 2 rows: 1 valid, 1 invalid, 0 duplicate, 0 empty
    "#);
}

/// The same messages reach the results file's `detail` column, next to those only the
/// tenant can tell (line 19: no such user; line 20: no such group).
#[tokio::test]
async fn a_dry_run_writes_each_rows_problem_into_the_results() {
    let work = Workspace::new();
    let sandbox = TestSandbox::start().await;
    let input = work.copy_sample("assignments-invalid.csv");
    let output = work.import(&sandbox, &input).arg("--dry-run").run().await;
    output.assert_exit(1);
    assert_eq!(sandbox.stats().writes(), 0);
    insta::assert_snapshot!(output.table(&["line", "status", "detail"]), @r#"
    2 | unchanged | jdoe is already in data_stewards
    3 | invalid | column action: "grant" is not an action; use one of add, remove, keep, set_role, create_group, update_group, delete_group
    4 | invalid | column user: the cell is empty; give the user's username, email or GUID
    5 | invalid | column user: "53954c95-47f8-49b3-9812-23eb40fb07zz" is not a GUID; a GUID looks like 53954c95-47f8-49b3-9812-23eb40fb07cc (8-4-4-4-12 hex digits)
    6 | invalid | column group: "Finance Analysts" is not a valid group name; use lower-case letters, digits and _ only, e.g. finance_analysts; or give the group's GUID
    7 | invalid | column user: "mgarcia@example" is not an email address: the domain needs a dot, like example.com; write it as name@example.com, without spaces or angle brackets
    8 | invalid | column role: "owner" is not a role; use $admin, $member or $guest (the $ is optional), or a role GUID
    9 | invalid | column group: the cell is empty; give the new group's internal name, e.g. data_stewards
    10 | invalid | column is_default: "sometimes" is not true or false; write true or false
    11 | invalid | update_group changes nothing; fill in alias, description or is_default with the new value
    12 | would_change | would add the user to the group: POST /api/service/users/da213751-95de-4f96-8bee-a2c73e2ef8c8/groups (1 groups in one call)
    13 | would_change | duplicate of line 12, sent once: would add the user to the group: POST /api/service/users/da213751-95de-4f96-8bee-a2c73e2ef8c8/groups (1 groups in one call)
    14 | invalid | rows for mgarcia in data_stewards contradict each other (add and remove); keep one of these rows, or split them across runs (see line 15)
    15 | invalid | rows for mgarcia in data_stewards contradict each other (add and remove); keep one of these rows, or split them across runs (see line 14)
    16 | invalid | jsmith is given more than one role ($admin, $guest); keep one of these rows, or split them across runs (see line 17)
    17 | invalid | jsmith is given more than one role ($admin, $guest); keep one of these rows, or split them across runs (see line 16)
    18 | invalid | the row has 9 cells but the header has 8; remove the extra cells, or quote a value that contains the delimiter
    19 | invalid | column user: no user with username "ghost" in the tenant; check the spelling, or invite the user first
    20 | invalid | column group: no group no_such_group in the tenant; check the name (the internal name, not the display name), or add a create_group row
    "#);
}

/// Rules only the tenant can decide, each once.
#[tokio::test]
async fn a_dry_run_checks_rows_against_the_tenant() {
    let work = Workspace::new();
    let sandbox = TestSandbox::start().await;
    let input = work.write(
        "tenant-rules.csv",
        "action,user,group,role,alias,description\n\
         add,ghost@example.com,marketing,,,\n\
         add,00000000-0000-4000-8000-000000000000,marketing,,,\n\
         create_group,,marketing,,Marketing Team,\n\
         create_group,,legal,,Legal,\n\
         update_group,,legal,,,Contracts\n\
         add,lchen,data_stewards,,,\n\
         remove,lchen@example.com,data_stewards,,,\n\
         set_role,jdoe,,00000000-0000-4000-8000-0000000000f1,,\n\
         delete_group,,gone_group,,,\n\
         remove,lchen,marketing,,,\n",
    );
    let output = work.import(&sandbox, &input).arg("--dry-run").run().await;
    output.assert_exit(1);
    assert_eq!(sandbox.stats().writes(), 0);
    insta::assert_snapshot!(output.table(&["line", "status", "detail"]), @r#"
    2 | invalid | column user: no user with email "ghost@example.com" in the tenant; check the spelling, or invite the user first
    3 | invalid | column user: no user with GUID "00000000-0000-4000-8000-000000000000" in the tenant; check the spelling, or invite the user first
    4 | invalid | group marketing already exists with a different alias; use update_group to change an existing group
    5 | would_change | would create group legal: POST /api/service/groups
    6 | invalid | group legal is created by another row of this file; put its alias, description and is_default on the create_group row
    7 | invalid | rows for lchen in data_stewards contradict each other (add and remove); keep one of these rows, or split them across runs (see line 8)
    8 | invalid | rows for lchen in data_stewards contradict each other (add and remove); keep one of these rows, or split them across runs (see line 7)
    9 | invalid | column role: the tenant has no role 00000000-0000-4000-8000-0000000000f1; use $admin, $member or $guest
    10 | unchanged | there is no group gone_group: nothing to delete
    11 | unchanged | lchen is not in marketing
    "#);
}
