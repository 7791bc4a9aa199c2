"""ASP.NET route templates as the Functions host matches them."""
import pytest

from local.functions_host.routing import (Route, RouteTemplateError, find_route, order_routes,
                                          parse_route_template)


def match(template: str, path: str):
    return parse_route_template(template).match(path)


@pytest.mark.parametrize("template, path, expected", [
    ("items/{id}", "items/42", {"id": "42"}),
    ("items/{id}", "ITEMS/Abc", {"id": "Abc"}),           # literals ignore case, values keep it
    ("items/{id}", "items/42/", {"id": "42"}),
    ("items/{id?}", "items", {}),
    ("items/{id:int?}", "items/7", {"id": "7"}),
    ("items/{id=5}", "items", {"id": "5"}),
    ("files/{*path}", "files/a/b/c.txt", {"path": "a/b/c.txt"}),
    ("files/{*path}", "files", {}),
    ("files/{**path}", "files/a/b", {"path": "a/b"}),
    ("docs/{name}.{ext?}", "docs/report.final.pdf", {"name": "report.final", "ext": "pdf"}),
    ("docs/{name}.{ext?}", "docs/readme", {"name": "readme"}),
    ("", "", {}),
])
def test_templates_match(template, path, expected):
    assert match(template, path) == expected


@pytest.mark.parametrize("template, path", [
    ("items/{id}", "items"),
    ("items/{id}", "items/1/2"),
    ("items", "items/1"),
    ("items/{id}", "other/1"),
])
def test_templates_do_not_match(template, path):
    assert match(template, path) is None


@pytest.mark.parametrize("constraint, accepted, refused", [
    ("int", ["0", "-12", "2147483647"], ["x", "1.5", "2147483648"]),
    ("long", ["9223372036854775807"], ["9223372036854775808", "a"]),
    ("bool", ["true", "False"], ["yes", "1"]),
    ("guid", ["0f8fad5b-d9cb-469f-a165-70867728950e", "0f8fad5bd9cb469fa16570867728950e"], ["0f8fad5b", "xyz"]),
    ("alpha", ["abc", "ABC"], ["ab1", "a-b"]),
    ("double", ["1.5", "-2", "3e4"], ["1.5.1", "x"]),
    ("minlength(3)", ["abc", "abcd"], ["ab"]),
    ("maxlength(2)", ["ab"], ["abc"]),
    ("length(2)", ["ab"], ["a", "abc"]),
    ("length(1,3)", ["a", "abc"], ["abcd"]),
    ("min(10)", ["10", "11"], ["9", "x"]),
    ("max(10)", ["10"], ["11"]),
    ("range(1,3)", ["1", "3"], ["0", "4"]),
    ("regex(^[a-z]{{3}}$)", ["abc", "ABC"], ["abcd", "ab1"]),   # case-insensitive like ASP.NET
    ("regex(b)", ["abc"], ["xyz"]),                              # not anchored unless ^...$
])
def test_constraints(constraint, accepted, refused):
    template = parse_route_template(f"x/{{v:{constraint}}}")
    for value in accepted:
        assert template.match(f"x/{value}") is not None, value
    for value in refused:
        assert template.match(f"x/{value}") is None, value


def test_several_constraints_all_apply():
    template = parse_route_template("p/{n:int:min(3)}")
    assert template.match("p/4") == {"n": "4"}
    assert template.match("p/2") is None


@pytest.mark.parametrize("template", ["a/{id:nonsense}", "a/{id", "a/{id}/{ID}", "a/{*rest}/b", "a//b",
                                      "a/{x:regex([)}"])
def test_bad_templates_are_refused(template):
    with pytest.raises(RouteTemplateError):
        parse_route_template(template)


def _routes(*specs):
    return order_routes([Route(parse_route_template(t), frozenset(m) if m else None, t) for t, m in specs])


def test_literal_beats_parameter_whatever_the_order():
    routes = _routes(("items/{id}", None), ("items/special", None))
    assert find_route(routes, "items/special", "GET")[0].target == "items/special"
    assert find_route(routes, "items/other", "GET")[0].target == "items/{id}"


def test_constrained_beats_plain_and_catch_all_comes_last():
    routes = _routes(("{*any}", None), ("t/{name}", None), ("t/{id:int}", None))
    assert find_route(routes, "t/5", "GET")[0].target == "t/{id:int}"
    assert find_route(routes, "t/x", "GET")[0].target == "t/{name}"
    assert find_route(routes, "elsewhere/x", "GET")[0].target == "{*any}"


def test_wrong_method_is_no_match():
    routes = _routes(("items", {"GET"}))
    assert find_route(routes, "items", "get") is not None
    assert find_route(routes, "items", "POST") is None
    assert find_route(routes, "items", "HEAD") is None  # the host does not map HEAD to GET
