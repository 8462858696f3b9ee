//! The command line as a user meets it: `--help`, usage errors, exit codes 0/1/2/3, where
//! the tenant and token come from, plain http refused except to loopback, and the API
//! token never shown in output or results files.
//!
//! Each test runs the real `roster` binary with an empty environment against a sandbox of
//! its own on `127.0.0.1:0`.

use std::ffi::OsStr;
use std::net::TcpListener;
use std::time::Duration;

use roster::sandbox::{RateLimit, SandboxOptions};

use crate::common::{API_KEY, FAST_RATE, TestSandbox, Workspace, options, read_results, sample_seed};

/// One row that the sample tenant takes as a change: `lchen` joins `marketing`.
const ONE_ADD: &str = "action,user,group\nadd,lchen,marketing\n";

/// A loopback port with nothing listening on it.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("an address").port()
}

#[tokio::test]
async fn help_lists_the_commands_and_every_import_flag() {
    let work = Workspace::new();
    let top = work.roster(["--help"]).run().await;
    top.assert_exit(0);
    for command in ["validate", "import", "sandbox"] {
        assert!(top.stdout.contains(&format!("  {command} ")), "{command} missing from:\n{}", top.stdout);
    }
    let import = work.roster(["import", "--help"]).run().await;
    import.assert_exit(0);
    insta::assert_snapshot!(import.stdout, @r"
    Apply an assignments file to a tenant (or, with --dry-run, show what it would do)

    Usage: roster import [OPTIONS] <FILE>

    Arguments:
      <FILE>  The assignments file (CSV, or an Excel .xlsx workbook)

    Options:
          --dry-run               Read the tenant and report what each row would do; change nothing
          --results <FILE>        Where to write the results [default: beside FILE, as <stem>.results.csv]
          --resume <RESULTS>      Re-run only the rows an earlier run's results file does not show as ok or unchanged
          --skip-invalid          Send the valid rows even if some rows are invalid (those are reported, not sent)
          --yes                   Confirm removals and deletions without asking
          --sync                  Make every group the file names have exactly the members its add and keep rows list: members it doesn't list are removed
          --max-removals <N>      With --sync, refuse (sending nothing) when the run would remove more memberships [default: 10]
          --concurrency <N>       Calls in flight at once [default: 4]
          --rate <N/min>          The tenant's request budget; roster paces a little under it [default: 400/min, Atlan's limit]
      -q, --quiet                 Print nothing but errors
          --provider <PROVIDER>   atlan or uipath [default: the one whose environment is set (ATLAN_BASE_URL or UIPATH_URL)]
          --budget <METHOD=N,..>  UiPath's budgets per 5 minutes [default: GET=300,PUT=160,DELETE=160]
          --base-url <URL>        The tenant's URL, e.g. https://acme.atlan.com [default: $ATLAN_BASE_URL or $UIPATH_URL]
          --api-key-file <FILE>   A file holding the API token (UiPath: the client secret) [default: $ATLAN_API_KEY or $UIPATH_CLIENT_SECRET]
          --sandbox               Run against an in-process sandbox seeded with samples/tenant.json instead of a tenant
          --sandbox-seed <FILE>   The sandbox's tenant file (with --sandbox)
      -h, --help                  Print help
    ");
}

#[tokio::test]
async fn usage_errors_exit_2_and_send_nothing() {
    let work = Workspace::new();
    let mut sandbox = TestSandbox::start().await;
    let input = work.write("in.csv", ONE_ADD);
    let cases: [(&[&str], &str); 5] = [
        (&["--frobnicate"], "error: unexpected argument '--frobnicate' found"),
        (&["--concurrency", "0"], "error: invalid value '0' for '--concurrency <N>'"),
        (&["--rate", "fast"], "error: invalid value 'fast' for '--rate <N/min>'"),
        (&["--sandbox"], "error: the argument '--base-url <URL>' cannot be used with '--sandbox'"),
        (&["--resume"], "error: a value is required for '--resume <RESULTS>' but none was supplied"),
    ];
    for (extra, message) in cases {
        let output = work.import(&sandbox, &input).args(extra).run().await;
        output.assert_exit(2);
        assert!(output.stderr.starts_with(message), "{extra:?}: {}", output.stderr);
    }
    let no_file = work.roster(["import"]).run().await;
    no_file.assert_exit(2);
    assert!(no_file.stderr.contains("<FILE>"), "{}", no_file.stderr);
    sandbox.assert_untouched();
}

