"""The official Atlan Python SDK (pyatlan, pinned in requirements.txt) against the sandbox.

This is how we know the sandbox is right: every call below is the SDK's own code, unchanged,
talking HTTP to `roster sandbox`. Run by .ci/run through tests/pyatlan/run.sh, which starts
the sandbox on samples/tenant.json and sets ATLAN_BASE_URL and ATLAN_API_KEY.

Each check prints one line; the last line is "N passed, 0 failed" and the exit status is
non-zero if any check failed.
"""

import os
import sys
import traceback

from httpx_retries import Retry
from pyatlan.client.atlan import AtlanClient
from pyatlan.errors import AtlanError, NotFoundError
from pyatlan.model.group import AtlanGroup
from pyatlan.model.user import AtlanUser

# Users and groups of samples/tenant.json.
JSMITH = "9cdc2c2e-6d60-448c-a083-0f4a295499ea"
JDOE = "53954c95-47f8-49b3-9812-23eb40fb07cc"
AKUMAR = "da213751-95de-4f96-8bee-a2c73e2ef8c8"
MGARCIA = "b060a754-4d16-4e13-b5a8-ba42f10aee39"
DATA_STEWARDS = "e79cb8eb-2bb6-4821-914c-f8dfd21fedc7"
FINANCE = "a99f50bc-46bf-4d08-a987-3411ef5cfc33"
MARKETING = "9e24070f-7ddb-4420-b015-bb6be3551407"
SAMPLE_USERS = 6
SAMPLE_GROUPS = 4

# pyatlan rejects http://localhost (no TLD): the sandbox is addressed as 127.0.0.1. proxy=None
# because pyatlan sends everything to HTTP(S)_PROXY even with NO_PROXY set. No retries, so a
# sandbox error shows at once instead of after a minute of backoff.
client = AtlanClient(
    base_url=os.environ["ATLAN_BASE_URL"],
    api_key=os.environ["ATLAN_API_KEY"],
    proxy=None,
    retry=Retry(total=0),
)

checks = []


def check(function):
    checks.append(function)
    return function


@check
def role_cache_resolves_role_names():
    admin = client.role_cache.get_id_for_name("$admin")
    member = client.role_cache.get_id_for_name("$member")
    guest = client.role_cache.get_id_for_name("$guest")
    assert admin == "be5f0df7-dab8-4107-8bf0-56ce7131623a", admin
    assert member == "620172e0-81df-4d30-a8b3-f92a69badd04", member
    assert guest == "0d1c39de-7323-4490-98d9-43240307eea7", guest
    assert client.role_cache.get_id_for_name("$nonexistent") is None
    assert client.role_cache.get_name_for_id(admin) == "$admin"


@check
def group_get_all_pages_to_the_end():
    groups = list(client.group.get_all(limit=2))
    assert len(groups) == SAMPLE_GROUPS, [g.name for g in groups]
    names = [g.name for g in groups]
    assert names == sorted(names), names
    stewards = next(g for g in groups if g.id == DATA_STEWARDS)
    assert stewards.alias == "Data Stewards"
    assert stewards.path == "/data_stewards"
    assert stewards.attributes.alias == ["Data Stewards"]
    assert stewards.attributes.is_default == ["false"]
    assert stewards.user_count == 2
    everyone = next(g for g in groups if g.name == "everyone")
    assert everyone.is_default()


@check
def group_get_by_name_matches_the_alias():
    found = client.group.get_by_name("Finance Analysts").records
    assert len(found) == 1, found
    assert found[0].id == FINANCE
    assert not client.group.get_by_name("No Such Group").records
    assert client.group_cache.get_id_for_alias("Marketing") == MARKETING
    assert client.group_cache.get_id_for_name("marketing") == MARKETING


@check
def group_create_with_members_reports_each_member():
    group = AtlanGroup.create("Human Resources")
    group.attributes.description = ["Users in the human resources team."]
    response = client.group.create(group, user_ids=[JDOE, AKUMAR])
    assert response.group, response
    assert set(response.users) == {JDOE, AKUMAR}, response.users
    assert all(status.was_successful() for status in response.users.values())
    created = client.group.get_by_name("Human Resources").records
    assert created and created[0].name == "human_resources", created
    assert created[0].user_count == 2
    plain = client.group.create(AtlanGroup.create("Empty Team"))
    assert plain.users is None, plain


@check
def group_create_twice_is_refused_like_atlan():
    try:
        client.group.create(AtlanGroup.create("Human Resources"))
    except AtlanError as error:
        text = str(error)
        assert "409 Conflict: Top level group named 'human_resources' already exists." in text, text
        assert error.error_code.http_error_code == 400, error.error_code
    else:
        raise AssertionError("a second group with the same name was created")


@check
def group_update_changes_the_description_and_keeps_the_alias():
    group = AtlanGroup.create_for_modification(guid=DATA_STEWARDS, path="/data_stewards")
    group.attributes = AtlanGroup.Attributes(description=["Now with a description!"])
    client.group.update(group)
    updated = client.group.get_by_name("Data Stewards").records[0]
    assert updated.attributes.description == ["Now with a description!"], updated.attributes
    assert updated.alias == "Data Stewards"


