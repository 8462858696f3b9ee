"""Adapts UiPath's OpenAPI definition (tests/schemathesis/uipath-identity-openapi.yaml) to the
Identity Server as it really answers, and to the one organization a sandbox serves.

    python spec_override.py SPEC SEED OUT

SEED is the sandbox's organization file (samples/uipath-tenant.json): its partition, users and
built-in groups are constants of the environment under test, as a base URL is.

Every change is listed here with its reason; the published copy is never edited. See
shared/reference/uipath-api-notes.md for the facts cited (§ numbers).
"""

import json
import sys

import yaml

# The operations the sandbox serves (notes §5, §6.1-6.2). The rest of the spec (robot
# accounts, settings, audit, user writes, ...) is not emulated.
SERVED = {
    "Group_GetGroups",
    "Group_BulkDelete",
    "Group_GetGroup",
    "Group_Delete",
    "Group_CreateGroup",
    "Group_UpdateGroup",
    "User_GetUser",
    "User_GetUsers",
}

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def error(description, schema=None):
    response = {"description": description}
    if schema is not None:
        response["content"] = {"application/json": {"schema": schema}}
    return response


# Error responses the spec leaves out but the service sends (notes §3.3, §5, §10, §11). Bodies
# are described as loosely as the notes know them.
PROBLEM = {"type": "object", "required": ["title", "status"], "properties": {
    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
    "traceId": {"type": "string"}, "errors": {"type": "object"}}}
ENVELOPE = {"type": "object", "required": ["StatusCode", "Message"], "properties": {
    "StatusCode": {"type": "integer"}, "StatusDescription": {"type": "string"},
    "Message": {"type": "string"}}}
SCOPE_ERROR = {"type": "object", "required": ["errorMessage"], "properties": {
    "errorMessage": {"type": "string"}}}
BAD_REQUEST = {"oneOf": [PROBLEM, ENVELOPE]}


