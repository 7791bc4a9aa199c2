"""The template against the code: settings, storage names and role assignments.

Everything on the code side is derived from the code (tests/infra/app_surface.py), so a new
setting, queue, table, container, binding or SDK call fails here until the template catches up.
"""
from __future__ import annotations

import pytest
from pydantic import TypeAdapter
from pydantic_core import PydanticUndefined

from tests.infra import app_surface as app
from tests.infra import permissions as perms
from tests.infra.bicep import INFRA, Template, accessor_path

# Settings the code reads that the template deliberately leaves unset: local alternatives to
# what the template uses. Secrets never go into app settings, nor does anything that would let
# a caller's credentials be checked against something other than the real service.
LOCAL_ONLY_SETTINGS = {
    "AzureWebJobsStorage": "a storage connection string (Azurite); Azure uses AzureWebJobsStorage__* with the identity",
    "IOTHUB_CONNECTION_STRING": "a hub connection string (the simulator); Azure uses IOTHUB_HOST_NAME with the identity",
    "ENTRA_JWKS_URL": "the local identity provider's keys (tests); Azure reads the tenant's published keys",
}

# Settings whose default in Azure comes from a setting the platform sets, not from the code's
# literal default: the template sets them to the value the platform gives.
PLATFORM_DEFAULTS = {
    "APP_NAME": "WEBSITE_SITE_NAME",  # the Function App's name
}

# Settings the template sets that the Functions host (not the app's code) reads.
HOST_SETTINGS = {
    "AzureWebJobsStorage__credential": "the host reaches its storage with a managed identity",
    "AzureWebJobsStorage__clientId": "... the user-assigned one",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "where the host and worker send telemetry",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "telemetry authenticated with the identity (local auth is off)",
}

STORAGE_SERVICES = {"queueTrigger": "queue", "queue": "queue", "blobTrigger": "blob", "blob": "blob", "table": "table"}

# Containers the template creates for the platform rather than for the app's code.
PLATFORM_CONTAINERS = {"app-package": "Flex Consumption deployment package"}


def settings_app_reads() -> set[str]:
    return set(app.settings_fields()) | app.schedule_settings()


def connection_settings() -> set[str]:
    """Identity-based settings for every storage connection the host opens for the app."""
    required = set()
    for connection in app.binding_connections() | {app.DEFAULT_STORAGE_CONNECTION}:
        required |= {f"{connection}__credential", f"{connection}__clientId"}
        services = {STORAGE_SERVICES[binding.type] for binding in app.bindings()
                    if binding.type in STORAGE_SERVICES and (getattr(binding, "connection", None) or "AzureWebJobsStorage") == connection}
        required |= {f"{connection}__{service}ServiceUri" for service in services | {"blob"}}
    return required


# ------------------------------------------------------------------ settings

def test_every_setting_the_app_reads_is_set(template: Template):
    expected = (settings_app_reads() - set(LOCAL_ONLY_SETTINGS)) | connection_settings()
    missing = expected - set(template.app_settings())
    assert not missing, f"app settings the code reads but infra/main.bicep does not set: {sorted(missing)}"


def test_local_only_settings_exist_in_code_and_stay_out_of_azure(template: Template):
    assert set(LOCAL_ONLY_SETTINGS) <= settings_app_reads(), "LOCAL_ONLY_SETTINGS names a setting the code no longer reads"
    leaked = set(LOCAL_ONLY_SETTINGS) & set(template.app_settings())
    assert not leaked, f"connection strings must not be deployed: {sorted(leaked)}"


def test_settings_with_defaults_are_set_to_the_code_default(template: Template):
    settings = template.app_settings()
    file, _ = template.function_app()
    for name, field in app.settings_fields().items():
        if field.default is None or field.default is PydanticUndefined or name in LOCAL_ONLY_SETTINGS:
            continue
        if name in PLATFORM_DEFAULTS:
            continue  # test_platform_defaults_are_set_to_the_platform_value
        try:
            value = file.resolve_literal(settings[name])
        except LookupError as error:
            pytest.fail(f"{name}: set it to a literal or a parameter whose default is the code's ({error})")
        parsed = TypeAdapter(field.annotation).validate_python(str(value))
        assert parsed == field.default, f"{name}: template default {value!r}, code default {field.default!r}"