@check
def group_get_members_lists_users():
    members = list(client.group.get_members(FINANCE))
    assert {m.id for m in members} == {JDOE, AKUMAR}, members
    jdoe = next(m for m in members if m.id == JDOE)
    assert jdoe.username == "jdoe" and jdoe.email == "jdoe@example.com"
    assert jdoe.workspace_role == "$member"


@check
def group_remove_users_takes_them_out():
    client.group.remove_users(guid=FINANCE, user_ids=[AKUMAR])
    members = list(client.group.get_members(FINANCE))
    assert [m.id for m in members] == [JDOE], [m.id for m in members]


@check
def group_purge_deletes_it():
    empty = client.group.get_by_name("Empty Team").records[0]
    client.group.purge(empty.id)
    assert not client.group.get_by_name("Empty Team").records
    try:
        client.group.purge(empty.id)
    except NotFoundError:
        pass
    else:
        raise AssertionError("deleting a deleted group should be a 404")


@check
def user_get_all_pages_to_the_end():
    users = list(client.user.get_all(limit=4))
    assert len(users) == SAMPLE_USERS, [u.username for u in users]
    usernames = [u.username for u in users]
    assert usernames == sorted(usernames), usernames


@check
def user_get_by_username_and_email():
    jdoe = client.user.get_by_username("jdoe")
    assert jdoe is not None and jdoe.id == JDOE and jdoe.first_name == "Jo"
    assert client.user.get_by_username("nobody") is None
    found = client.user.get_by_email("mgarcia@example.com").records
    assert found and [u.id for u in found] == [MGARCIA], found
    several = client.user.get_by_emails(["jdoe@example.com", "jsmith@example.com"])
    assert {u.id for u in several} == {JDOE, JSMITH}, several
    by_usernames = client.user.get_by_usernames(["akumar", "lchen"])
    assert {u.username for u in by_usernames} == {"akumar", "lchen"}, by_usernames
    assert client.user_cache.get_id_for_name("jsmith") == JSMITH
    assert client.user_cache.get_id_for_email("akumar@example.com") == AKUMAR
    assert client.user_cache.get_name_for_id(MGARCIA) == "mgarcia"


@check
def user_add_to_groups_and_get_groups():
    client.user.add_to_groups(MGARCIA, [DATA_STEWARDS, FINANCE])
    groups = list(client.user.get_groups(MGARCIA))
    assert {g.id for g in groups} == {DATA_STEWARDS, FINANCE, MARKETING}, groups
    assert next(g for g in groups if g.id == FINANCE).alias == "Finance Analysts"


@check
def user_change_role():
    guest = client.role_cache.get_id_for_name("$guest")
    client.user.change_role(JDOE, guest)
    assert client.user.get_by_username("jdoe").workspace_role == "$guest"
    member = client.role_cache.get_id_for_name("$member")
    client.user.change_role(JDOE, member)
    assert client.user.get_by_username("jdoe").workspace_role == "$member"


@check
def user_create_invites_into_default_groups():
    invited = client.user.create(
        [AtlanUser.create("new.hire@example.com", "$member"), AtlanUser.create("contractor@example.com", "$guest")],
        return_info=True,
    )
    assert invited is not None
    emails = {u.email for u in invited}
    assert emails == {"new.hire@example.com", "contractor@example.com"}, emails
    hire = client.user.get_by_email("new.hire@example.com").records[0]
    assert hire.workspace_role == "$member"
    assert [g.name for g in client.user.get_groups(hire.id)] == ["everyone"]
    try:
        client.user.create([AtlanUser.create("new.hire@example.com", "$member")])
    except AtlanError as error:
        assert "User exists with the same email" in str(error), error
    else:
        raise AssertionError("inviting an existing email should fail")


@check
def user_update_and_current_user():
    updated = client.user.update(JSMITH, AtlanUser(id=JSMITH, first_name="Janet"))
    assert updated.first_name == "Janet", updated
    assert client.user.get_by_username("jsmith").first_name == "Janet"
    assert client.user.get_current().username.startswith("service-account-")
    assert client.role_cache.is_api_token_user()


@check
def a_wrong_token_is_refused():
    stranger = AtlanClient(
        base_url=os.environ["ATLAN_BASE_URL"], api_key="wrong-key", proxy=None, retry=Retry(total=0)
    )
    try:
        stranger.user.get_by_username("jdoe")
    except AtlanError as error:
        assert error.error_code.http_error_code == 401, error.error_code
    else:
        raise AssertionError("a wrong token should be refused")


def main():
    passed = failed = 0
    for function in checks:
        try:
            function()
        except Exception:  # noqa: BLE001 - report every failure, then fail the run
            failed += 1
            print(f"FAIL {function.__name__}")
            traceback.print_exc()
        else:
            passed += 1
            print(f"ok   {function.__name__}")
    print(f"pyatlan: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
