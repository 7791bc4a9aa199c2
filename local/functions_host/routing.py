"""ASP.NET Core route templates, as the Functions host matches HTTP trigger routes.

Pure logic: parse a template such as `items/{id:int?}` or `files/{*path}` once, then match
request paths against it. Matching ignores case; route values are returned as strings.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime


class RouteTemplateError(ValueError):
    """The template cannot be parsed or names an unknown constraint."""


@dataclass(frozen=True)
class RouteParameter:
    name: str
    constraints: tuple[str, ...] = ()
    optional: bool = False
    default: str | None = None
    catch_all: bool = False


Part = str | RouteParameter  # a segment is a list of literal text and parameters


@dataclass(frozen=True)
class RouteTemplate:
    text: str
    parameters: tuple[RouteParameter, ...]
    precedence: tuple[int, ...]
    _pattern: re.Pattern

    def match(self, path: str) -> dict[str, str] | None:
        """Route values for `path` (no leading slash needed), or None when it does not match."""
        found = self._pattern.match(path.strip("/"))
        if found is None:
            return None
        values: dict[str, str] = {}
        for index, parameter in enumerate(self.parameters):
            value = found.group(f"p{index}")
            if value is None or (value == "" and parameter.catch_all):
                if parameter.default is not None:
                    values[parameter.name] = parameter.default
                continue
            if not all(constraint_accepts(c, value) for c in parameter.constraints):
                return None
            values[parameter.name] = value
        return values


def parse_route_template(text: str) -> RouteTemplate:
    segments = [_parse_segment(raw) for raw in _split_segments(text.strip("/"))] if text.strip("/") else []
    parameters = tuple(p for segment in segments for p in segment if isinstance(p, RouteParameter))
    names = [p.name.lower() for p in parameters]
    if len(set(names)) != len(names):
        raise RouteTemplateError(f"route '{text}' uses a parameter name twice")
    for parameter in parameters:
        for constraint in parameter.constraints:
            _check_constraint_known(constraint, text)
    pattern = re.compile("^" + _segments_regex(segments, text) + "$", re.IGNORECASE | re.DOTALL)
    return RouteTemplate(text, parameters, tuple(_segment_precedence(s) for s in segments), pattern)


def _split_segments(text: str) -> list[str]:
    """Split on '/' outside braces (a regex constraint may contain '/')."""
    segments, current, depth = [], [], 0
    for char in text:
        if char == "/" and depth == 0:
            segments.append("".join(current))
            current = []
            continue
        depth += (char == "{") - (char == "}") if depth or char == "{" else 0
        current.append(char)
    segments.append("".join(current))
    if any(s == "" for s in segments):
        raise RouteTemplateError(f"route '{text}' has an empty segment")
    return segments


def _parse_segment(raw: str) -> list[Part]:
    parts: list[Part] = []
    index = 0
    while index < len(raw):
        if raw.startswith("{{", index) or raw.startswith("}}", index):
            parts.append(raw[index])  # escaped brace
            index += 2
        elif raw[index] == "{":
            end = _closing_brace(raw, index)
            parts.append(_parse_parameter(raw[index + 1:end].replace("{{", "{").replace("}}", "}")))
            index = end + 1
        elif raw[index] == "}":
            raise RouteTemplateError(f"unbalanced '}}' in route segment '{raw}'")
        else:
            parts.append(raw[index])
            index += 1
    return _merge_literals(parts)


def _closing_brace(raw: str, start: int) -> int:
    index = start + 1
    while index < len(raw):
        if raw.startswith("}}", index) or raw.startswith("{{", index):
            index += 2
        elif raw[index] == "}":
            return index
        else:
            index += 1
    raise RouteTemplateError(f"unclosed '{{' in route segment '{raw}'")


def _merge_literals(parts: list[Part]) -> list[Part]:
    merged: list[Part] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return merged


_PARAMETER = re.compile(r"^(?P<star>\*{0,2})(?P<name>[^:=?*]+)(?P<rest>.*)$", re.DOTALL)


def _parse_parameter(body: str) -> RouteParameter:
    match = _PARAMETER.match(body)
    if match is None:
        raise RouteTemplateError(f"invalid route parameter '{{{body}}}'")
    rest, optional, default = match.group("rest"), False, None
    if rest.endswith("?"):
        optional, rest = True, rest[:-1]
    constraints, rest = _take_constraints(rest)
    if rest.startswith("="):
        default = rest[1:]
    elif rest:
        raise RouteTemplateError(f"invalid route parameter '{{{body}}}'")
    return RouteParameter(match.group("name"), tuple(constraints), optional, default, bool(match.group("star")))


def _take_constraints(rest: str) -> tuple[list[str], str]:
    """Read `:name` or `:name(argument)`; an argument ends at the ')' followed by ':', '=' or the end."""
    constraints = []
    while rest.startswith(":"):
        found = re.match(r":([A-Za-z]+)", rest)
        if found is None:
            raise RouteTemplateError(f"invalid constraint in '{rest}'")
        end = found.end()
        if rest[end:end + 1] == "(":
            close = next((i for i in range(end + 1, len(rest))
                          if rest[i] == ")" and rest[i + 1:i + 2] in ("", ":", "=")), None)
            if close is None:
                raise RouteTemplateError(f"unclosed '(' in constraint '{rest}'")
            end = close + 1
        constraints.append(rest[1:end])
        rest = rest[end:]
    return constraints, rest


# --- regex construction -------------------------------------------------------------------

def _segments_regex(segments: list[list[Part]], text: str) -> str:
    counter = iter(range(1000))
    pieces = []
    for position, segment in enumerate(segments):
        slash = "/" if position else ""
        lone = segment[0] if len(segment) == 1 and isinstance(segment[0], RouteParameter) else None
        if lone is not None and lone.catch_all:
            if position != len(segments) - 1:
                raise RouteTemplateError(f"route '{text}': a catch-all parameter must be last")
            pieces.append(f"(?:{slash}(?P<p{next(counter)}>.*))?")
        elif lone is not None and (lone.optional or lone.default is not None):
            pieces.append(f"(?:{slash}(?P<p{next(counter)}>[^/]+))?")
        else:
            pieces.append(slash + _complex_segment_regex(segment, counter, text))
    return "".join(pieces)


def _complex_segment_regex(segment: list[Part], counter, text: str) -> str:
    """Parameters in `{name}.{ext}` match as ASP.NET does (right to left: ext gets the last part)."""
    regex = ""
    for index, part in enumerate(segment):
        if isinstance(part, str):
            regex += re.escape(part)
            continue
        if part.catch_all:
            raise RouteTemplateError(f"route '{text}': a catch-all parameter must be a whole segment")
        previous = segment[index - 1] if index > 0 else None
        last = index == len(segment) - 1
        body = f"(?:(?!{re.escape(previous)})[^/])+" if isinstance(previous, str) else "[^/]+" if last else "[^/]+?"
        group = f"(?P<p{next(counter)}>{body})"
        if part.optional and last and isinstance(previous, str):
            # the literal before a trailing optional parameter is optional with it
            regex = regex[: len(regex) - len(re.escape(previous))] + f"(?:{re.escape(previous)}{group})?"
        else:
            regex += group
    return regex


def _segment_precedence(segment: list[Part]) -> int:
    """ASP.NET inbound precedence digit: lower wins (literal, complex, constrained, plain, catch-all)."""
    if len(segment) > 1:
        return 2
    part = segment[0]
    if isinstance(part, str):
        return 1
    if part.catch_all:
        return 5
    return 3 if part.constraints else 4


# --- constraints ---------------------------------------------------------------------------

_INT_RANGES = {"int": 2**31, "long": 2**63}
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")


def constraint_accepts(constraint: str, value: str) -> bool:
    name, argument = _split_constraint(constraint)
    check = _CONSTRAINTS[name.lower()]
    return check(value, argument)


def _split_constraint(constraint: str) -> tuple[str, str | None]:
    if "(" in constraint and constraint.endswith(")"):
        name, argument = constraint.split("(", 1)
        return name, argument[:-1]
    return constraint, None


def _check_constraint_known(constraint: str, text: str) -> None:
    name, argument = _split_constraint(constraint)
    if name.lower() not in _CONSTRAINTS:
        raise RouteTemplateError(f"route '{text}': unknown constraint '{name}'")
    if name.lower() == "regex":
        try:
            re.compile(argument or "")
        except re.error as error:
            raise RouteTemplateError(f"route '{text}': bad regex constraint: {error}") from error


def _integer(value: str, bits_name: str) -> bool:
    limit = _INT_RANGES[bits_name]
    return bool(_INTEGER.match(value)) and -limit <= int(value) < limit


def _guid(value: str) -> bool:
    text = value.strip()
    if text[:1] + text[-1:] in ("{}", "()"):
        text = text[1:-1]
    if not re.fullmatch(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}", text):
        return False
    return bool(uuid.UUID(text))


def _datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
        return True
    except ValueError:
        return False


def _bounds(argument: str | None) -> list[int]:
    return [int(part) for part in (argument or "").split(",")]


_CONSTRAINTS = {
    "int": lambda v, a: _integer(v, "int"),
    "long": lambda v, a: _integer(v, "long"),
    "bool": lambda v, a: v.lower() in ("true", "false"),
    "guid": lambda v, a: _guid(v),
    "alpha": lambda v, a: re.fullmatch(r"[A-Za-z]+", v) is not None,
    "double": lambda v, a: bool(_NUMBER.match(v)),
    "float": lambda v, a: bool(_NUMBER.match(v)),
    "decimal": lambda v, a: bool(_NUMBER.match(v)),
    "datetime": lambda v, a: _datetime(v),
    "required": lambda v, a: v != "",
    "minlength": lambda v, a: len(v) >= _bounds(a)[0],
    "maxlength": lambda v, a: len(v) <= _bounds(a)[0],
    "length": lambda v, a: (len(v) == _bounds(a)[0]) if len(_bounds(a)) == 1
    else _bounds(a)[0] <= len(v) <= _bounds(a)[1],
    "min": lambda v, a: _integer(v, "long") and int(v) >= _bounds(a)[0],
    "max": lambda v, a: _integer(v, "long") and int(v) <= _bounds(a)[0],
    "range": lambda v, a: _integer(v, "long") and _bounds(a)[0] <= int(v) <= _bounds(a)[1],
    # ASP.NET's regex constraint is case-insensitive and not anchored: use ^...$ to anchor.
    "regex": lambda v, a: re.search(a or "", v, re.IGNORECASE) is not None,
}


# --- route table ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Route:
    template: RouteTemplate
    methods: frozenset[str] | None  # None: every method
    target: object


def order_routes(routes: list[Route]) -> list[Route]:
    """Most specific first, as ASP.NET orders endpoints by route precedence."""
    return sorted(routes, key=lambda route: route.template.precedence)


def find_route(routes: list[Route], path: str, method: str) -> tuple[Route, dict[str, str]] | None:
    """The first route matching path and method; a path match with the wrong method is no match."""
    for route in routes:
        if route.methods is not None and method.upper() not in route.methods:
            continue
        values = route.template.match(path)
        if values is not None:
            return route, values
    return None