def main(source, seed_file, target):
    with open(source, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    with open(seed_file, encoding="utf-8") as f:
        seed = json.load(f)
    partition = seed["partitionGlobalId"]
    users = [user["id"] for user in seed["users"]]
    built_in = [group["id"] for group in seed["groups"] if group.get("type", 1) == 0]

    # 1. Only the served operations.
    for path, item in list(spec["paths"].items()):
        for method in [m for m in item if m in METHODS]:
            if item[method].get("operationId") not in SERVED:
                del item[method]
        if not any(m in item for m in METHODS):
            del spec["paths"][path]

    schemas = spec["components"]["schemas"]

    # 2. Integer enums. The spec declares GroupType and UserType as strings, but "the live API
    # returns integers (GroupType 0/1, UserType 0-5)" (notes §0.6, §4.4; UiPath's TypeScript
    # SDK: "The Swagger spec declares string values, but the live API sends codes").
    schemas["GroupType"] = {"type": "integer", "enum": [0, 1],
                            "description": "builtIn = 0, custom = 1 (as sent live)"}
    schemas["UserType"] = {"type": "integer", "enum": [0, 1, 2, 3, 4, 5],
                           "description": "user, robot, directoryUser, directoryGroup, robotAccount, "
                                          "application = 0..5 (as sent live)"}

    # 3. Timestamps. .NET DateTime values are sent without an offset ("2025-08-04T06:05:21.8464663",
    # UTC implied, notes §4.1), which RFC 3339's date-time (the spec's format) does not allow.
    for name in ("GroupDto", "UserDto", "DirectoryUser"):
        for prop in schemas[name].get("properties", {}).values():
            if prop.get("format") == "date-time":
                del prop["format"]
                prop["pattern"] = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z?$"

    # The members of a GroupDto are `oneOf` four subtypes told apart by the `objectType`
    # discriminator, but JSON Schema validation ignores discriminators, and every subtype
    # accepts any DirectoryEntity, so no member (not even the docs' example) matches exactly one.
    # Each subtype pins its discriminator value, as the discriminator means.
    for subtype in ("DirectoryUser", "DirectoryGroup", "DirectoryRobotUser", "DirectoryApplication"):
        schemas[subtype].setdefault("properties", {})["objectType"] = {"type": "string", "enum": [subtype]}

    # 4. One organization. Every partitionGlobalId, in paths and bodies, is the sandbox's: a
    # random GUID would only ever meet the (correct) 400 InvalidPartition (notes §2).
    for item in spec["paths"].values():
        for method in [m for m in item if m in METHODS]:
            for parameter in item[method].get("parameters", []):
                if parameter["name"] == "partitionGlobalId":
                    parameter["schema"] = {"type": "string", "format": "uuid", "enum": [partition]}
    for name in ("CreateGroupCommand", "UpdateGroupCommand"):
        properties = schemas[name]["properties"]
        properties["partitionGlobalId"] = {"type": "string", "format": "uuid", "enum": [partition]}

    # Members are users of the organization ("IDs of the users to be added as members"): a
    # random GUID only meets the (correct) 400 "Cannot resolve users".
    user_id = {"type": "string", "format": "uuid", "enum": users}
    schemas["CreateGroupCommand"]["properties"]["directoryUserMemberIDs"]["items"] = user_id
    schemas["UpdateGroupCommand"]["properties"]["directoryUserIDsToAdd"]["items"] = user_id

    # Built-in groups "cannot be updated or deleted" (notes §4.1, §5.5, §5.6): they are outside
    # the domain of the operations that change a group. (Their 400 is asserted in
    # tests/it/uipath_sandbox.rs.)
    changeable = {"type": "string", "format": "uuid", "not": {"enum": built_in}}
    for path, method in (("/api/Group/{groupId}", "put"), ("/api/Group/{partitionGlobalId}/{groupId}", "delete")):
        for parameter in spec["paths"][path][method]["parameters"]:
            if parameter["name"] == "groupId":
                parameter["schema"] = changeable
    schemas["BulkGroupDeleteCommand"]["properties"]["groupIDs"]["items"] = changeable

    # 5. What the service requires though the spec says nullable: a client-generated id on
    # create and a name on every update (notes §0.2, §5.4, §5.5); the list on a bulk delete
    # (a sandbox choice: a missing list is refused rather than read as "delete nothing").
    schemas["CreateGroupCommand"]["required"] = ["partitionGlobalId", "id", "name"]
    schemas["CreateGroupCommand"]["properties"]["name"] = {"type": "string", "minLength": 1,
                                                           "pattern": r"\S"}
    schemas["UpdateGroupCommand"]["required"] = ["partitionGlobalId", "name"]
    schemas["UpdateGroupCommand"]["properties"]["name"] = {"type": "string", "minLength": 1,
                                                           "pattern": r"\S"}
    schemas["BulkGroupDeleteCommand"]["required"] = ["groupIDs"]
    schemas["BulkGroupDeleteCommand"]["properties"]["groupIDs"]["nullable"] = False
    # ASP.NET's [FromBody] answers 415 to a call without a JSON body, so the body is required.
    for item in spec["paths"].values():
        for method in [m for m in item if m in METHODS]:
            if "requestBody" in item[method]:
                item[method]["requestBody"]["required"] = True

    # 6. Links, so that the stateful phase follows a created group through its life. The spec
    # declares none.
    group_id = {"groupId": "$response.body#/id", "partitionGlobalId": partition}
    spec["paths"]["/api/Group"]["post"]["responses"]["201"]["links"] = {
        "GetGroup": {"operationId": "Group_GetGroup", "parameters": group_id},
        "UpdateGroup": {"operationId": "Group_UpdateGroup", "parameters": {"groupId": "$response.body#/id"}},
        "DeleteGroup": {"operationId": "Group_Delete", "parameters": group_id},
    }
    # And examples from the organization, so the examples phase reads and changes real records.
    custom = [group["id"] for group in seed["groups"] if group.get("type", 1) == 1]
    for path, method, name, values in (
        ("/api/User/{userId}", "get", "userId", users),
        ("/api/Group/{partitionGlobalId}/{groupId}", "get", "groupId", custom),
        ("/api/Group/{groupId}", "put", "groupId", custom),
    ):
        for parameter in spec["paths"][path][method]["parameters"]:
            if parameter["name"] == name:
                parameter["examples"] = {f"{name}{i}": {"value": v} for i, v in enumerate(values)}

    # 7. Error responses (undocumented in the spec, documented in the notes).
    for path, item in spec["paths"].items():
        for method in [m for m in item if m in METHODS]:
            responses = item[method]["responses"]
            responses.setdefault("400", error("Bad Request: a value that does not bind "
                                              "(ProblemDetails), or a business rule", BAD_REQUEST))
            responses.setdefault("401", error("Unauthorized: no, a bad or an expired token"))
            responses.setdefault("403", error("Forbidden: the token lacks the scope", SCOPE_ERROR))
            responses.setdefault("429", error("Too Many Requests: the method's budget is spent"))
            if "{groupId}" in path or "{userId}" in path:
                responses.setdefault("404", error("Not Found: no such group or user", ENVELOPE))
            if method in ("post", "put"):
                responses.setdefault("409", error("Conflict: the group's name or id is taken", ENVELOPE))
            if "requestBody" in item[method]:
                responses.setdefault("415", error("Unsupported Media Type", PROBLEM))

    with open(target, "w", encoding="utf-8") as f:
        yaml.safe_dump(spec, f, sort_keys=False)


if __name__ == "__main__":
    main(*sys.argv[1:4])