#[tokio::test]
async fn an_unreadable_input_exits_2_before_the_tenant_is_called() {
    let work = Workspace::new();
    let mut sandbox = TestSandbox::start().await;
    let missing = work.join("missing.csv");
    let output = work.import(&sandbox, &missing).run().await;
    output.assert_exit(2);
    insta::assert_snapshot!(work.redact(&output.stderr), @"error: cannot read [TMP]/missing.csv: No such file or directory (os error 2)");

    let latin1 = work.join("latin1.csv");
    std::fs::write(&latin1, b"action,user,group\nadd,jos\xe9,marketing\n").unwrap();
    let output = work.import(&sandbox, &latin1).run().await;
    output.assert_exit(2);
    insta::assert_snapshot!(work.redact(&output.stderr), @r#"error: [TMP]/latin1.csv, line 2: the file is not UTF-8 text; save it as "CSV UTF-8" (Excel) or convert it, e.g. `iconv -f latin1 -t utf-8`"#);

    let validate = work.roster([OsStr::new("validate"), missing.as_os_str()]).run().await;
    validate.assert_exit(2);
    sandbox.assert_untouched();
}

#[tokio::test]
async fn a_results_file_that_cannot_be_written_stops_the_run_before_any_call() {
    let work = Workspace::new();
    let mut sandbox = TestSandbox::start().await;
    let input = work.write("in.csv", ONE_ADD);
    let output = work.import(&sandbox, &input).results(&work.join("no-such-dir/out.csv")).run().await;
    output.assert_exit(2);
    insta::assert_snapshot!(work.redact(&output.stderr), @"error: cannot write the results file [TMP]/no-such-dir/out.csv: No such file or directory (os error 2) (choose another place with --results)");
    sandbox.assert_untouched();
}

#[tokio::test]
async fn without_a_tenant_roster_says_what_to_set() {
    let work = Workspace::new();
    let input = work.write("in.csv", ONE_ADD);
    let output = work.roster([OsStr::new("import"), input.as_os_str()]).run().await;
    output.assert_exit(2);
    insta::assert_snapshot!(output.stderr, @"error: no tenant given: set ATLAN_BASE_URL and ATLAN_API_KEY (or pass --base-url and --api-key-file), or add --sandbox to rehearse against the sample tenant");

    let sandbox = TestSandbox::start().await;
    let no_token = work
        .roster([OsStr::new("import"), input.as_os_str()])
        .arg("--base-url")
        .arg(sandbox.base_url())
        .run()
        .await;
    no_token.assert_exit(2);
    insta::assert_snapshot!(no_token.stderr, @"error: no API token: set ATLAN_API_KEY, or pass --api-key-file FILE");

    // The SDKs' variables, set on the child only.
    let from_env = work
        .roster([OsStr::new("import"), input.as_os_str()])
        .env("ATLAN_BASE_URL", sandbox.base_url())
        .env("ATLAN_API_KEY", API_KEY)
        .arg("--rate")
        .arg(FAST_RATE)
        .run()
        .await;
    from_env.assert_exit(0);
    let (_, rows) = read_results(&work.join("in.results.csv"));
    assert_eq!(rows[0]["status"], "ok", "{rows:?}");
    assert_eq!(sandbox.stats().calls("POST /api/service/users/{guid}/groups"), 1);
}

#[tokio::test]
async fn plain_http_is_refused_except_to_loopback() {
    let work = Workspace::new();
    let input = work.write("in.csv", ONE_ADD);
    // Should roster try to connect after all, every request goes to a closed loopback port
    // instead of leaving this machine.
    let trap = format!("http://127.0.0.1:{}", closed_port());
    let trapped = || {
        work.roster([OsStr::new("import"), input.as_os_str()])
            .env("HTTP_PROXY", &trap)
            .env("HTTPS_PROXY", &trap)
            .env("ALL_PROXY", &trap)
    };
    let output = trapped()
        .arg("--base-url")
        .arg("http://acme.atlan.example")
        .arg("--api-key-file")
        .arg(work.key_file())
        .run()
        .await;
    output.assert_exit(2);
    insta::assert_snapshot!(output.stderr, @"error: refusing to send the API token over plain http to acme.atlan.example: use https (plain http is allowed only to this machine, e.g. a sandbox)");
    assert!(read_results(&work.join("in.results.csv")).1.is_empty(), "no results file for a refused URL");

    let from_env =
        trapped().env("ATLAN_BASE_URL", "http://192.0.2.7:8080").env("ATLAN_API_KEY", API_KEY).run().await;
    from_env.assert_exit(2);
    assert!(
        from_env.stderr.contains("refusing to send the API token over plain http to 192.0.2.7"),
        "{}",
        from_env.stderr
    );

    // `localhost` is this machine: allowed.
    let sandbox = TestSandbox::start().await;
    let port = sandbox.base_url().rsplit(':').next().unwrap().to_string();
    let local = work
        .roster([OsStr::new("import"), input.as_os_str()])
        .arg("--base-url")
        .arg(format!("http://localhost:{port}"))
        .arg("--api-key-file")
        .arg(work.key_file())
        .arg("--rate")
        .arg(FAST_RATE)
        .run()
        .await;
    local.assert_exit(0);
    assert_eq!(sandbox.stats().writes(), 1);
}

#[tokio::test]
async fn exit_0_when_every_row_is_ok_unchanged_or_skipped() {
    let work = Workspace::new();
    let sandbox = TestSandbox::start().await;
    let input = work.write(
        "in.csv",
        "action,user,group\nadd,lchen,marketing\nadd,jdoe,data_stewards\nkeep,jdoe,finance_analysts\n,,\n",
    );
    let output = work.import(&sandbox, &input).run().await;
    output.assert_exit(0);
    assert_eq!(output.statuses(), ["2 ok", "3 unchanged", "4 skipped", "5 skipped"]);
}

#[tokio::test]
async fn exit_1_when_a_row_fails() {
    let work = Workspace::new();
    let input =
        work.write("in.csv", "action,user,group,role\nadd,lchen,marketing,\nset_role,lchen,,member\n");
    // The reads a run makes, counted on a twin tenant during a dry run.
    let twin = TestSandbox::start().await;
    work.import(&twin, &input).arg("--dry-run").run().await.assert_exit(0);
    let reads = u32::try_from(twin.stats().requests).unwrap();
    // This tenant admits those reads and one write, then locks the client out for longer
    // than roster is willing to wait.
    let mut options = options();
    options.rate_limit = Some(RateLimit { per_minute: reads + 1, lockout: Duration::from_secs(3600) });
    let sandbox = TestSandbox::with_options(sample_seed(), options).await;
    let output = work.import(&sandbox, &input).args(["--concurrency", "1"]).run().await;
    output.assert_exit(1);
    assert_eq!(output.statuses(), ["2 ok", "3 failed"]);
    let failed = output.row(3);
    assert_eq!((failed["http_status"].as_str(), failed["attempts"].as_str()), ("429", "1"));
    assert!(
        failed["detail"].ends_with(
            "the tenant kept refusing for its rate limit; rerun later with --resume, or lower --rate"
        ),
        "{failed:?}"
    );
    assert!(output.stderr.contains("in.csv:3: failed: HTTP 429"), "{}", output.stderr);
}

#[tokio::test]
async fn a_refused_token_exits_3_before_any_row_runs() {
    let work = Workspace::new();
    let sandbox = TestSandbox::start().await;
    let input = work.write("in.csv", "action,user,group\nadd,lchen,marketing\nadd,lchen,Not A Name\n");
    let wrong_key = work.write("wrong-key", "not-the-key\n");
    let output = work
        .roster([OsStr::new("import"), input.as_os_str()])
        .arg("--base-url")
        .arg(sandbox.base_url())
        .arg("--api-key-file")
        .arg(&wrong_key)
        .results_at(&work.join("in.results.csv"))
        .run()
        .await;
    output.assert_exit(3);
    assert!(
        output.stderr.contains(
            "error: Atlan refused the API token (HTTP 401): the token is wrong or expired; check ATLAN_API_KEY (or --api-key-file)"
        ),
        "{}",
        output.stderr
    );
    // Every row is accounted for: the invalid one as invalid, the other as never tried.
    assert_eq!(output.statuses(), ["2 not_attempted", "3 invalid"]);
    assert!(
        output.row(2)["detail"].starts_with("not attempted: Atlan refused the API token"),
        "{:?}",
        output.rows
    );
    let stats = sandbox.stats();
    assert_eq!((stats.requests, stats.writes()), (1, 0), "one read, refused: {stats:?}");
}

// Connection failures are retried with backoff before roster gives up, so this test waits
// several seconds (the retry policy's jittered waits; nothing asserts on them).
#[tokio::test]
async fn an_unreachable_tenant_exits_3() {
    let work = Workspace::new();
    let input = work.write("in.csv", ONE_ADD);
    let url = format!("http://127.0.0.1:{}", closed_port());
    let output = work
        .roster([OsStr::new("import"), input.as_os_str()])
        .arg("--base-url")
        .arg(&url)
        .arg("--api-key-file")
        .arg(work.key_file())
        .results_at(&work.join("in.results.csv"))
        .run()
        .await;
    output.assert_exit(3);
    assert!(
        output.stderr.contains(&format!("error: cannot reach {url}: cannot connect")),
        "{}",
        output.stderr
    );
    assert_eq!(output.statuses(), ["2 not_attempted"]);
}

#[tokio::test]
async fn the_token_never_appears_in_output_or_results() {
    const TOKEN: &str = "tok-Zq8Lr3Vx9Pw2";
    let work = Workspace::new();
    let sandbox = TestSandbox::with_options(sample_seed(), SandboxOptions::new(TOKEN)).await;
    let key_file = work.write("token", TOKEN);
    // Every kind of row, so that every kind of detail is written.
    let input = work.copy_sample("assignments.csv");
    let mut outputs = Vec::new();
    for extra in [&["--dry-run"][..], &[][..], &["--yes"][..]] {
        let output = work
            .roster([OsStr::new("import"), input.as_os_str()])
            .arg("--base-url")
            .arg(sandbox.base_url())
            .arg("--api-key-file")
            .arg(&key_file)
            .args(extra)
            .arg("--rate")
            .arg(FAST_RATE)
            .results_at(&work.join("assignments.results.csv"))
            .run()
            .await;
        let results = std::fs::read_to_string(work.join("assignments.results.csv")).unwrap();
        outputs.push((extra, output, results));
    }
    // The same token, from the environment, refused by another tenant.
    let other = TestSandbox::start().await;
    let refused = work
        .roster([OsStr::new("import"), input.as_os_str()])
        .env("ATLAN_BASE_URL", other.base_url())
        .env("ATLAN_API_KEY", TOKEN)
        .results_at(&work.join("assignments.results.csv"))
        .run()
        .await;
    refused.assert_exit(3);
    let results = std::fs::read_to_string(work.join("assignments.results.csv")).unwrap();
    outputs.push((&["(refused)"][..], refused, results));

    assert_eq!(
        outputs.iter().map(|(_, o, _)| o.code).collect::<Vec<_>>(),
        [Some(0), Some(2), Some(0), Some(3)]
    );
    for (extra, output, results) in &outputs {
        for (name, text) in [("stdout", &output.stdout), ("stderr", &output.stderr), ("results", results)] {
            assert!(!text.contains(TOKEN), "{extra:?}: the token is in {name}:\n{text}");
        }
    }
}

#[tokio::test]
async fn quiet_prints_nothing_but_errors() {
    let work = Workspace::new();
    let sandbox = TestSandbox::start().await;
    let input = work.write("in.csv", ONE_ADD);
    let quiet = work.import(&sandbox, &input).arg("--quiet").run().await;
    quiet.assert_exit(0);
    assert_eq!((quiet.stdout.as_str(), quiet.stderr.as_str()), ("", ""));
    assert_eq!(quiet.statuses(), ["2 ok"], "the results file is written all the same");
    let refused = work.import(&sandbox, &work.join("missing.csv")).arg("-q").run().await;
    refused.assert_exit(2);
    assert!(refused.stderr.starts_with("error: cannot read"), "{}", refused.stderr);
}