def test_platform_defaults_are_set_to_the_platform_value(template: Template):
    from shared.settings import Settings

    fields = app.settings_fields()
    file, symbol = template.function_app()
    site_name = file.resource_body(symbol)["name"]
    for name, platform_setting in PLATFORM_DEFAULTS.items():
        assert name in fields, f"PLATFORM_DEFAULTS names {name}, which the code no longer reads"
        field_name = next(key for key, field in Settings.model_fields.items() if field.alias == name)
        assert getattr(Settings.from_environ({platform_setting: "site-x"}), field_name) == "site-x", (
            f"{name} no longer defaults to {platform_setting}: set it to the code's default instead")
        assert platform_setting == "WEBSITE_SITE_NAME", f"{platform_setting}: teach this test its value"
        assert template.app_settings()[name] == site_name, f"{name} must be the Function App's name ({site_name})"


def test_template_sets_no_setting_nobody_reads(template: Template):
    known = settings_app_reads() | connection_settings() | set(HOST_SETTINGS)
    unknown = set(template.app_settings()) - known
    assert not unknown, f"app settings neither the code nor the host reads (typo?): {sorted(unknown)}"


def test_readme_documents_every_setting_and_parameter(template: Template):
    readme = (INFRA / "README.md").read_text()
    for name in set(template.app_settings()) | set(LOCAL_ONLY_SETTINGS):
        assert f"`{name}`" in readme, f"infra/README.md does not mention setting `{name}`"
    for name in template.main.params:
        assert f"`{name}`" in readme, f"infra/README.md does not mention parameter `{name}`"


def test_one_identity_everywhere(template: Template):
    file, symbol = template.function_app()
    settings = template.app_settings()
    identity = accessor_path(settings["AZURE_CLIENT_ID"])
    assert identity and identity[1:] == ["properties", "clientId"], "AZURE_CLIENT_ID must be the identity's clientId"
    name = identity[0]
    assert file.resources[name]["type"] == "Microsoft.ManagedIdentity/userAssignedIdentities"
    assert accessor_path(settings["AzureWebJobsStorage__clientId"]) == [name, "properties", "clientId"]
    assert file.resolve_literal(settings["AzureWebJobsStorage__credential"]) == "managedidentity"
    site = file.resource_body(symbol)
    assert site["identity"]["type"] == "UserAssigned"
    assert list(site["identity"]["userAssignedIdentities"]) == [f"'${{{name}.id}}'"]
    authentication = site["properties"]["functionAppConfig"]["deployment"]["storage"]["authentication"]
    assert accessor_path(authentication["userAssignedIdentityResourceId"]) == [name, "id"]
    for assignment in template.role_assignments():
        assert assignment.principal == [name, "properties", "principalId"], (
            f"{assignment.file}:{assignment.symbol} must be granted to the app's identity")
        assert assignment.principal_file == file.path.name


# ------------------------------------------------------------------ storage names

def test_every_queue_the_app_uses_is_created(template: Template):
    created = template.created_names("Microsoft.Storage/storageAccounts/queueServices/queues")
    used = app.queues_used()
    assert used <= created, f"queues the app uses but the template does not create: {sorted(used - created)}"
    from shared.storage_names import QUEUES
    allowed_extra = {f"{queue}-poison" for queue in QUEUES}
    assert created - used <= allowed_extra, f"queues nobody uses: {sorted(created - used - allowed_extra)}"


def test_every_table_the_app_uses_is_created(template: Template):
    created = template.created_names("Microsoft.Storage/storageAccounts/tableServices/tables")
    assert created == app.tables_used(), f"template {sorted(created)} vs code {sorted(app.tables_used())}"


