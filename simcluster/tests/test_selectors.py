import pytest

from simcluster.selectors import (
    SelectorError,
    map_selector_matches,
    parse_field_selector,
    parse_label_selector,
    selector_object_matches,
)

WEB = {"app": "web", "tier": "front", "app.kubernetes.io/name": "shop", "replicas": "3"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", True),
        ("app=db", False),
        ("app==web", True),
        ("app==db", False),
        ("app!=db", True),
        ("app!=web", False),
        ("app", True),
        ("missing", False),
        ("!missing", True),
        ("!app", False),
        ("app in (web,db)", True),
        ("app in (db,cache)", False),
        ("app notin (db,cache)", True),
        ("app notin (web)", False),
        ("replicas>2", True),
        ("replicas<3", False),
        ("tier>1", False),
        ("app.kubernetes.io/name=shop", True),
        ("app=web,tier=front", True),
        ("app=web,tier=back", False),
    ],
)
def test_each_label_operator_matches_like_kubernetes(selector: str, expected: bool) -> None:
    assert parse_label_selector(selector).matches(WEB) is expected


@pytest.mark.parametrize("selector", ["missing!=x", "missing notin (a,b)", "!missing"])
def test_negative_requirements_match_when_the_key_is_absent(selector: str) -> None:
    assert parse_label_selector(selector).matches({"app": "web"})


@pytest.mark.parametrize("selector", ["missing=x", "missing in (x)", "missing", "missing>1"])
def test_positive_requirements_fail_when_the_key_is_absent(selector: str) -> None:
    assert not parse_label_selector(selector).matches({"app": "web"})


def test_empty_selector_matches_everything_including_no_labels() -> None:
    selector = parse_label_selector("")
    assert selector.matches(WEB)
    assert selector.matches(None)
    assert selector.matches({})


def test_whitespace_around_tokens_is_tolerated() -> None:
    selector = parse_label_selector("  app = web ,  tier in ( front , back ) , ! gone ")
    assert selector.matches(WEB)
    assert not selector.matches({"app": "web", "tier": "side"})


def test_an_empty_value_matches_an_empty_label() -> None:
    assert parse_label_selector("app=").matches({"app": ""})
    assert parse_label_selector("app in ()").matches({"app": ""})
    assert parse_label_selector("app in (web,)").matches({"app": ""})
    assert not parse_label_selector("app=").matches({"app": "web"})


def test_in_and_notin_are_ordinary_words_where_a_key_or_value_stands() -> None:
    assert parse_label_selector("in=notin").matches({"in": "notin"})
    assert parse_label_selector("mode in (in,notin)").matches({"mode": "in"})


def test_no_labels_fail_positive_requirements() -> None:
    assert not parse_label_selector("app=web").matches(None)
    assert parse_label_selector("app!=web").matches(None)


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("app web", "unable to parse requirement: found 'web', expected: in, notin, =, ==, !="),
        ("app=web tier", "found 'tier', expected: ',' or 'end of string'"),
        ("app=web,", "found '', expected: identifier after ','"),
        (",app", "found ',', expected: !, identifier, or 'end of string'"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("app in web", "unable to parse requirement: found 'web' expected: '('"),
        ("app in (web db)", "unable to parse requirement: found 'db', expected: ',' or ')'"),
        ("app in (web", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("app in (,=", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
        ("app=(web)", "unable to parse requirement: found '(', expected: identifier"),
        ("!app=web", "found '=', expected: ',' or 'end of string'"),
        ("app=a=b", "found '=', expected: ',' or 'end of string'"),
        ("-app=web", 'unable to parse requirement: <nil>: Invalid value: "-app": name part must'),
        ("a/b/c=d", 'unable to parse requirement: <nil>: Invalid value: "a/b/c": a qualified name'),
        ("Bad_Prefix/app=x", "prefix part a lowercase RFC 1123 subdomain"),
        ("app=we$b", 'unable to parse requirement: values[0][app]: Invalid value: "we$b"'),
        ("app=" + "x" * 64, "must be no more than 63 characters"),
        ("replicas>many", "the value must be an integer"),
    ],
)
def test_malformed_label_selectors_are_refused_with_the_apiservers_message(
    selector: str, message: str
) -> None:
    with pytest.raises(SelectorError) as caught:
        parse_label_selector(selector)
    assert message in str(caught.value)


POD = {
    "metadata": {"name": "web-1", "namespace": "shop"},
    "spec": {"nodeName": "node-a"},
    "status": {"phase": "Running"},
}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("metadata.name=web-1", True),
        ("metadata.name==web-1", True),
        ("metadata.name!=web-1", False),
        ("metadata.namespace=shop", True),
        ("metadata.namespace=other", False),
        ("status.phase!=Succeeded,status.phase!=Failed", True),
        ("spec.nodeName=node-a,metadata.name=web-1", True),
        ("spec.nodeName=node-b,metadata.name=web-1", False),
        ("", True),
    ],
)
def test_field_selectors_compare_values_at_dotted_paths(selector: str, expected: bool) -> None:
    assert parse_field_selector(selector).matches(POD) is expected


