"""Every .bicep file parses, and the template hangs together the way `bicep build` would demand."""
from __future__ import annotations

import json

import pytest

from tests.infra.bicep import INFRA, MAIN, Template, accessor_path, bicep_files, parse


def test_infra_has_main_template_and_modules():
    assert MAIN.is_file(), "infra/main.bicep is the one template to deploy"
    assert len(bicep_files()) >= 2


@pytest.mark.parametrize("path", bicep_files(), ids=lambda path: str(path.relative_to(INFRA)))
def test_bicep_file_parses(path):
    document = parse(path)
    assert document.get("resources") or document.get("modules"), f"{path.name} declares nothing"


def _walk(value):
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def test_module_calls_match_module_parameters_and_outputs(template: Template):
    for file in template.files.values():
        for symbol in file.modules:
            target_path = file.module_file(symbol)
            assert target_path in template.files, f"{file.path.name}: module {symbol} points at missing {target_path}"
            target = template.files[target_path]
            passed = set(file.module_body(symbol).get("params", {}))
            required = {name for name, param in target.params.items() if "default" not in param}
            assert required <= passed, f"{symbol}: parameters not passed: {sorted(required - passed)}"
            assert passed <= set(target.params), f"{symbol}: unknown parameters: {sorted(passed - set(target.params))}"
            for node in _walk(file.doc):
                path = accessor_path(node) if isinstance(node, dict) else None
                if path and path[0] == symbol and len(path) >= 3 and path[1] == "outputs":
                    assert path[2] in target.outputs, f"{file.path.name}: {'.'.join(path)} is not an output"


def test_parent_scope_and_depends_on_name_declared_symbols(template: Template):
    for file in template.files.values():
        for symbol in file.resources:
            body = file.resource_body(symbol)
            for key in ("parent", "scope"):
                if isinstance(body.get(key), str):
                    assert body[key] in file.resources, f"{file.path.name}:{symbol}: {key} {body[key]!r} is undeclared"
            for dependency in body.get("dependsOn", []):
                assert dependency in file.resources or dependency in file.modules, (
                    f"{file.path.name}:{symbol}: dependsOn {dependency!r} is undeclared")
        for symbol in file.modules:
            for dependency in file.module_body(symbol).get("dependsOn", []):
                assert dependency in file.resources or dependency in file.modules


def test_every_parameter_is_described(template: Template):
    for file in template.files.values():
        for name, param in file.params.items():
            kinds = {decorator["type"] for decorator in param.get("decorators", [])}
            assert "description" in kinds, f"{file.path.name}: parameter {name} needs @description"


def test_function_app_is_python_311_on_flex_consumption(template: Template):
    file, symbol = template.function_app()
    site = file.resource_body(symbol)
    plan_symbol = accessor_path(site["properties"]["serverFarmId"])[0]
    plan = file.resource_body(plan_symbol)
    assert plan["sku"]["tier"] == "FlexConsumption"
    assert file.resolve_literal(plan["sku"]["name"]) == "FC1"
    assert plan["properties"]["reserved"] is True, "Linux plan"
    assert "linux" in site["kind"]
    config = site["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    storage = config["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"]["type"] == "UserAssignedIdentity"
    assert site["properties"]["httpsOnly"] is True


def test_storage_account_is_locked_down(template: Template):
    (file, symbol), = template.resources_of_type("Microsoft.Storage/storageAccounts")
    properties = file.resource_body(symbol)["properties"]
    assert properties["minimumTlsVersion"] == "TLS1_2"
    assert properties["allowBlobPublicAccess"] is False
    assert properties["allowSharedKeyAccess"] is False, "identity only: no account keys"
    assert properties["supportsHttpsTrafficOnly"] is True
    for container_file, container in template.resources_of_type("Microsoft.Storage/storageAccounts/blobServices/containers"):
        assert container_file.resource_body(container)["properties"]["publicAccess"] == "None"


def test_iot_hub_sku_and_units_are_parameters(template: Template):
    main = template.main
    assert main.params["iotHubSku"]["default"] == "S1"
    assert main.params["iotHubUnits"]["default"] == 1
    assert main.params["existingIotHubName"]["default"] == ""
    module = main.module_body("iotHub")
    assert module["params"]["sku"] == "iotHubSku" and module["params"]["units"] == "iotHubUnits"
    assert json.dumps(main.modules["iotHub"]["config"]["condition"]).count("existingIotHubName") == 1