def test_every_container_the_app_uses_is_created(template: Template):
    created = template.created_names("Microsoft.Storage/storageAccounts/blobServices/containers")
    assert created - set(PLATFORM_CONTAINERS) == app.containers_used()
    file, symbol = template.function_app()
    deployment = file.resource_body(symbol)["properties"]["functionAppConfig"]["deployment"]["storage"]["value"]
    for container in PLATFORM_CONTAINERS:
        assert container in created
        assert any(file.variables.get(name, {}).get("value") == container for name in file.variables
                   if "${" + name + "}" in deployment), "the deployment container must be the one created"


# ------------------------------------------------------------------ roles

def requirements(template: Template) -> list[tuple[str, str]]:
    """(permission, why) for everything done with the app's identity."""
    needed = [(permission, "host storage (keys, leases, deployment package)") for permission in perms.HOST_STORAGE]
    for binding in app.bindings():
        assert binding.type in perms.BINDINGS, (
            f"binding type {binding.type!r} is unknown: add what the host does for it to tests/infra/permissions.py BINDINGS")
        needed += [(permission, f"{binding.type} binding {binding.name}") for permission in perms.BINDINGS[binding.type]]
    from shared import storage_names
    needed += [(p, f"queue {q} (shared/storage_names.py)") for q in storage_names.QUEUES for p in perms.DECLARED_QUEUE]
    needed += [(p, f"table {t} (shared/storage_names.py)") for t in storage_names.TABLES for p in perms.DECLARED_TABLE]
    needed += [(p, f"container {c} (shared/storage_names.py)") for c in storage_names.BLOB_CONTAINERS
               for p in perms.DECLARED_CONTAINER]
    for use in app.app_sdk_uses(perms.sdk_method_names()):
        needed += [(permission, f"{use.path}:{use.line} .{use.method}()") for permission in perms.SDK_METHODS.get(use.method, ())]
    if "APPLICATIONINSIGHTS_AUTHENTICATION_STRING" in template.app_settings():
        needed.append((perms.TELEMETRY, "Application Insights with Entra authentication"))
    return needed


def _grants(assignment, permission: str) -> bool:
    scope = perms.PROVIDER_SCOPES[perms.provider_of(permission)]
    return assignment.scope_type.lower().startswith(scope.lower()) and perms.granted(assignment.role_id, permission)


def test_every_sdk_call_in_the_app_is_known():
    unknown = [f"{use.path}:{use.line} .{use.method}()" for use in app.app_sdk_uses(perms.sdk_method_names())
               if use.method not in perms.SDK_METHODS]
    assert not unknown, ("Azure SDK calls with no known permission; add them to SDK_METHODS in "
                         "tests/infra/permissions.py (and a role to infra/ if needed):\n" + "\n".join(unknown))


def test_role_assignments_cover_every_operation(template: Template):
    assignments = template.role_assignments()
    uncovered = sorted({f"{permission}  <- {why}" for permission, why in requirements(template)
                        if not any(_grants(assignment, permission) for assignment in assignments)})
    assert not uncovered, "no role assignment permits:\n" + "\n".join(uncovered)


def test_every_role_assignment_is_a_known_role_that_something_needs(template: Template):
    needed = requirements(template)
    for assignment in template.role_assignments():
        assert assignment.role_id in perms.BUILT_IN_ROLES, f"{assignment.symbol}: unknown role {assignment.role_id}"
        used = [why for permission, why in needed if _grants(assignment, permission)]
        assert used, (f"{assignment.symbol} ({perms.BUILT_IN_ROLES[assignment.role_id]['name']}) permits nothing "
                      "the app or the host does: least privilege says drop it")


def test_iot_hub_role_is_assigned_on_the_hub(template: Template):
    on_hub = [a for a in template.role_assignments() if a.scope_type == "Microsoft.Devices/IotHubs"]
    assert [perms.BUILT_IN_ROLES[a.role_id]["name"] for a in on_hub] == ["IoT Hub Data Contributor"]
