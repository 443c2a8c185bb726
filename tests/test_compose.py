"""docker-compose.yml and the Dockerfile, checked without a container engine.

No engine runs on our machines or in CI, so the compose file is validated the way `docker
compose config` would (variables interpolated, then the Compose Specification's JSON schema,
as vendored by the check-jsonschema package), and what the schema cannot know is checked here:
health checks, start order, secrets, and that every command names a real management command
with options it accepts. The Dockerfile is only read: its base, user, stages and commands.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from daphne.cli import CommandLineInterface
from django.core.management import get_commands, load_command_class

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}
VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|_KEY$")
DEMO_MARK = "demo-only"


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """`value` with compose's variable syntax resolved against `env`, as `compose config` does."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def resolve(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"] or "", match["arg"] or ""
        current = env.get(name)
        unset = current is None or (op.startswith(":") and current == "")
        if op.endswith("?") and unset:
            raise AssertionError(f"compose would stop: {name} is required ({arg})")
        if op.endswith("-") and unset:
            return arg
        return current or ""

    return VARIABLE.sub(resolve, value).replace("$$", "$")


def check_command(argv: list[str]) -> None:
    """Fail unless `argv` is Daphne or a management command, with arguments they accept."""
    if argv[0] == "daphne":
        args = CommandLineInterface().parser.parse_args(argv[1:])
        module, _, attribute = args.application.partition(":")
        assert (ROOT / Path(*module.split("."))).with_suffix(".py").is_file(), module
        assert attribute == "application"
        return
    assert argv[:2] == ["python", "manage.py"], f"not a management command: {argv}"
    name, *args = argv[2:]
    commands = get_commands()
    assert name in commands, f"manage.py has no command {name!r}"
    command = load_command_class(commands[name], name)
    command.create_parser("manage.py", name).parse_args(args)