def test_a_missing_field_compares_as_the_empty_string() -> None:
    pending = {"metadata": {"name": "p"}, "spec": {}}
    assert parse_field_selector("spec.nodeName=").matches(pending)
    assert parse_field_selector("spec.nodeName!=node-a").matches(pending)
    assert not parse_field_selector("status.phase=Running").matches(pending)


def test_field_selector_reports_the_fields_it_uses() -> None:
    selector = parse_field_selector("metadata.name=a, status.phase!=Failed,metadata.name!=b")
    assert selector.fields == frozenset({"metadata.name", "status.phase"})
    assert parse_field_selector("").fields == frozenset()


def test_field_selector_values_may_escape_commas_and_equals() -> None:
    selector = parse_field_selector(r"metadata.name=a\,b\=c")
    assert selector.matches({"metadata": {"name": "a,b=c"}})


def test_field_selector_renders_booleans_like_go() -> None:
    node = {"spec": {"unschedulable": True}}
    assert parse_field_selector("spec.unschedulable=true").matches(node)


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
        ("=web", "invalid selector: '=web'; can't understand '=web'"),
        ("metadata.name=a=b", "invalid field selector: unescaped character: ="),
        (r"metadata.name=a\x", r"invalid field selector: invalid escape sequence: \x"),
    ],
)
def test_malformed_field_selectors_are_refused(selector: str, message: str) -> None:
    with pytest.raises(SelectorError, match="^" + message.replace("\\", "\\\\")):
        parse_field_selector(selector)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({"matchLabels": {"app": "web"}}, True),
        ({"matchLabels": {"app": "web", "tier": "back"}}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "x"]}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]}, False),
        ({"matchExpressions": [{"key": "gone", "operator": "NotIn", "values": ["x"]}]}, True),
        ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, False),
        (
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "gone", "operator": "DoesNotExist"}],
            },
            True,
        ),
        ({}, True),
        (None, True),
    ],
)
def test_object_selectors_combine_match_labels_and_expressions(
    selector: dict | None, expected: bool
) -> None:
    assert selector_object_matches(selector, WEB) is expected


def test_object_selector_with_an_unknown_operator_is_an_error() -> None:
    with pytest.raises(SelectorError, match='"Like" is not a valid label selector operator'):
        selector_object_matches(
            {"matchExpressions": [{"key": "app", "operator": "Like", "values": ["w"]}]}, WEB
        )


def test_object_selector_in_without_values_is_an_error() -> None:
    with pytest.raises(SelectorError, match="values set can't be empty"):
        selector_object_matches({"matchExpressions": [{"key": "app", "operator": "In"}]}, WEB)


def test_service_selector_needs_every_pair_present() -> None:
    assert map_selector_matches({"app": "web"}, WEB)
    assert map_selector_matches({"app": "web", "tier": "front"}, WEB)
    assert not map_selector_matches({"app": "web", "tier": "back"}, WEB)
    assert not map_selector_matches({"app": "web"}, None)


@pytest.mark.parametrize("selector", [None, {}])
def test_service_without_a_selector_selects_nothing(selector: dict | None) -> None:
    assert not map_selector_matches(selector, WEB)
    assert not map_selector_matches(selector, {})
