"""An IoT Hub device twin query's WHERE condition, evaluated over one twin without asking IoT Hub.

`compile_filter` answers None for any query it cannot evaluate exactly as IoT Hub does; the caller
then pages through IoT Hub's own query instead. It never guesses.

Semantics, from IoT Hub's query language reference (iot-hub-devguide-query-language, "Expressions
and conditions") and the DocumentDB / Cosmos DB SQL it is modelled on:
- A twin is included only if its condition evaluates to Boolean true; anything else (false, null,
  undefined) counts as false (IoT Hub reference; message routing docs: "If the expression
  evaluates to null or undefined, it's treated as false").
- Three-valued logic: a comparison with a missing value, or between different JSON types, or with
  an object or array, is undefined (Cosmos DB, "Equality and comparison operators"); NOT undefined
  is undefined, false AND undefined is false, true OR undefined is true (Cosmos DB, "Logical
  operators"). So `tags.x != 1` and `NOT tags.x = 1` both leave out a twin without `tags.x`.
- IS_DEFINED(path) is true when the property has a value, an object included (IoT Hub reference).
  Keys and string values match only when identical, case included (twin keys and device ids are
  case-sensitive); 1 = 1.0, and true is not 1.
Refused (None): any collection but `devices` as written, other functions, arithmetic, TOP,
aggregates, GROUP BY, the null and undefined literals (tags and properties never hold null: a
PATCHed null deletes the key and a PUT refuses it, so `!= null` has no documented answer),
ordering between strings or Booleans (ordinal or culture-aware collation is not documented),
mixed-type IN lists, `$` members ($metadata, $version), root fields other than deviceId, modelId,
status, connectionState and capabilities.iotEdge, reserved words as members (IoT Hub fails
`tags.group`), and escapes other than \\' \\" \\\\ \\uXXXX.
"""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Any, Callable

from shared.domain import limits

_TOKEN = re.compile(r"""
    (?P<space>[\ \t\r\n]+)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<number>-?(?:0|[1-9]\d*)(?:\.\d+)?)(?![\w.$])
  | (?P<path>[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)(?![\w.$])
  | (?P<op><=|>=|<>|!=|=|<|>)
  | (?P<punct>[()\[\],*])
""", re.VERBOSE)
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|['\"\\])|\\")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Words of the query grammar (and of the SQL it comes from) as members: IoT Hub fails `tags.group = 'x'`
# (MicrosoftDocs/azure-docs#17106). `value` is not among them: Plug and Play acknowledgements use it.
_RESERVED = {"and", "or", "not", "in", "nin", "is_defined", "select", "from", "where", "group", "by", "order",
             "top", "as", "asc", "desc", "true", "false", "null", "undefined", "distinct", "join", "having",
             "between", "like", "exists", "is"}
ROOT_FIELDS = frozenset({"deviceId", "modelId", "status", "connectionState", "capabilities.iotEdge"})
_SECTIONS = (("tags",), ("properties", "desired"), ("properties", "reported"))
_EQUALITY = {"=": operator.eq, "!=": operator.ne, "<>": operator.ne}
_ORDERING = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}
# Twin integers are within ±2^52 and JSON numbers are doubles: a literal beyond 2^53 might be
# rounded or refused by IoT Hub.
_EXACT_INTEGER = 2 ** 53
_MISSING = object()

Condition = Callable[[dict], "bool | None"]  # True, False, or None for undefined


class _Unsupported(Exception):
    """The query uses something this evaluator does not evaluate exactly as IoT Hub."""


@dataclass(frozen=True)
class TwinFilter:
    query: str
    _condition: Condition

    def matches(self, twin: dict) -> bool:
        return self._condition(twin) is True


def compile_filter(hub_query: str, root_fields: frozenset[str] = ROOT_FIELDS) -> TwinFilter | None:
    """`SELECT <fields> FROM devices [WHERE condition]` → a filter over twins; None to ask IoT Hub.
    `root_fields`: those of ROOT_FIELDS the twins to filter hold (a registry export has no modelId
    or connectionState); a condition on another is None too."""
    try:
        return TwinFilter(hub_query, _Parser(_tokens(hub_query), root_fields).query())
    except _Unsupported:
        return None