def option(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def http_port(healthcheck: dict[str, Any]) -> int:
    """The port a health check's URL asks on."""
    match = re.search(r"http://localhost:(\d+)/", " ".join(healthcheck["test"]))
    assert match, healthcheck
    return int(match[1])


def dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuations joined), one list per stage."""
    lines = re.sub(r"\\\n", " ", DOCKERFILE).splitlines()
    instructions = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    stages: list[list[str]] = []
    for instruction in instructions:
        if instruction.startswith("FROM "):
            stages.append([])
        stages[-1].append(instruction)
    return stages


def test_the_compose_file_is_valid_against_the_compose_specification() -> None:
    schema_file = files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)

    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(interpolate(COMPOSE, {}))
    ]

    assert errors == []


def test_the_compose_file_interpolates_with_no_variables_set() -> None:
    resolved = json.dumps(interpolate(COMPOSE, {}))

    assert "${" not in resolved


def test_every_service_has_a_health_check() -> None:
    missing = [
        name
        for name, service in SERVICES.items()
        if not service.get("healthcheck", {}).get("test") or service["healthcheck"].get("disable")
    ]

    assert missing == []


def test_the_expected_services_exist_and_only_simcluster_needs_the_demo_profile() -> None:
    profiles = {name: service.get("profiles", []) for name, service in SERVICES.items()}

    assert profiles == {
        "redis": [],
        "postgres": [],
        "migrate": [],
        "web": [],
        "watcher": [],
        "simcluster": ["demo"],
    }


@pytest.mark.parametrize("name", ["web", "watcher"])
def test_the_web_and_the_watcher_wait_for_healthy_stores_and_finished_migrations(
    name: str,
) -> None:
    depends_on = SERVICES[name]["depends_on"]

    assert depends_on["redis"] == {"condition": "service_healthy"}
    assert depends_on["postgres"] == {"condition": "service_healthy"}
    assert depends_on["migrate"] == {"condition": "service_completed_successfully"}


def test_migrations_wait_for_postgres_and_run_once() -> None:
    migrate = SERVICES["migrate"]

    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert migrate["restart"] == "no"
    assert migrate["command"] == ["python", "manage.py", "migrate", "--no-input"]


def test_the_watcher_waits_for_simcluster_only_when_the_demo_profile_runs_it() -> None:
    assert SERVICES["watcher"]["depends_on"]["simcluster"] == {
        "condition": "service_healthy",
        "required": False,
    }


def test_the_watcher_reads_the_kubeconfig_simcluster_writes_by_default() -> None:
    simcluster, watcher = (interpolate(SERVICES[name], {}) for name in ("simcluster", "watcher"))
    written = Path(option(simcluster["command"], "--kubeconfig"))
    read = Path(watcher["environment"]["KUBECONFIG"])
    mounts = {
        volume.split(":")[0]: Path(volume.split(":")[1])
        for volume in simcluster["volumes"] + watcher["volumes"]
    }

    assert read == written
    assert mounts["simcluster-kubeconfig"] == written.parent
    assert "simcluster-kubeconfig" in COMPOSE["volumes"]


def test_the_kubeconfig_names_an_address_the_watcher_container_can_reach() -> None:
    command = SERVICES["simcluster"]["command"]

    assert option(command, "--host") == "0.0.0.0"
    assert option(command, "--advertise-url") == f"http://simcluster:{option(command, '--port')}"


def test_every_command_is_a_real_command_with_options_it_accepts() -> None:
    for service in SERVICES.values():
        if "command" in service and service.get("image", "").startswith("constellation"):
            check_command(service["command"])
        health = service["healthcheck"]["test"]
        if health[1:3] == ["python", "manage.py"]:
            check_command(health[1:])


def test_health_check_scripts_are_valid_python() -> None:
    for name, service in SERVICES.items():
        health = service["healthcheck"]["test"]
        if health[1:3] == ["python", "-c"]:
            compile(health[3], f"{name} healthcheck", "exec")


def test_the_web_runs_the_images_default_command() -> None:
    cmd = next(line for line in dockerfile_stages()[-1] if line.startswith("CMD "))

    assert json.loads(cmd.removeprefix("CMD ")) == SERVICES["web"]["command"]


def test_health_checks_ask_the_ports_the_commands_listen_on() -> None:
    web = SERVICES["web"]
    simcluster = SERVICES["simcluster"]
    watcher = SERVICES["watcher"]

    assert http_port(web["healthcheck"]) == int(option(web["command"], "-p"))
    assert "/readyz" in " ".join(web["healthcheck"]["test"])
    assert http_port(simcluster["healthcheck"]) == int(option(simcluster["command"], "--port"))
    assert "/healthz" in " ".join(simcluster["healthcheck"]["test"])
    assert http_port(watcher["healthcheck"]) == int(
        watcher["environment"]["CONSTELLATION_WATCHER_METRICS_PORT"]
    )


def test_the_web_scales_without_clashing_names_or_host_ports() -> None:
    web = interpolate(SERVICES["web"], {})
    (published,) = web["ports"]
    host, container = published.rsplit(":", 1)
    first, last = (int(port) for port in host.split("-"))

    assert "container_name" not in web
    assert container == "8000"
    assert last - first >= 2


def test_secrets_come_from_the_environment_with_marked_demo_defaults_only() -> None:
    sources: dict[str, re.Match[str]] = {}
    for service in SERVICES.values():
        for variable, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(variable):
                secret = value
            elif "@" in str(value):  # a URL with credentials: only its password is secret
                credentials = value.split("://", 1)[1].rsplit("@", 1)[0]
                secret = credentials.split(":", 1)[1]
            else:
                continue
            source = VARIABLE.fullmatch(secret)
            assert source, f"{variable} has a literal secret: {value!r}"
            sources[variable] = source

    assert set(sources) == {"DJANGO_SECRET_KEY", "DATABASE_URL", "POSTGRES_PASSWORD"}
    for variable, source in sources.items():
        assert source["op"] == ":-" and DEMO_MARK in source["arg"], (variable, source[0])


def test_the_demo_can_turn_anonymous_read_access_on_and_it_is_off_by_default() -> None:
    environment = SERVICES["web"]["environment"]

    assert interpolate(environment, {})["CONSTELLATION_ALLOW_ANONYMOUS"] == "false"
    assert (
        interpolate(environment, {"CONSTELLATION_ALLOW_ANONYMOUS": "true"})[
            "CONSTELLATION_ALLOW_ANONYMOUS"
        ]
        == "true"
    )


def test_the_image_builds_on_slim_python_3_11_in_two_stages() -> None:
    stages = dockerfile_stages()

    assert len(stages) == 2
    assert all(stage[0].split()[1] == "python:3.11-slim" for stage in stages)


def test_build_tools_stay_in_the_build_stage() -> None:
    builder, final = (" ".join(stage) for stage in dockerfile_stages())

    assert "build-essential" in builder
    assert "apt-get" not in final
    assert "--no-index" in final


def test_the_image_runs_as_a_numeric_non_root_user_with_static_files_collected() -> None:
    final = dockerfile_stages()[-1]
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    collect = [line for line in final if "collectstatic" in line]

    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0"
    assert collect and final.index(collect[0]) < final.index(f"USER {users[-1]}")


def test_the_build_context_leaves_out_local_state_and_credentials() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()

    assert {".git", ".venv", "db.sqlite3", "deploy/kubernetes/secrets.env", ".env"} <= set(
        ignored
    )
