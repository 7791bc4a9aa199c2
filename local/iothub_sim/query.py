"""The IoT Hub query language subset: tokenizer, recursive-descent parser, and compiled evaluator.

`parse_query(text)` returns a `Query`; a malformed query raises `ArgumentInvalid`, and so does one
that nests parentheses more than MAX_NESTING deep (IoT Hub's answer to a query it will not run is
the same 400). Conditions are compiled to closures over a `lookup(path) -> value | UNDEFINED`
function, so the backend decides how a dotted path maps onto its twin objects and nothing is
rendered for rows that do not match. Three-valued logic: comparing a missing value yields
UNDEFINED, and only TRUE rows match.

Recursion stays shallow for any query text: only parentheses recurse (bounded), a chain of AND
or OR is one flat condition, and a run of NOTs is parsed in a loop.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from .errors import ArgumentInvalid

UNDEFINED = object()
KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "NIN", "TOP", "AS", "GROUP", "BY",
            "TRUE", "FALSE", "NULL", "IS_DEFINED", "COUNT"}
SOURCES = ("devices",)
# IoT Hub documents no limit; 64 is far beyond any real filter and far below Python's recursion limit.
MAX_NESTING = 64

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op><>|!=|<=|>=|=|<|>)
  | (?P<punct>[()\[\],.*])
""", re.VERBOSE)

Lookup = Callable[[tuple], object]
Condition = Callable[[Lookup], object]


@dataclass(frozen=True)
class Token:
    kind: str  # number, string, name, keyword, op, punct, end
    value: object
    position: int