def _tokens(text: str) -> list[tuple[str, Any]]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise _Unsupported(text[position:])
        position = match.end()
        if match.lastgroup != "space":
            tokens.append(_token(match.lastgroup, match.group()))
    return tokens


def _token(kind: str, text: str) -> tuple[str, Any]:
    if kind == "string":
        return "literal", _string(text[1:-1])
    if kind == "number":
        return "literal", _number(text)
    return kind, text


def _string(body: str) -> str:
    def unescape(match: re.Match) -> str:
        if not match.group(1):
            raise _Unsupported(match.group())
        escaped = match.group(1)
        return chr(int(escaped[1:], 16)) if escaped[0] == "u" else escaped
    text = _ESCAPE.sub(unescape, body)
    try:  # \uD83D\uDE00 is one character in the twin's JSON; a lone surrogate matches nothing known
        return text.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeError:
        raise _Unsupported(body) from None


def _number(text: str) -> int | float:
    if "." in text:
        return float(text)
    if abs(int(text)) > _EXACT_INTEGER:
        raise _Unsupported(text)
    return int(text)


def _kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "string" if isinstance(value, str) else None


class _Parser:
    """Recursive descent: OR of ANDs of NOT* primaries, loops for chains, recursion only per parenthesis."""

    def __init__(self, tokens: list[tuple[str, Any]], root_fields: frozenset[str] = ROOT_FIELDS) -> None:
        self.tokens, self.position, self.depth = tokens, 0, 0
        self.root_fields = root_fields

    def query(self) -> Condition:
        self.expect_keyword("select")
        self.select_list()
        self.expect_keyword("from")
        if self.next() != ("path", "devices"):  # the simulator refuses `FROM Devices`; IoT Hub documents `devices`
            raise _Unsupported("only FROM devices")
        condition = self.disjunction() if self.keyword("where") else _always
        if self.position != len(self.tokens):
            raise _Unsupported("GROUP BY or text after the condition")
        return condition

    def select_list(self) -> None:
        """Which fields come back does not change which twins match; TOP and aggregates do."""
        count = 0
        while not self.peek_keyword("from"):
            kind, text = self.next()
            projected = kind == "path" and text.lower() not in ("top", "distinct", "value")
            if not projected and (kind, text) not in (("punct", "*"), ("punct", ",")):
                raise _Unsupported(f"{text} in SELECT")
            count += 1
        if not count:
            raise _Unsupported("empty SELECT")

    def disjunction(self) -> Condition:
        terms = [self.conjunction()]
        while self.keyword("or"):
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else _any_of(terms)

    def conjunction(self) -> Condition:
        terms = [self.negation()]
        while self.keyword("and"):
            terms.append(self.negation())
        return terms[0] if len(terms) == 1 else _all_of(terms)

    def negation(self) -> Condition:
        nots = 0
        while self.keyword("not"):
            nots += 1
        primary = self.primary()
        return _negated(primary) if nots % 2 else primary

    def primary(self) -> Condition:
        if self.punct("("):
            return self.parenthesised()
        if self.keyword("is_defined"):
            return self.is_defined()
        kind, text = self.next()
        if kind != "path":
            raise _Unsupported("a condition must start with a field")
        if self.peek() == ("punct", "("):
            raise _Unsupported(f"function {text}")
        path = _path(text, self.root_fields)
        if self.peek_keyword("in") or self.peek_keyword("nin"):
            return self.membership(path)
        return self.comparison(path)

    def parenthesised(self) -> Condition:
        self.depth += 1
        if self.depth > limits.MAX_GROUP_FILTER_NESTING:
            raise _Unsupported("nested too deeply")
        condition = self.disjunction()
        self.expect_punct(")")
        self.depth -= 1
        return condition

    def is_defined(self) -> Condition:
        self.expect_punct("(")
        kind, text = self.next()
        if kind != "path":
            raise _Unsupported("IS_DEFINED of something other than a field")
        path = _path(text, self.root_fields)
        self.expect_punct(")")
        if path == ("deviceId",):
            return _always
        if len(path) == 1 or path == ("capabilities", "iotEdge"):
            raise _Unsupported(f"IS_DEFINED({text}): whether a root field is there depends on the twin's source")
        return _defined(path)

    def comparison(self, path: tuple[str, ...]) -> Condition:
        kind, symbol = self.next()
        if kind != "op":
            raise _Unsupported("a comparison needs an operator")
        literal = self.literal()
        if symbol in _ORDERING and _kind(literal) != "number":
            raise _Unsupported("ordering between strings or Booleans")
        return _compared(path, (_EQUALITY | _ORDERING)[symbol], literal)

    def membership(self, path: tuple[str, ...]) -> Condition:
        negated = self.next()[1].lower() == "nin"
        self.expect_punct("[")
        values = [self.literal()]
        while self.punct(","):
            values.append(self.literal())
        self.expect_punct("]")
        if len({_kind(value) for value in values}) != 1:
            raise _Unsupported("an IN list of mixed types")
        condition = _member_of(path, values)
        return _negated(condition) if negated else condition

    def literal(self) -> Any:
        kind, value = self.next()
        if kind == "literal":
            return value
        if kind == "path" and value in ("true", "false"):
            return value == "true"
        raise _Unsupported(f"{value} is not a string, number or Boolean literal")

    def next(self) -> tuple[str, Any]:
        if self.position >= len(self.tokens):
            raise _Unsupported("the query ends early")
        self.position += 1
        return self.tokens[self.position - 1]

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def peek_keyword(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "path" and token[1].lower() == word

    def keyword(self, word: str) -> bool:
        found = self.peek_keyword(word)
        self.position += found
        return found

    def punct(self, char: str) -> bool:
        found = self.peek() == ("punct", char)
        self.position += found
        return found

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            raise _Unsupported(f"expected {word.upper()}")

    def expect_punct(self, char: str) -> None:
        if not self.punct(char):
            raise _Unsupported(f"expected {char}")


def _path(text: str, root_fields: frozenset[str]) -> tuple[str, ...]:
    """A field this evaluator reads exactly as IoT Hub: a root field, or a key under a section."""
    if text in root_fields:
        return tuple(text.split("."))
    segments = tuple(text.split("."))
    for section in _SECTIONS:
        keys = segments[len(section):]
        if segments[:len(section)] == section and keys and all(_plain_key(key) for key in keys):
            return segments
    raise _Unsupported(f"field {text}")


def _plain_key(key: str) -> bool:
    return bool(_KEY.fullmatch(key)) and key.lower() not in _RESERVED


def _value(twin: dict, path: tuple[str, ...]) -> Any:
    value: Any = twin
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _compare(value: Any, test: Callable[[Any, Any], bool], literal: Any) -> bool | None:
    if value is _MISSING or _kind(value) != _kind(literal):
        return None
    return test(value, literal)


def _compared(path: tuple[str, ...], test: Callable[[Any, Any], bool], literal: Any) -> Condition:
    return lambda twin: _compare(_value(twin, path), test, literal)


def _member_of(path: tuple[str, ...], values: list[Any]) -> Condition:
    def member(twin: dict) -> bool | None:
        value = _value(twin, path)
        if value is _MISSING or _kind(value) != _kind(values[0]):
            return None
        return any(value == candidate for candidate in values)
    return member


def _defined(path: tuple[str, ...]) -> Condition:
    return lambda twin: _value(twin, path) is not _MISSING


def _negated(condition: Condition) -> Condition:
    def negation(twin: dict) -> bool | None:
        result = condition(twin)
        return None if result is None else not result
    return negation


def _all_of(terms: list[Condition]) -> Condition:
    def conjunction(twin: dict) -> bool | None:
        results = [term(twin) for term in terms]
        return False if False in results else None if None in results else True
    return conjunction


def _any_of(terms: list[Condition]) -> Condition:
    def disjunction(twin: dict) -> bool | None:
        results = [term(twin) for term in terms]
        return True if True in results else None if None in results else False
    return disjunction


def _always(twin: dict) -> bool:
    return True
