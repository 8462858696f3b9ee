//! The Atlan sandbox's contract, over real HTTP: what each endpoint answers and changes,
//! how lists page, sort, project and filter, the error bodies, auth, and the `/_sandbox`
//! control routes. The ground truth is `shared/reference/atlan-api-notes.md` (§3-§9).

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use roster::sandbox::{Seed, Stats};
use serde_json::{Value, json};

use crate::common::sample::{
    ADMIN_ROLE, AKUMAR, DATA_STEWARDS, EVERYONE, FINANCE, GUEST_ROLE, JDOE, JSMITH, LCHEN, MARKETING,
    MEMBER_ROLE, MGARCIA, PNEW,
};
use crate::common::{
    TestSandbox, UNKNOWN_GUID, field, generated, heracles_message, records, sample, sample_seed, totals,
};

/// The record of one user, found by username.
async fn user(sandbox: &TestSandbox, username: &str) -> Value {
    let filter = json!({ "username": username }).to_string();
    let (status, body) = sandbox.list("/api/service/users", &[("filter", &filter)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(records(&body).len(), 1, "{body}");
    records(&body)[0].clone()
}

/// The record of one group, found by GUID.
async fn group(sandbox: &TestSandbox, guid: &str) -> Value {
    let filter = json!({ "id": guid }).to_string();
    let (status, body) = sandbox.list("/api/service/v2/groups", &[("filter", &filter)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(records(&body).len(), 1, "{body}");
    records(&body)[0].clone()
}

/// Usernames of a group's members, sorted.
async fn member_names(sandbox: &TestSandbox, guid: &str) -> Vec<String> {
    let (status, body) =
        sandbox.list(&format!("/api/service/groups/{guid}/members"), &[("sort", "username")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    field(&body, "username")
}

/// Names of a user's groups, sorted.
async fn group_names_of(sandbox: &TestSandbox, guid: &str) -> Vec<String> {
    let (status, body) =
        sandbox.list(&format!("/api/service/users/{guid}/groups"), &[("sort", "name")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    field(&body, "name")
}

/// Users with their roles and groups with their members: what a reset must bring back
/// (the timestamps a sandbox fills in when it builds the tenant are left out).
#[derive(Debug, PartialEq)]
struct Outline {
    users: BTreeMap<String, (String, Option<String>)>,
    groups: BTreeMap<String, BTreeSet<String>>,
}

fn outline(seed: &Seed) -> Outline {
    Outline {
        users: seed.users.iter().map(|u| (u.id.clone(), (u.username.clone(), u.role.clone()))).collect(),
        groups: seed.groups.iter().map(|g| (g.id.clone(), g.members.iter().cloned().collect())).collect(),
    }
}

// ---- every endpoint ----

#[tokio::test]
async fn every_endpoint_answers_200_and_stats_name_each_route_template() {
    let sandbox = TestSandbox::start().await;
    let invite =
        json!({"users": [{"email": "new.person@example.com", "roleName": "$member", "roleId": MEMBER_ROLE}]});
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/service/roles".into(), None),
        (Method::GET, "/api/service/v2/groups".into(), None),
        (Method::GET, "/api/service/groups".into(), None),
        (
            Method::POST,
            "/api/service/groups".into(),
            Some(json!({"group": {"name": "hr", "attributes": {"alias": ["HR"]}}})),
        ),
        (
            Method::POST,
            format!("/api/service/groups/{DATA_STEWARDS}"),
            Some(
                json!({"id": DATA_STEWARDS, "path": "/data_stewards", "attributes": {"description": ["d"]}}),
            ),
        ),
        (Method::GET, format!("/api/service/groups/{FINANCE}/members"), None),
        (
            Method::POST,
            format!("/api/service/groups/{FINANCE}/members/remove"),
            Some(json!({"users": [AKUMAR]})),
        ),
        (Method::POST, format!("/api/service/groups/{MARKETING}/delete"), None),
        (Method::GET, "/api/service/users".into(), None),
        (Method::POST, "/api/service/users".into(), Some(invite)),
        (
            Method::POST,
            format!("/api/service/users/{JDOE}"),
            Some(json!({"id": JDOE, "firstName": "Joanna"})),
        ),
        (Method::GET, format!("/api/service/users/{JDOE}/groups"), None),
        (Method::POST, format!("/api/service/users/{LCHEN}/groups"), Some(json!({"groups": [FINANCE]}))),
        (
            Method::POST,
            format!("/api/service/users/{JDOE}/roles/update"),
            Some(json!({"roleId": GUEST_ROLE})),
        ),
        (Method::POST, format!("/api/service/users/{JDOE}/update"), Some(json!({"roleId": MEMBER_ROLE}))),
        (Method::GET, "/api/service/users/current".into(), None),
        (Method::GET, "/api/service/whoami".into(), None),
        (Method::GET, "/api/service/apikeys".into(), None),
    ];
    for (method, path, body) in &calls {
        let mut request = sandbox.request(method.clone(), path);
        if let Some(body) = body {
            request = request.json(body);
        }
        let (status, body) = sandbox.call(request).await;
        assert_eq!(status, StatusCode::OK, "{method} {path}: {body}");
    }

    let expected_routes: BTreeMap<String, u64> = [
        "GET /api/service/roles",
        "GET /api/service/v2/groups",
        "GET /api/service/groups",
        "POST /api/service/groups",
        "POST /api/service/groups/{guid}",
        "GET /api/service/groups/{guid}/members",
        "POST /api/service/groups/{guid}/members/remove",
        "POST /api/service/groups/{guid}/delete",
        "GET /api/service/users",
        "POST /api/service/users",
        "POST /api/service/users/{guid}",
        "GET /api/service/users/{guid}/groups",
        "POST /api/service/users/{guid}/groups",
        "POST /api/service/users/{guid}/roles/update",
        "POST /api/service/users/{guid}/update",
        "GET /api/service/users/current",
        "GET /api/service/whoami",
        "GET /api/service/apikeys",
    ]
    .into_iter()
    .map(|route| (route.to_string(), 1))
    .collect();
    let seen = sandbox.stats();
    assert_eq!(seen.by_route, expected_routes);
    assert_eq!(seen.requests, 18);
    assert_eq!(seen.by_method, BTreeMap::from([("GET".into(), 9), ("POST".into(), 9)]));
    assert_eq!(seen.by_status, BTreeMap::from([("200".into(), 18)]));
    assert_eq!(seen.writes(), 9);
}

#[tokio::test]
async fn roles_lists_the_three_workspace_roles_with_string_counts() {
    let sandbox = TestSandbox::start().await;
    let (status, body) = sandbox.list("/api/service/roles", &[("sort", "name")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(totals(&body), (3, 3));
    let roles: BTreeMap<String, (String, Value)> = records(&body)
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                (r["id"].as_str().unwrap().to_string(), r["memberCount"].clone()),
            )
        })
        .collect();
    assert_eq!(
        roles,
        BTreeMap::from([
            ("$admin".into(), (ADMIN_ROLE.into(), json!("1"))),
            ("$member".into(), (MEMBER_ROLE.into(), json!("3"))),
            ("$guest".into(), (GUEST_ROLE.into(), json!("2"))),
        ])
    );
    assert!(records(&body).iter().all(|r| r["level"] == "workspace"), "{body}");
}

#[tokio::test]
async fn the_role_cache_request_of_pyatlan_finds_every_dollar_role() {
    let sandbox = TestSandbox::start().await;
    // Verbatim from the wire (atlan-api-notes §3.1): filter {"name":{"$ilike":"$%"}}.
    let (status, body) = sandbox
        .get("/api/service/roles?count=True&offset=0&limit=100&filter=%7B%22name%22%3A%7B%22%24ilike%22%3A%22%24%25%22%7D%7D")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(totals(&body), (3, 3));
    assert_eq!(records(&body).len(), 3);
}

#[tokio::test]
async fn both_group_list_paths_return_the_same_groups() {
    let sandbox = TestSandbox::start().await;
    let (v2_status, v2) = sandbox.list("/api/service/v2/groups", &[("sort", "name")]).await;
    let (v1_status, v1) = sandbox.list("/api/service/groups", &[("sort", "name")]).await;
    assert_eq!((v2_status, v1_status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(v2, v1);
    assert_eq!(totals(&v2), (4, 4));
    assert_eq!(field(&v2, "name"), ["data_stewards", "everyone", "finance_analysts", "marketing"]);
    let seen = sandbox.stats();
    assert_eq!((seen.calls("GET /api/service/v2/groups"), seen.calls("GET /api/service/groups")), (1, 1));
}

#[tokio::test]
async fn group_records_have_alias_path_and_string_array_attributes() {
    let sandbox = TestSandbox::start().await;
    let stewards = group(&sandbox, DATA_STEWARDS).await;
    assert_eq!(stewards["name"], "data_stewards");
    assert_eq!(stewards["path"], "/data_stewards");
    assert_eq!(stewards["alias"], "Data Stewards");
    assert_eq!(stewards["userCount"], 2);
    let attributes = stewards["attributes"].as_object().unwrap();
    assert_eq!(attributes["alias"], json!(["Data Stewards"]));
    assert_eq!(attributes["isDefault"], json!(["false"]));
    assert_eq!(attributes["description"], json!(["Owners of data quality and definitions"]));
    assert!(
        attributes.values().all(|v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string))),
        "{stewards}"
    );
    assert_eq!(group(&sandbox, EVERYONE).await["attributes"]["isDefault"], json!(["true"]));
}

#[tokio::test]
async fn creating_a_group_without_users_answers_users_null() {
    let sandbox = TestSandbox::start().await;
    let (status, body) = sandbox
        .post(
            "/api/service/groups",
            &json!({"group": {"name": "human_resources", "attributes": {"alias": ["Human Resources"], "isDefault": ["false"]}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let guid = body["group"].as_str().expect("the new group's GUID").to_string();
    assert!(uuid::Uuid::parse_str(&guid).is_ok(), "{guid}");
    assert_eq!(body, json!({"group": guid, "users": null}));

    let created = group(&sandbox, &guid).await;
    assert_eq!(
        (created["name"].clone(), created["alias"].clone()),
        (json!("human_resources"), json!("Human Resources"))
    );
    assert_eq!(created["userCount"], 0);
    assert!(created["attributes"]["createdAt"][0].is_string(), "{created}");
    assert_eq!(sandbox.state().groups.len(), sample::GROUPS + 1);
}

#[tokio::test]
async fn creating_a_group_with_users_reports_each_user_and_makes_them_members() {
    let sandbox = TestSandbox::start().await;
    let (status, body) = sandbox
        .post(
            "/api/service/groups",
            &json!({"group": {"name": "human_resources", "attributes": {"alias": ["Human Resources"]}}, "users": [JDOE, LCHEN]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let guid = body["group"].as_str().unwrap().to_string();
    let success = json!({"status": 200, "statusMessage": "success"});
    assert_eq!(body, json!({"group": guid, "users": {JDOE: success, LCHEN: success}}));
    assert_eq!(member_names(&sandbox, &guid).await, ["jdoe", "lchen"]);
    assert_eq!(user(&sandbox, "lchen").await["groupCount"], 1);
}

#[tokio::test]
async fn updating_a_group_replaces_the_given_attributes_and_keeps_the_rest() {
    let sandbox = TestSandbox::start().await;
    let (status, _) = sandbox
        .post(
            &format!("/api/service/groups/{DATA_STEWARDS}"),
            &json!({"id": DATA_STEWARDS, "path": "/data_stewards",
                    "attributes": {"description": ["Now with a description!"], "channels": ["#stewards"]}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let updated = group(&sandbox, DATA_STEWARDS).await;
    let attributes = &updated["attributes"];
    assert_eq!(attributes["description"], json!(["Now with a description!"]));
    assert_eq!(attributes["channels"], json!(["#stewards"]));
    // Not in the body, so kept.
    assert_eq!(updated["alias"], "Data Stewards");
    assert_eq!(attributes["alias"], json!(["Data Stewards"]));
    assert_eq!(attributes["isDefault"], json!(["false"]));
    assert_eq!(updated["name"], "data_stewards");
    assert_eq!(updated["userCount"], 2);
    assert!(attributes["updatedAt"][0].is_string(), "{updated}");
}

#[tokio::test]
async fn updating_a_group_without_its_path_is_a_400() {
    let sandbox = TestSandbox::start().await;
    let before = sandbox.state();
    let (status, body) = sandbox
        .post(
            &format!("/api/service/groups/{DATA_STEWARDS}"),
            &json!({"id": DATA_STEWARDS, "attributes": {"description": ["x"]}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = heracles_message(&body, 1000, "Please check your request parameters");
    assert!(message.contains("path"), "{message}");
    assert_eq!(sandbox.state(), before);
}

#[tokio::test]
async fn deleting_a_group_removes_it_and_its_memberships() {
    let sandbox = TestSandbox::start().await;
    let (status, _) = sandbox.post(&format!("/api/service/groups/{MARKETING}/delete"), &Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let (_, groups) = sandbox.list("/api/service/v2/groups", &[("sort", "name")]).await;
    assert_eq!(field(&groups, "name"), ["data_stewards", "everyone", "finance_analysts"]);
    assert_eq!(user(&sandbox, "mgarcia").await["groupCount"], 0);
    let (status, _) = sandbox.get(&format!("/api/service/groups/{MARKETING}/members")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(sandbox.state().groups.iter().all(|g| g.id != MARKETING));
}

#[tokio::test]
async fn group_members_lists_the_members_as_users() {
    let sandbox = TestSandbox::start().await;
    let (status, body) = sandbox
        .get(&format!("/api/service/groups/{DATA_STEWARDS}/members?sort=username&count=true&offset=0&limit=20&maxLoginEvents=1"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(totals(&body), (2, 2));
    assert_eq!(field(&body, "username"), ["jdoe", "jsmith"]);
    assert_eq!(field(&body, "id"), [JDOE, JSMITH]);
    assert_eq!(field(&body, "workspaceRole"), ["$member", "$admin"]);
}

#[tokio::test]
async fn removing_members_takes_them_out_of_the_group_on_both_sides() {
    let sandbox = TestSandbox::start().await;
    let (status, _) = sandbox
        .post(&format!("/api/service/groups/{DATA_STEWARDS}/members/remove"), &json!({"users": [JDOE]}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(member_names(&sandbox, DATA_STEWARDS).await, ["jsmith"]);
    assert_eq!(group_names_of(&sandbox, JDOE).await, ["finance_analysts"]);
    let stewards = sandbox.state().groups.into_iter().find(|g| g.id == DATA_STEWARDS).unwrap();
    assert_eq!(stewards.members, [JSMITH]);
}

#[tokio::test]
async fn users_lists_every_user_with_the_keys_the_sdk_requires() {
    let sandbox = TestSandbox::start().await;
    let (status, body) = sandbox.list("/api/service/users", &[("sort", "username")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(totals(&body), (6, 6));
    assert_eq!(field(&body, "username"), ["akumar", "jdoe", "jsmith", "lchen", "mgarcia", "pnew"]);
    let jdoe = &records(&body)[1];
    assert_eq!(jdoe["id"], JDOE);
    assert_eq!(jdoe["email"], "jdoe@example.com");
    assert_eq!(jdoe["firstName"], "Jo");
    assert_eq!(jdoe["workspaceRole"], "$member");
    assert_eq!(jdoe["groupCount"], 2);
    assert_eq!(jdoe["enabled"], true);
}

#[tokio::test]
async fn inviting_a_user_answers_an_empty_object_and_joins_the_default_groups() {
    let sandbox = TestSandbox::start().await;
    let (status, body) = sandbox
        .post(
            "/api/service/users",
            &json!({"users": [{"email": "new.person@example.com", "roleName": "$member", "roleId": MEMBER_ROLE}]}),
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));

    let invited = user(&sandbox, "new.person").await;
    assert_eq!(invited["email"], "new.person@example.com");
    assert_eq!(invited["workspaceRole"], "$member");
    assert_eq!(invited["emailVerified"], false);
    assert_eq!(group_names_of(&sandbox, invited["id"].as_str().unwrap()).await, ["everyone"]);
    assert_eq!(member_names(&sandbox, EVERYONE).await, ["new.person"]);
    let state = sandbox.state();
    assert_eq!(state.users.len(), sample::USERS + 1);
    assert!(state.users.iter().any(|u| u.username == "new.person" && u.invited));
}

#[tokio::test]
async fn updating_a_signed_up_user_answers_the_updated_user_object() {
    let sandbox = TestSandbox::start().await;
    let (status, body) = sandbox
        .post(&format!("/api/service/users/{JDOE}"), &json!({"id": JDOE, "firstName": "Joanna"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_object(), "{body}");
    assert_eq!(body["id"], JDOE);
    assert_eq!(body["username"], "jdoe");
    assert_eq!(body["firstName"], "Joanna");
    assert_eq!(body["lastName"], "Doe");
    assert_eq!(user(&sandbox, "jdoe").await["firstName"], "Joanna");
}

#[tokio::test]
async fn a_users_groups_are_listed_as_groups() {
    let sandbox = TestSandbox::start().await;
    let (status, body) = sandbox
        .get(&format!("/api/service/users/{JDOE}/groups?sort=name&count=true&offset=0&limit=20"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(totals(&body), (2, 2));
    assert_eq!(field(&body, "name"), ["data_stewards", "finance_analysts"]);
    assert_eq!(field(&body, "alias"), ["Data Stewards", "Finance Analysts"]);
}

#[tokio::test]
async fn adding_a_user_to_groups_shows_on_both_sides_and_twice_is_once() {
    let sandbox = TestSandbox::start().await;
    for _ in 0..2 {
        let (status, _) = sandbox
            .post(&format!("/api/service/users/{LCHEN}/groups"), &json!({"groups": [MARKETING, FINANCE]}))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(group_names_of(&sandbox, LCHEN).await, ["finance_analysts", "marketing"]);
    assert_eq!(member_names(&sandbox, MARKETING).await, ["lchen", "mgarcia"]);
    assert_eq!(user(&sandbox, "lchen").await["groupCount"], 2);
}

#[tokio::test]
async fn changing_a_role_changes_the_workspace_role_and_role_counts() {
    let sandbox = TestSandbox::start().await;
    let (status, _) = sandbox
        .post(&format!("/api/service/users/{JDOE}/roles/update"), &json!({"roleId": GUEST_ROLE}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let jdoe = user(&sandbox, "jdoe").await;
    assert_eq!(jdoe["workspaceRole"], "$guest");
    assert!(jdoe["roles"].as_array().unwrap().contains(&json!("$guest")), "{jdoe}");
    let (_, roles) = sandbox.list("/api/service/roles", &[("filter", r#"{"name":"$guest"}"#)]).await;
    assert_eq!(records(&roles)[0]["memberCount"], "3");
    let state_jdoe = sandbox.state().users.into_iter().find(|u| u.id == JDOE).unwrap();
    assert_eq!(state_jdoe.role.as_deref(), Some("$guest"));
}

#[tokio::test]
async fn the_users_update_alias_changes_roles_too() {
    let sandbox = TestSandbox::start().await;
    let (status, _) =
        sandbox.post(&format!("/api/service/users/{MGARCIA}/update"), &json!({"roleId": ADMIN_ROLE})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user(&sandbox, "mgarcia").await["workspaceRole"], "$admin");
    assert_eq!(sandbox.stats().calls("POST /api/service/users/{guid}/update"), 1);
}

#[tokio::test]
async fn current_user_and_whoami_describe_the_api_token() {
    let sandbox = TestSandbox::start().await;
    let (status, current) = sandbox.get("/api/service/users/current").await;
    assert_eq!(status, StatusCode::OK);
    assert!(current["id"].is_string() && current["username"].is_string(), "{current}");
    let (status, whoami) = sandbox.get("/api/service/whoami").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(whoami["username"], current["username"]);
    let roles = whoami["roles"].as_array().expect("whoami has roles");
    assert!(!roles.is_empty() && roles.iter().all(|r| r["name"].is_string()), "{whoami}");
}

#[tokio::test]
async fn apikeys_answers_an_empty_list_to_the_user_cache_lookup() {
    let sandbox = TestSandbox::start().await;
    let filter = json!({"id": JDOE}).to_string();
    let (status, body) = sandbox
        .list(
            "/api/service/apikeys",
            &[("count", "True"), ("offset", "0"), ("limit", "5"), ("filter", &filter), ("sort", "createdAt")],
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"totalRecord": 0, "filterRecord": 0, "records": []})));
}

// ---- paging, counts, sorting, projection ----

/// Pages like pyatlan: `offset += limit` until a page has no records. Returns every id seen
/// and how many requests it took.
async fn page_to_the_end(
    sandbox: &TestSandbox,
    path: &str,
    limit: usize,
    extra: &[(&str, &str)],
) -> (Vec<String>, usize) {
    let limit_text = limit.to_string();
    let mut ids = Vec::new();
    for page in 0..100 {
        let offset = (page * limit).to_string();
        let mut params = vec![("limit", limit_text.as_str()), ("offset", offset.as_str())];
        params.extend_from_slice(extra);
        let (status, body) = sandbox.list(path, &params).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if records(&body).is_empty() {
            return (ids, page + 1);
        }
        ids.extend(field(&body, "id"));
    }
    panic!("{path} still had records after 100 pages");
}

fn assert_each_once(seen: &[String], expected: &BTreeSet<String>) {
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "some record came twice");
    assert_eq!(&unique, expected);
}

#[tokio::test]
async fn paging_users_to_the_empty_page_sees_every_user_exactly_once() {
    let sandbox = TestSandbox::with_seed(generated("users=45,groups=7,memberships=60,seed=3")).await;
    let (seen, requests) =
        page_to_the_end(&sandbox, "/api/service/users", 20, &[("sort", "username"), ("count", "true")]).await;
    let all: BTreeSet<String> = sandbox.state().users.into_iter().map(|u| u.id).collect();
    assert_each_once(&seen, &all);
    // Offsets 0, 20, 40 and the empty page at 60.
    assert_eq!(requests, 4);
    assert_eq!(sandbox.stats().calls("GET /api/service/users"), 4);
}

#[tokio::test]
async fn paging_groups_and_members_sees_each_exactly_once() {
    let sandbox = TestSandbox::with_seed(generated("users=45,groups=7,memberships=60,seed=3")).await;
    let state = sandbox.state();
    let (groups, requests) =
        page_to_the_end(&sandbox, "/api/service/v2/groups", 3, &[("sort", "name")]).await;
    assert_each_once(&groups, &state.groups.iter().map(|g| g.id.clone()).collect());
    assert_eq!(requests, 4);

    let biggest = state.groups.iter().max_by_key(|g| g.members.len()).unwrap();
    assert!(biggest.members.len() > 4, "the generated tenant has a group worth paging");
    let path = format!("/api/service/groups/{}/members", biggest.id);
    let (members, _) = page_to_the_end(&sandbox, &path, 2, &[("sort", "username")]).await;
    assert_each_once(&members, &biggest.members.iter().cloned().collect());
}

#[tokio::test]
async fn a_page_in_sort_order_continues_where_the_last_one_stopped() {
    let sandbox = TestSandbox::with_seed(generated("users=45,groups=7,memberships=60,seed=3")).await;
    let (_, everyone) = sandbox.list("/api/service/users", &[("sort", "username")]).await;
    let (_, third) =
        sandbox.list("/api/service/users", &[("sort", "username"), ("offset", "20"), ("limit", "10")]).await;
    assert_eq!(field(&third, "id"), field(&everyone, "id")[20..30]);
    let (_, past) = sandbox.list("/api/service/users", &[("offset", "45"), ("limit", "10")]).await;
    assert_eq!(records(&past).len(), 0);
    assert_eq!(totals(&past), (45, 45));
}

#[tokio::test]
async fn total_record_counts_the_collection_and_filter_record_the_matches() {
    let sandbox = TestSandbox::with_seed(generated("users=45,groups=7,memberships=60,seed=3")).await;
    let filter = r#"{"username":{"$in":["user000001","user000002","user000003","nobody"]}}"#;
    let (status, body) = sandbox.list("/api/service/users", &[("filter", filter), ("limit", "2")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(totals(&body), (45, 3));
    assert_eq!(records(&body).len(), 2);
    // limit=0 is how clients ask for the counts alone.
    let (_, counts) = sandbox.list("/api/service/users", &[("filter", filter), ("limit", "0")]).await;
    assert_eq!(totals(&counts), (45, 3));
    assert!(records(&counts).is_empty());
}

#[tokio::test]
async fn count_false_answers_zero_totals_but_still_the_records() {
    let sandbox = TestSandbox::with_seed(generated("users=45,groups=7,memberships=60,seed=3")).await;
    for count in ["false", "False"] {
        let (status, body) = sandbox.list("/api/service/users", &[("count", count), ("limit", "5")]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(totals(&body), (0, 0), "count={count}");
        assert_eq!(records(&body).len(), 5, "count={count}");
    }
    let (_, counted) = sandbox.list("/api/service/users", &[("count", "True"), ("limit", "5")]).await;
    assert_eq!(totals(&counted), (45, 45));
}

#[tokio::test]
async fn sort_orders_by_a_field_and_minus_field_reverses_it() {
    let sandbox = TestSandbox::with_seed(generated("users=45,groups=7,memberships=60,seed=3")).await;
    let (_, ascending) = sandbox.list("/api/service/users", &[("sort", "username")]).await;
    let names = field(&ascending, "username");
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);

    let (_, descending) = sandbox.list("/api/service/users", &[("sort", "-username")]).await;
    let mut reversed = field(&descending, "username");
    reversed.reverse();
    assert_eq!(reversed, names);

    let (_, by_time) = sandbox.list("/api/service/users", &[("sort", "-createdTimestamp")]).await;
    let times: Vec<i64> = records(&by_time).iter().map(|r| r["createdTimestamp"].as_i64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
}

#[tokio::test]
async fn columns_project_the_same_whether_repeated_or_comma_joined() {
    let sandbox = TestSandbox::start().await;
    let (_, repeated) = sandbox
        .list("/api/service/users", &[("sort", "username"), ("columns", "email"), ("columns", "firstName")])
        .await;
    let (_, joined) =
        sandbox.list("/api/service/users", &[("sort", "username"), ("columns", "email,firstName")]).await;
    assert_eq!(repeated, joined);
    for record in records(&repeated) {
        let keys: BTreeSet<&str> = record.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["id", "username", "email", "firstName"]), "{record}");
    }

    let (_, groups) = sandbox.list("/api/service/v2/groups", &[("columns", "path")]).await;
    for record in records(&groups) {
        let keys: BTreeSet<&str> = record.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["id", "name", "path"]), "{record}");
    }
}

// ---- filters ----

#[tokio::test]
async fn each_filter_operator_selects_the_expected_users() {
    let sandbox = TestSandbox::start().await;
    let cases: &[(&str, &[&str])] = &[
        (r#"{"username":"jdoe"}"#, &["jdoe"]),
        (r#"{"workspaceRole":{"$eq":"$guest"}}"#, &["lchen", "pnew"]),
        (r#"{"workspaceRole":{"$ne":"$member"}}"#, &["jsmith", "lchen", "pnew"]),
        (r#"{"username":{"$in":["jdoe","lchen","nobody"]}}"#, &["jdoe", "lchen"]),
        (r#"{"username":{"$nin":["jdoe","lchen"]}}"#, &["akumar", "jsmith", "mgarcia", "pnew"]),
        (r#"{"email":{"$ilike":"%J%"}}"#, &["jdoe", "jsmith"]),
        (r#"{"email":{"$ilike":"p.new@%"}}"#, &["pnew"]),
        (r#"{"email":{"$like":"%J%"}}"#, &[]),
        (r#"{"email":{"$like":"j%"}}"#, &["jdoe", "jsmith"]),
        (r#"{"$and":[{"workspaceRole":"$member"},{"firstName":{"$ilike":"%a%"}}]}"#, &["akumar", "mgarcia"]),
        (r#"{"$or":[{"username":"jsmith"},{"workspaceRole":"$guest"}]}"#, &["jsmith", "lchen", "pnew"]),
    ];
    for (filter, expected) in cases {
        let (status, body) =
            sandbox.list("/api/service/users", &[("filter", filter), ("sort", "username")]).await;
        assert_eq!(status, StatusCode::OK, "{filter}: {body}");
        assert_eq!(field(&body, "username"), *expected, "{filter}");
        assert_eq!(totals(&body), (6, expected.len() as u64), "{filter}");
    }
}

#[tokio::test]
async fn the_sdk_group_and_role_filters_work_as_sent_on_the_wire() {
    let sandbox = TestSandbox::start().await;
    // group.get_by_name("Finance Analysts"), verbatim: the space arrives as '+'.
    let (status, body) = sandbox
        .get("/api/service/v2/groups?filter=%7B%22%24and%22%3A%5B%7B%22alias%22%3A%7B%22%24ilike%22%3A%22%25Finance+Analysts%25%22%7D%7D%5D%7D&count=true&offset=0&limit=20")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(field(&body, "id"), [FINANCE]);
    // The OAuth-client role lookup.
    let (_, roles) = sandbox
        .list(
            "/api/service/roles",
            &[("filter", r#"{"$or":[{"level":"workspace"},{"level":"admin-subrole"}]}"#)],
        )
        .await;
    assert_eq!(totals(&roles), (3, 3));
}

#[tokio::test]
async fn a_malformed_filter_is_a_400_with_a_heracles_body() {
    let sandbox = TestSandbox::start().await;
    for filter in
        ["{nope", r#"["username"]"#, r#"{"username":{"$regex":"j.*"}}"#, r#"{"username":{"$in":"jdoe"}}"#]
    {
        let (status, body) = sandbox.list("/api/service/users", &[("filter", filter)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{filter}: {body}");
        let message = heracles_message(&body, 1000, "Please check your request parameters");
        assert!(!message.is_empty(), "{filter}");
    }
    assert_eq!(sandbox.stats().by_status, BTreeMap::from([("400".into(), 4)]));
}

// ---- error bodies ----

#[tokio::test]
async fn creating_a_group_whose_name_exists_is_a_400_keycloak_conflict() {
    let sandbox = TestSandbox::start().await;
    let (status, mut body) = sandbox
        .post(
            "/api/service/groups",
            &json!({"group": {"name": "marketing", "attributes": {"alias": ["Marketing 2"]}}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    heracles_message(&body, 3500, "keycloak error");
    body.as_object_mut().unwrap().remove("requestId");
    assert_eq!(
        body,
        json!({"code": 3500, "error": "keycloak error", "info": null,
               "message": "409 Conflict: Top level group named 'marketing' already exists."})
    );
    assert_eq!(sandbox.state().groups.len(), sample::GROUPS);
}

#[tokio::test]
async fn unknown_user_and_group_guids_are_404_keycloak_errors() {
    let sandbox = TestSandbox::start().await;
    let before = sandbox.state();
    let x = UNKNOWN_GUID;
    let calls: Vec<(Method, String, Value)> = vec![
        (Method::GET, format!("/api/service/groups/{x}/members"), Value::Null),
        (Method::POST, format!("/api/service/groups/{x}"), json!({"id": x, "path": "/x", "attributes": {}})),
        (Method::POST, format!("/api/service/groups/{x}/delete"), Value::Null),
        (Method::POST, format!("/api/service/groups/{x}/members/remove"), json!({"users": [JDOE]})),
        (Method::POST, format!("/api/service/groups/{DATA_STEWARDS}/members/remove"), json!({"users": [x]})),
        (Method::POST, format!("/api/service/users/{x}"), json!({"id": x, "firstName": "X"})),
        (Method::GET, format!("/api/service/users/{x}/groups"), Value::Null),
        (Method::POST, format!("/api/service/users/{x}/groups"), json!({"groups": [DATA_STEWARDS]})),
        (Method::POST, format!("/api/service/users/{JDOE}/groups"), json!({"groups": [x]})),
        (Method::POST, format!("/api/service/users/{x}/roles/update"), json!({"roleId": MEMBER_ROLE})),
    ];
    for (method, path, body) in calls {
        let mut request = sandbox.request(method.clone(), &path);
        if !body.is_null() {
            request = request.json(&body);
        }
        let (status, answer) = sandbox.call(request).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
        let message = heracles_message(&answer, 3500, "keycloak error");
        assert!(message.contains(x), "{method} {path}: {message}");
    }
    assert_eq!(sandbox.state(), before);
}

#[tokio::test]
async fn inviting_an_existing_email_is_a_500_keyed_by_the_email() {
    let sandbox = TestSandbox::start().await;
    let (status, body) = sandbox
        .post(
            "/api/service/users",
            &json!({"users": [{"email": "jdoe@example.com", "roleName": "$member", "roleId": MEMBER_ROLE}]}),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body, json!({"jdoe@example.com": "409 Conflict: User exists with the same email"}));
    assert_eq!(sandbox.state().users.len(), sample::USERS);
}

#[tokio::test]
async fn inviting_the_same_new_email_twice_in_one_request_is_refused_like_an_existing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let mut options = crate::common::options();
    options.state_file = Some(path.clone());
    let sandbox = TestSandbox::with_options(sample_seed(), options).await;
    let entry = json!({"email": "twice@example.com", "roleName": "$guest", "roleId": GUEST_ROLE});
    let (status, body) = sandbox.post("/api/service/users", &json!({"users": [entry, entry]})).await;
    let state = sandbox.state();
    let holders: Vec<&str> = state
        .users
        .iter()
        .filter(|u| u.email.as_deref() == Some("twice@example.com"))
        .map(|u| u.username.as_str())
        .collect();
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body, json!({"twice@example.com": "409 Conflict: User exists with the same email"}));
    assert!(holders.is_empty(), "an invite is all or nothing: {holders:?}");
    // Emails are unique in a tenant file, so a saved state must load again.
    Seed::load(&path).expect("the state file the sandbox saved loads");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_400_code_1000() {
    let sandbox = TestSandbox::start().await;
    for path in [
        "/api/service/groups".to_string(),
        format!("/api/service/users/{JDOE}/groups"),
        "/api/service/users".into(),
    ] {
        let (status, body) = sandbox.post_raw(&path, "{not json").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        heracles_message(&body, 1000, "Please check your request parameters");
    }
    assert_eq!(sandbox.stats().writes(), 3);
    assert_eq!(sandbox.state().groups.len(), sample::GROUPS);
}

#[tokio::test]
async fn an_unknown_path_is_a_404() {
    let sandbox = TestSandbox::start().await;
    let (status, body) = sandbox.get("/api/service/nothing/here").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["message"].is_string(), "{body}");
    let (status, _) = sandbox.post(&format!("/api/service/groups/{MARKETING}/rename"), &json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(sandbox.stats().by_status, BTreeMap::from([("404".into(), 2)]));
}

#[tokio::test]
async fn updating_an_invited_user_who_has_not_signed_up_is_a_400() {
    let sandbox = TestSandbox::start().await;
    let (status, body) =
        sandbox.post(&format!("/api/service/users/{PNEW}"), &json!({"id": PNEW, "firstName": "Pat"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    heracles_message(&body, 3500, "keycloak error");
    let pnew = sandbox.state().users.into_iter().find(|u| u.id == PNEW).unwrap();
    assert_eq!(pnew.first_name, None);
}

// ---- auth ----

#[tokio::test]
async fn a_missing_wrong_or_non_bearer_token_is_a_401_naming_the_path() {
    let sandbox = TestSandbox::start().await;
    let cases: [(&str, Option<String>); 4] = [
        ("no Authorization header", None),
        ("a wrong token", Some("Bearer not-the-key".into())),
        ("the Basic scheme", Some("Basic dGVzdC1rZXk6".into())),
        ("the key without a scheme", Some(crate::common::API_KEY.into())),
    ];
    for (label, header) in cases {
        let mut request = sandbox.unauthenticated(Method::GET, "/api/service/users?limit=1");
        if let Some(header) = header {
            request = request.header(reqwest::header::AUTHORIZATION, header);
        }
        let (status, body) = sandbox.call(request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{label}");
        assert_eq!(
            body,
            json!({"status": 401, "message": "Unauthorized", "url": "/api/service/users"}),
            "{label}"
        );
    }
    let (status, _) = sandbox.get("/api/service/users?limit=1").await;
    assert_eq!(status, StatusCode::OK, "the right Bearer token");
    assert_eq!(sandbox.stats().by_status, BTreeMap::from([("200".into(), 1), ("401".into(), 4)]));
}

#[tokio::test]
async fn an_unauthorized_write_changes_nothing() {
    let sandbox = TestSandbox::start().await;
    let before = sandbox.state();
    let request = sandbox
        .unauthenticated(Method::POST, "/api/service/groups")
        .json(&json!({"group": {"name": "sneaky", "attributes": {"alias": ["Sneaky"]}}}));
    let (status, body) = sandbox.call(request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["url"], "/api/service/groups");
    assert_eq!(sandbox.state(), before);
}

#[tokio::test]
async fn the_sandbox_control_routes_need_no_token() {
    let sandbox = TestSandbox::start().await;
    for (method, path) in [(Method::GET, "/_sandbox/stats"), (Method::GET, "/_sandbox/state")] {
        let response = sandbox.send(sandbox.unauthenticated(method.clone(), path)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{method} {path}");
    }
    // Control routes are not API traffic: nothing was counted.
    assert_eq!(sandbox.stats(), Stats::default());
    let response = sandbox.send(sandbox.unauthenticated(Method::POST, "/_sandbox/reset")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "POST /_sandbox/reset");
}

// ---- /_sandbox ----

#[tokio::test]
async fn sandbox_stats_count_requests_by_method_route_template_and_status() {
    let sandbox = TestSandbox::start().await;
    sandbox
        .post(&format!("/api/service/groups/{DATA_STEWARDS}/members/remove"), &json!({"users": [JDOE]}))
        .await;
    sandbox
        .post(&format!("/api/service/groups/{UNKNOWN_GUID}/members/remove"), &json!({"users": [JDOE]}))
        .await;
    sandbox.get("/api/service/users").await;

    let (status, body) = sandbox.get("/_sandbox/stats").await;
    assert_eq!(status, StatusCode::OK);
    let over_http: Stats = serde_json::from_value(body).expect("stats in their documented shape");
    assert_eq!(over_http, sandbox.stats());
    assert_eq!(over_http.requests, 3);
    assert_eq!(over_http.calls("POST /api/service/groups/{guid}/members/remove"), 2);
    assert_eq!(over_http.calls("GET /api/service/users"), 1);
    assert_eq!(over_http.by_method, BTreeMap::from([("GET".into(), 1), ("POST".into(), 2)]));
    assert_eq!(over_http.by_status, BTreeMap::from([("200".into(), 2), ("404".into(), 1)]));
    assert_eq!((over_http.rate_limited, over_http.rate_limit_violations), (0, 0));
    assert!(over_http.faults.is_empty());
}

#[tokio::test]
async fn sandbox_state_shows_the_tenant_in_the_seed_shape() {
    let sandbox = TestSandbox::start().await;
    sandbox.post(&format!("/api/service/users/{LCHEN}/groups"), &json!({"groups": [MARKETING]})).await;
    let (status, body) = sandbox.get("/_sandbox/state").await;
    assert_eq!(status, StatusCode::OK);
    let roles: Vec<&str> =
        body["roles"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(roles, ["$admin", "$member", "$guest"]);
    let state: Seed = serde_json::from_value(body).expect("the state is a seed");
    assert_eq!(state, sandbox.state());
    assert_eq!(state.users.len(), sample::USERS);
    let marketing = state.groups.iter().find(|g| g.id == MARKETING).unwrap();
    let members: BTreeSet<&str> = marketing.members.iter().map(String::as_str).collect();
    assert_eq!(members, BTreeSet::from([MGARCIA, LCHEN]));
    let mut expected = outline(&sample_seed());
    expected.groups.get_mut(MARKETING).unwrap().insert(LCHEN.into());
    assert_eq!(outline(&state), expected);
}

#[tokio::test]
async fn sandbox_reset_brings_back_the_seed_and_clears_the_stats() {
    let sandbox = TestSandbox::start().await;
    let initial = outline(&sandbox.state());
    sandbox.post(&format!("/api/service/groups/{FINANCE}/delete"), &Value::Null).await;
    sandbox.post(&format!("/api/service/users/{JDOE}/roles/update"), &json!({"roleId": ADMIN_ROLE})).await;
    sandbox
        .post(
            "/api/service/users",
            &json!({"users": [{"email": "x@example.com", "roleName": "$guest", "roleId": GUEST_ROLE}]}),
        )
        .await;
    assert_ne!(outline(&sandbox.state()), initial);

    let response = sandbox.send(sandbox.unauthenticated(Method::POST, "/_sandbox/reset")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(outline(&sandbox.state()), initial);
    assert_eq!(sandbox.stats(), Stats::default());
    // And the API sees the seed again.
    assert_eq!(group_names_of(&sandbox, JDOE).await, ["data_stewards", "finance_analysts"]);
    assert_eq!(sandbox.stats().requests, 1);
}