def tokenize(text: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _syntax_error(position, f"unexpected character {text[position]!r}")
        kind = match.lastgroup
        if kind != "space":
            tokens.append(_token(kind, match.group(), position))
        position = match.end()
    tokens.append(Token("end", None, position))
    return tokens


def _token(kind: str, raw: str, position: int) -> Token:
    if kind == "number":
        value = float(raw) if any(c in raw for c in ".eE") else int(raw)
        return Token("number", value, position)
    if kind == "string":
        return Token("string", re.sub(r"\\(.)", r"\1", raw[1:-1]), position)
    if kind == "name" and raw.upper() in KEYWORDS:
        return Token("keyword", raw.upper(), position)
    return Token(kind, raw, position)


def _syntax_error(position: int, detail: str) -> ArgumentInvalid:
    return ArgumentInvalid(f"Query syntax error at position {position}: {detail}")


@dataclass(frozen=True)
class SelectItem:
    name: str
    path: tuple | None = None  # None for COUNT()


@dataclass
class Query:
    text: str
    source: str = "devices"
    top: int | None = None
    items: list[SelectItem] = field(default_factory=list)  # empty means SELECT *
    condition: Condition | None = None
    group_by: list[tuple] = field(default_factory=list)

    @property
    def is_star(self) -> bool:
        return not self.items

    @property
    def is_aggregate(self) -> bool:
        return bool(self.group_by) or any(item.path is None for item in self.items)

    def matches(self, lookup: Lookup) -> bool:
        return self.condition is None or self.condition(lookup) is True

    def project(self, lookup: Lookup) -> dict:
        row = {}
        for item in self.items:
            value = lookup(item.path)
            if value is not UNDEFINED:
                row[item.name] = value
        return row

    def aggregate(self, lookups: list[Lookup]) -> list[dict]:
        groups: dict[tuple, list[Lookup]] = {}
        for lookup in lookups:
            key = tuple(_hashable(lookup(path)) for path in self.group_by)
            groups.setdefault(key, []).append(lookup)
        if not self.group_by and not groups:
            groups[()] = []
        return [self._group_row(members) for members in groups.values()]

    def _group_row(self, members: list[Lookup]) -> dict:
        row = {}
        for item in self.items:
            if item.path is None:
                row[item.name] = len(members)
            elif members:
                value = members[0](item.path)
                if value is not UNDEFINED:
                    row[item.name] = value
        return row


def _hashable(value):
    return repr(value) if isinstance(value, (dict, list)) or value is UNDEFINED else value


def parse_query(text: str) -> Query:
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0  # parentheses open around the current position

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.current
        self.index += 1
        return token

    def accept(self, kind: str, value=None) -> Token | None:
        token = self.current
        if token.kind == kind and (value is None or token.value == value):
            self.index += 1
            return token
        return None

    def expect(self, kind: str, value=None) -> Token:
        token = self.accept(kind, value)
        if token is None:
            found = self.current.value if self.current.kind != "end" else "end of query"
            raise _syntax_error(self.current.position, f"expected {value or kind}, found {found!r}")
        return token

    def parse(self) -> Query:
        query = Query(self.text)
        self.expect("keyword", "SELECT")
        if self.accept("keyword", "TOP"):
            query.top = self._top_count()
        query.items = self._select_list()
        self.expect("keyword", "FROM")
        query.source = self._source()
        if self.accept("keyword", "WHERE"):
            query.condition = self._or()
        if self.accept("keyword", "GROUP"):
            self.expect("keyword", "BY")
            query.group_by = self._path_list()
        self.expect("end")
        return query

    def _top_count(self) -> int:
        token = self.expect("number")
        if not isinstance(token.value, int) or token.value < 0:
            raise _syntax_error(token.position, "TOP needs a non-negative integer")
        return token.value

    def _select_list(self) -> list[SelectItem]:
        if self.accept("punct", "*"):
            return []
        items = [self._select_item(1)]
        while self.accept("punct", ","):
            items.append(self._select_item(len(items) + 1))
        return items

    def _select_item(self, ordinal: int) -> SelectItem:
        if self.accept("keyword", "COUNT"):
            self.expect("punct", "(")
            self.expect("punct", ")")
            path, default_name = None, f"${ordinal}"
        else:
            path = self._path()
            default_name = path[-1]
        name = self.expect("name").value if self.accept("keyword", "AS") else default_name
        return SelectItem(name, path)

    def _source(self) -> str:
        position = self.current.position
        source = ".".join(self._path())
        if source not in SOURCES:
            raise _syntax_error(position, f"unsupported collection {source!r} (the simulator queries 'devices')")
        return source

    def _path_list(self) -> list[tuple]:
        paths = [self._path()]
        while self.accept("punct", ","):
            paths.append(self._path())
        return paths

    def _path(self) -> tuple:
        parts = [self.expect("name").value]
        while self.accept("punct", "."):
            parts.append(self.expect("name").value)
        return tuple(parts)

    def _or(self) -> Condition:
        terms = [self._and()]
        while self.accept("keyword", "OR"):
            terms.append(self._and())
        return terms[0] if len(terms) == 1 else _any(terms)

    def _and(self) -> Condition:
        terms = [self._not()]
        while self.accept("keyword", "AND"):
            terms.append(self._not())
        return terms[0] if len(terms) == 1 else _all(terms)

    def _not(self) -> Condition:
        negations = 0
        while self.accept("keyword", "NOT"):
            negations += 1
        condition = self._comparison()
        # Every condition is TRUE, FALSE or UNDEFINED, so NOT NOT is the condition itself.
        return _not(condition) if negations % 2 else condition

    def _comparison(self) -> Condition:
        left = self._operand()
        token = self.current
        if token.kind == "op":
            self.advance()
            return _compare(token.value, left, self._operand())
        if token.kind == "keyword" and token.value in ("IN", "NIN"):
            self.advance()
            return _membership(left, self._literal_list(), negate=token.value == "NIN")
        return _truthy(left)

    def _operand(self) -> Condition:
        token = self.current
        if self.accept("punct", "("):
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise ArgumentInvalid(f"Query is too complex: parentheses nest more than {MAX_NESTING} deep "
                                      f"(position {token.position})")
            inner = self._or()
            self.expect("punct", ")")
            self.depth -= 1
            return inner
        if self.accept("keyword", "IS_DEFINED"):
            self.expect("punct", "(")
            path = self._path()
            self.expect("punct", ")")
            return lambda lookup: lookup(path) is not UNDEFINED
        if token.kind == "name":
            path = self._path()
            return lambda lookup: lookup(path)
        value = self._literal()
        return lambda lookup: value

    def _literal(self):
        token = self.advance()
        if token.kind in ("number", "string"):
            return token.value
        if token.kind == "keyword" and token.value in ("TRUE", "FALSE", "NULL"):
            return {"TRUE": True, "FALSE": False, "NULL": None}[token.value]
        raise _syntax_error(token.position, f"expected a value, found {token.value!r}")

    def _literal_list(self) -> list:
        closing = "]" if self.accept("punct", "[") else ")" if self.accept("punct", "(") else None
        if closing is None:
            raise _syntax_error(self.current.position, "IN and NIN need a list like ['a', 'b']")
        values = [self._literal()]
        while self.accept("punct", ","):
            values.append(self._literal())
        self.expect("punct", closing)
        return values


def _kind(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "null" if value is None else "object"


def _compare(op: str, left: Condition, right: Condition) -> Condition:
    def condition(lookup: Lookup):
        a, b = left(lookup), right(lookup)
        if a is UNDEFINED or b is UNDEFINED:
            return UNDEFINED
        kind_a, kind_b = _kind(a), _kind(b)
        if "object" in (kind_a, kind_b):
            return UNDEFINED
        if op in ("=", "!=", "<>"):
            equal = kind_a == kind_b and a == b
            return equal if op == "=" else not equal
        if kind_a != kind_b or kind_a not in ("number", "string"):
            return UNDEFINED
        return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
    return condition


def _membership(left: Condition, values: list, negate: bool) -> Condition:
    keys = {(_kind(v), v) for v in values}

    def condition(lookup: Lookup):
        value = left(lookup)
        if value is UNDEFINED or _kind(value) == "object":
            return UNDEFINED
        return ((_kind(value), value) in keys) != negate
    return condition


def _truthy(operand: Condition) -> Condition:
    def condition(lookup: Lookup):
        value = operand(lookup)
        return value if isinstance(value, bool) else UNDEFINED
    return condition


def _not(operand: Condition) -> Condition:
    def condition(lookup: Lookup):
        value = operand(lookup)
        return (not value) if isinstance(value, bool) else UNDEFINED
    return condition


def _all(terms: list[Condition]) -> Condition:
    return _decided_by(terms, False)


def _any(terms: list[Condition]) -> Condition:
    return _decided_by(terms, True)


def _decided_by(terms: list[Condition], decisive: bool) -> Condition:
    """Three-valued AND (False decides) or OR (True decides): one decisive term settles it; else
    any term that is neither true nor false leaves the whole undefined."""
    def condition(lookup: Lookup):
        result = not decisive
        for term in terms:
            value = term(lookup)
            if value is decisive:
                return decisive
            if value is not (not decisive):
                result = UNDEFINED
        return result
    return condition
