"""The Bicep templates under infra/, parsed with pycep-parser, and the few questions the tests ask them.

pycep returns JSON-like dicts. It writes identifiers and string literals the same way (`name: t`
and `name: 't'` both become "t"), so a bare string is read as a symbol when the file declares
one by that name and as a literal otherwise; the template avoids literals that collide with
its own symbol names.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pycep import BicepParser

INFRA = Path(__file__).resolve().parents[2] / "infra"
MAIN = INFRA / "main.bicep"

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SKIP_COMMENT = re.compile(r"checkov:skip=([A-Za-z_\d-]+)(:[^\n]*)?")


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


def parse(path: Path) -> dict:
    return BicepParser().parse(file_path=path)


def accessor_path(expr: Any) -> list[str] | None:
    """`a.b.c` as ["a", "b", "c"]; None for anything else."""
    if isinstance(expr, str):
        return [expr]
    if isinstance(expr, dict) and expr.get("operator", {}).get("type") == "property_accessor":
        operands = expr["operator"]["operands"]
        rest = accessor_path(operands["operand_2"])
        if isinstance(operands["operand_1"], str) and rest:
            return [operands["operand_1"], *rest]
    return None


@dataclass
class BicepFile:
    path: Path
    doc: dict
    params: dict = field(init=False)
    variables: dict = field(init=False)
    resources: dict = field(init=False)
    modules: dict = field(init=False)
    outputs: dict = field(init=False)

    def __post_init__(self) -> None:
        self.params = self.doc.get("parameters") or {}
        self.variables = self.doc.get("variables") or {}
        self.resources = self.doc.get("resources") or {}
        self.modules = self.doc.get("modules") or {}
        self.outputs = self.doc.get("outputs") or {}

    @property
    def symbols(self) -> set[str]:
        return set(self.params) | set(self.variables) | set(self.resources) | set(self.modules)

    def resource_body(self, symbol: str) -> dict:
        """The resource's properties, through a `[for ...]` loop or an `if` condition."""
        config = self.resources[symbol]["config"]
        return config["config"] if "loop_type" in config or "condition" in config else config

    def module_body(self, symbol: str) -> dict:
        config = self.modules[symbol]["config"]
        return config["config"] if "loop_type" in config or "condition" in config else config

    def module_file(self, symbol: str) -> Path:
        return (self.path.parent / self.modules[symbol]["detail"]["path"]).resolve()

    def resolve_literal(self, expr: Any) -> Any:
        """A literal value behind `expr`: itself, a variable's value or a parameter's default.

        Raises LookupError when the value is only known at deployment time.
        """
        if isinstance(expr, str) and "${" in expr:
            raise LookupError(f"interpolated string {expr!r}")
        if isinstance(expr, str) and expr in self.variables:
            return self.resolve_literal(self.variables[expr]["value"])
        if isinstance(expr, str) and expr in self.params:
            if "default" not in self.params[expr]:
                raise LookupError(f"parameter {expr!r} has no default")
            return self.resolve_literal(self.params[expr]["default"])
        if isinstance(expr, dict) and "function" in expr:
            function = expr["function"]
            if function["type"] == "string":
                return str(self.resolve_literal(next(iter(function["parameters"].values()))))
            raise LookupError(f"function {function['type']}")
        if isinstance(expr, dict) and "operator" in expr:
            raise LookupError(f"expression {expr['operator']['type']}")
        if isinstance(expr, list):
            return [self.resolve_literal(item) for item in expr]
        return expr

    def resource_names(self, symbol: str) -> list[str]:
        """The names a resource declaration creates: one, or one per item of a `[for x in list]` loop."""
        config = self.resources[symbol]["config"]
        name = self.resource_body(symbol)["name"]
        loop = config.get("loop_type") if isinstance(config, dict) else None
        if loop:
            detail = loop["detail"]
            items = self.resolve_literal(detail["array_name"])
            if name == detail["item_name"]:
                return [str(item) for item in items]
            raise LookupError(f"{symbol}: loop names must be the loop item itself")
        return [str(self.resolve_literal(name))]

    def skip_comments(self) -> list[tuple[int, str, str]]:
        """(line, check id, reason) of every `checkov:skip=` comment."""
        found = []
        for number, line in enumerate(self.path.read_text().splitlines(), start=1):
            match = SKIP_COMMENT.search(line)
            if match:
                found.append((number, match.group(1), (match.group(2) or "")[1:].strip()))
        return found


