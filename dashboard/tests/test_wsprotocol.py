import orjson
import pytest

from dashboard import wsprotocol
from dashboard.wsprotocol import ClientError, ClientMessage, FloodGate, parse_client_frame


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

    assert message == ClientMessage("Subscribe", ("api", "web"))


def test_subscribe_to_star_or_without_namespaces_means_every_namespace() -> None:
    assert parse_client_frame('{"type": "Subscribe", "namespaces": "*"}').namespaces is None
    assert parse_client_frame('{"type": "Subscribe"}').namespaces is None


def test_subscribe_to_an_empty_list_watches_nothing() -> None:
    assert parse_client_frame('{"type": "Subscribe", "namespaces": []}').namespaces == ()


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
