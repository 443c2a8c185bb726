from urllib.parse import parse_qs

import orjson
import pytest

from dashboard import wsprotocol
from dashboard.wsprotocol import (
    ClientError,
    ClientMessage,
    FloodGate,
    View,
    parse_client_frame,
    parse_view,
)


def error_code(text: str, max_bytes: int = wsprotocol.MAX_FRAME_BYTES) -> str:
    with pytest.raises(ClientError) as caught:
        parse_client_frame(text, max_bytes)
    return caught.value.code


def test_ping_pong_and_resync_parse_to_their_type() -> None:
    assert parse_client_frame('{"type": "Ping"}') == ClientMessage("Ping")
    assert parse_client_frame('{"type": "Pong"}') == ClientMessage("Pong")
    assert parse_client_frame('{"type": "Resync", "extra": 1}') == ClientMessage("Resync")


def test_subscribe_to_a_list_is_sorted_and_deduplicated() -> None:
    message = parse_client_frame('{"type": "Subscribe", "namespaces": ["web", "api", "web"]}')

    assert message == ClientMessage("Subscribe", View(("api", "web")))


def test_subscribe_to_star_or_without_namespaces_means_every_namespace() -> None:
    assert parse_client_frame('{"type": "Subscribe", "namespaces": "*"}').view == View(None)
    assert parse_client_frame('{"type": "Subscribe"}').view == View(None)


def test_subscribe_to_an_empty_list_watches_no_tree() -> None:
    assert parse_client_frame('{"type": "Subscribe", "namespaces": []}').view == View(())


def test_subscribe_may_ask_for_the_namespace_summaries() -> None:
    frame = '{"type": "Subscribe", "namespaces": ["web"], "summary": true}'

    assert parse_client_frame(frame).view == View(("web",), summary=True)
    assert error_code('{"type": "Subscribe", "summary": "yes"}') == wsprotocol.BAD_FIELD


@pytest.mark.parametrize(
    ("query", "view"),
    [
        ("", View(None)),
        ("namespaces=*", View(None)),
        ("namespaces=web,api&namespaces=web", View(("api", "web"))),
        ("namespaces=", View(())),
        ("summary=1", View(None, summary=True)),
        ("namespaces=&summary=1", View((), summary=True)),
        ("namespaces=shop&summary=0", View(("shop",))),
    ],
)
def test_a_connection_says_in_its_url_what_it_shows(query: str, view: View) -> None:
    assert parse_view(parse_qs(query, keep_blank_values=True)) == view


@pytest.mark.parametrize("query", ["namespaces=Not_A_Namespace", "summary=yes"])
def test_a_url_asking_for_an_impossible_view_is_a_bad_field(query: str) -> None:
    with pytest.raises(wsprotocol.ClientError) as caught:
        parse_view(parse_qs(query, keep_blank_values=True))

    assert caught.value.code == wsprotocol.BAD_FIELD


def test_malformed_json_is_bad_json() -> None:
    assert error_code("{not json") == wsprotocol.BAD_JSON
    assert error_code("") == wsprotocol.BAD_JSON


def test_json_that_is_not_an_object_is_a_bad_message() -> None:
    assert error_code("[1, 2]") == wsprotocol.BAD_MESSAGE
    assert error_code('"Ping"') == wsprotocol.BAD_MESSAGE
    assert error_code("null") == wsprotocol.BAD_MESSAGE


def test_a_missing_or_non_string_type_is_a_bad_message() -> None:
    assert error_code("{}") == wsprotocol.BAD_MESSAGE
    assert error_code('{"type": 7}') == wsprotocol.BAD_MESSAGE


def test_server_message_types_sent_by_a_client_are_unknown() -> None:
    assert error_code('{"type": "FullState"}') == wsprotocol.UNKNOWN_TYPE
    assert error_code('{"type": "ping"}') == wsprotocol.UNKNOWN_TYPE


def test_namespaces_of_the_wrong_type_are_a_bad_field() -> None:
    assert error_code('{"type": "Subscribe", "namespaces": "web"}') == wsprotocol.BAD_FIELD
    assert error_code('{"type": "Subscribe", "namespaces": {"a": 1}}') == wsprotocol.BAD_FIELD
    assert error_code('{"type": "Subscribe", "namespaces": [1]}') == wsprotocol.BAD_FIELD
    assert error_code('{"type": "Subscribe", "namespaces": null}') == wsprotocol.BAD_FIELD


def test_namespace_names_kubernetes_would_refuse_are_a_bad_field() -> None:
    for name in ("Web", "-web", "web-", "a.b", "x" * 64, "", "<img src=x>"):
        frame = orjson.dumps({"type": "Subscribe", "namespaces": [name]}).decode()
        assert error_code(frame) == wsprotocol.BAD_FIELD, name


def test_too_many_namespaces_are_a_bad_field() -> None:
    names = [f"ns-{i}" for i in range(wsprotocol.MAX_SUBSCRIBE_NAMESPACES + 1)]
    frame = orjson.dumps({"type": "Subscribe", "namespaces": names}).decode()

    assert error_code(frame) == wsprotocol.BAD_FIELD


def test_frames_over_the_limit_are_too_large_counting_utf8_bytes() -> None:
    assert error_code('{"type": "Ping", "pad": "%s"}' % ("x" * 100), max_bytes=64) == "too_large"
    # 20 characters but 60 bytes once encoded.
    assert error_code('"%s"' % ("€" * 20), max_bytes=40) == wsprotocol.TOO_LARGE
    assert parse_client_frame('{"type":"Ping"}', max_bytes=15) == ClientMessage("Ping")


def test_valid_namespace_accepts_dns_labels() -> None:
    assert wsprotocol.valid_namespace("kube-system")
    assert wsprotocol.valid_namespace("a")
    assert wsprotocol.valid_namespace("x" * 63)


def test_flood_gate_allows_the_limit_within_the_window_and_refuses_more() -> None:
    gate = FloodGate(limit=3, window_s=10.0)

    assert [gate.allow(t) for t in (0.0, 1.0, 2.0, 3.0)] == [True, True, True, False]


def test_flood_gate_forgets_frames_older_than_the_window() -> None:
    gate = FloodGate(limit=2, window_s=10.0)
    gate.allow(0.0)
    gate.allow(1.0)

    assert gate.allow(10.5)
    assert not gate.allow(10.6)
