import orjson

from constellation import protocol


def test_sequencer_numbers_globally_and_per_namespace():
    sequencer = protocol.Sequencer(epoch="e1")
    first = sequencer.stamp(protocol.namespace_deleted("a"))
    second = sequencer.stamp(protocol.relationship_updated("b", {"id": "Namespace/b"}))
    third = sequencer.stamp(protocol.resource_deleted("a", "Pod/a/p", "Pod", "p"))
    assert [m["seq"] for m in (first, second, third)] == [1, 2, 3]
    assert [m["ns_seq"] for m in (first, second, third)] == [1, 1, 2]
    assert {m["epoch"] for m in (first, second, third)} == {"e1"}


def test_cluster_wide_messages_have_no_namespace_counter():
    stamped = protocol.Sequencer(epoch="e").stamp(protocol.full_state(0, "e", [], {"synced": True}))
    assert "ns_seq" not in stamped


def test_group_names_fit_the_channel_layer_rules():
    name = protocol.namespace_group("a" * 63)
    assert len(name) < 100 and all(c.isalnum() or c in "-_." for c in name)


def test_encoding_is_compact_json():
    text = protocol.encode(protocol.error("bad_frame", "not JSON"))
    assert orjson.loads(text) == {"type": "Error", "code": "bad_frame", "message": "not JSON"}
    assert " " not in text.replace("not JSON", "")