class Template:
    """main.bicep and every module it uses."""

    def __init__(self) -> None:
        self.files = {path: BicepFile(path, parse(path)) for path in bicep_files()}
        self.main = self.files[MAIN.resolve()]

    def resources_of_type(self, resource_type: str) -> list[tuple[BicepFile, str]]:
        return [(file, symbol) for file in self.files.values()
                for symbol, resource in file.resources.items()
                if resource["type"].lower() == resource_type.lower()]

    def created_names(self, resource_type: str) -> set[str]:
        return {name for file, symbol in self.resources_of_type(resource_type)
                if not file.resources[symbol]["existing"] for name in file.resource_names(symbol)}

    def function_app(self) -> tuple[BicepFile, str]:
        apps = [(file, symbol) for file, symbol in self.resources_of_type("Microsoft.Web/sites")
                if "functionapp" in str(file.resource_body(symbol).get("kind", ""))]
        assert len(apps) == 1, f"expected one Function App in infra/, found {len(apps)}"
        return apps[0]

    def app_settings(self) -> dict[str, Any]:
        """Setting name -> value expression, from the Function App's siteConfig.appSettings."""
        file, symbol = self.function_app()
        entries = file.resource_body(symbol)["properties"]["siteConfig"]["appSettings"]
        settings = {}
        for entry in entries:
            name = file.resolve_literal(entry["name"])
            assert name not in settings, f"app setting {name} is set twice"
            settings[name] = entry["value"]
        return settings

    def caller_argument(self, module_file: BicepFile, param: str) -> tuple[BicepFile, Any]:
        """What the (single) caller of `module_file` passes for `param`."""
        callers = [(file, symbol) for file in self.files.values() for symbol in file.modules
                   if file.module_file(symbol) == module_file.path.resolve()]
        assert len(callers) == 1, f"{module_file.path.name}: expected one caller, found {len(callers)}"
        file, symbol = callers[0]
        return file, file.module_body(symbol)["params"][param]

    def role_assignments(self) -> list["RoleAssignment"]:
        found = []
        for file, symbol in self.resources_of_type("Microsoft.Authorization/roleAssignments"):
            body = file.resource_body(symbol)
            properties = body["properties"]
            definition = properties["roleDefinitionId"]
            function = definition.get("function", {}) if isinstance(definition, dict) else {}
            assert function.get("type") == "subscription_resource_id", (
                f"{file.path.name}:{symbol}: write roleDefinitionId as subscriptionResourceId(...) of a built-in role id")
            role_id = str(file.resolve_literal(function["parameters"]["resource_name_1"])).lower()
            assert GUID.match(role_id), f"{file.path.name}:{symbol}: {role_id!r} is not a role definition id"
            scope_symbol = body.get("scope")
            assert scope_symbol in file.resources, f"{file.path.name}:{symbol}: scope must be a resource symbol"
            scope_type = file.resources[scope_symbol]["type"]
            principal_file, principal = file, properties["principalId"]
            if isinstance(principal, str) and principal in file.params:
                principal_file, principal = self.caller_argument(file, principal)
            found.append(RoleAssignment(file=file.path.name, symbol=symbol, role_id=role_id,
                                        scope_type=scope_type, principal=accessor_path(principal),
                                        principal_file=principal_file.path.name))
        return found


@dataclass(frozen=True)
class RoleAssignment:
    file: str
    symbol: str
    role_id: str
    scope_type: str
    principal: list[str] | None
    principal_file: str
