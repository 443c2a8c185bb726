import pytest
from django.core.exceptions import ImproperlyConfigured

from constellation.env import (
    env_bool,
    env_choice,
    env_database,
    env_int,
    env_list,
    env_str,
    raw,
)


def test_raw_treats_empty_and_blank_values_as_unset() -> None:
    assert raw({"A": "", "B": "  "}, "A") is None
    assert raw({"A": "", "B": "  "}, "B") is None
    assert raw({}, "A") is None
    assert raw({"A": " x "}, "A") == "x"


def test_env_str_falls_back_to_the_default() -> None:
    assert env_str({}, "NAME", "fallback") == "fallback"
    assert env_str({"NAME": "given"}, "NAME", "fallback") == "given"


@pytest.mark.parametrize("word", ["1", "true", "True", "YES", "on"])
def test_env_bool_reads_true_words(word: str) -> None:
    assert env_bool({"FLAG": word}, "FLAG", default=False) is True


@pytest.mark.parametrize("word", ["0", "false", "FALSE", "no", "Off"])
def test_env_bool_reads_false_words(word: str) -> None:
    assert env_bool({"FLAG": word}, "FLAG", default=True) is False


def test_env_bool_uses_the_default_when_unset() -> None:
    assert env_bool({}, "FLAG", default=True) is True


def test_env_bool_rejects_a_typo_naming_the_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match="FLAG must be a boolean.*'ture'"):
        env_bool({"FLAG": "ture"}, "FLAG", default=False)


def test_env_int_parses_base_ten() -> None:
    assert env_int({"COUNT": "042"}, "COUNT", default=1) == 42
    assert env_int({}, "COUNT", default=7) == 7


@pytest.mark.parametrize("value", ["2O", "1.5", "0x10", "ten"])
def test_env_int_rejects_what_is_not_an_integer(value: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="COUNT must be an integer"):
        env_int({"COUNT": value}, "COUNT", default=1)


def test_env_int_enforces_the_minimum() -> None:
    with pytest.raises(ImproperlyConfigured, match="COUNT must be at least 1, got 0"):
        env_int({"COUNT": "0"}, "COUNT", default=5, minimum=1)


def test_env_choice_accepts_only_listed_values() -> None:
    assert env_choice({"MODE": "b"}, "MODE", "a", ("a", "b")) == "b"
    assert env_choice({}, "MODE", "a", ("a", "b")) == "a"
    with pytest.raises(ImproperlyConfigured, match="MODE must be one of a, b; got 'c'"):
        env_choice({"MODE": "c"}, "MODE", "a", ("a", "b"))


def test_env_list_splits_on_commas_and_drops_blanks() -> None:
    assert env_list({"HOSTS": "a.example, b.example,,"}, "HOSTS", []) == ["a.example", "b.example"]
    assert env_list({}, "HOSTS", ["localhost"]) == ["localhost"]


def test_env_database_reads_a_postgres_url() -> None:
    config = env_database({"DB": "postgres://app:secret@db.internal:5433/constellation"}, "DB", "")

    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert config["NAME"] == "constellation"
    assert (config["USER"], config["PASSWORD"]) == ("app", "secret")
    assert (config["HOST"], config["PORT"]) == ("db.internal", 5433)


def test_env_database_uses_the_default_url_when_unset() -> None:
    config = env_database({}, "DB", "sqlite:////srv/app/db.sqlite3")

    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == "/srv/app/db.sqlite3"


@pytest.mark.parametrize("url", ["nonsense", "mongo://host/db", "postgres://host"])
def test_env_database_rejects_urls_django_cannot_use(url: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="^DB "):
        env_database({"DB": url}, "DB", "sqlite:////tmp/db.sqlite3")
