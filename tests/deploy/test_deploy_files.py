"""The deployment files say what the issue promises, read without Docker or systemd.

The image must be built by the same `scripts/setup` that CI runs (so it holds the locked
versions the tests ran with), run as a non-root user and keep photos and bills on volumes;
compose must migrate before it serves; the lock files must pin, with hashes, every
dependency pyproject.toml names, at versions its ranges allow.
"""

from __future__ import annotations

import configparser
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
DEV_LOCK = ROOT / "requirements" / "dev.lock"
RUNTIME_LOCK = ROOT / "requirements" / "runtime.lock"


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction is dropped by Docker too
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def shell_commands(run_arguments: str) -> list[list[str]]:
    """The simple commands of a shell-form RUN, split on && and ;, its --mount flags off."""
    words = shlex.split(run_arguments)
    while words and words[0].startswith("--"):
        words.pop(0)
    commands: list[list[str]] = [[]]
    for word in words:
        if word in ("&&", ";", "||"):
            commands.append([])
        else:
            commands[-1].append(word)
    return [command for command in commands if command]


def setup_calls(text: str) -> list[str]:
    """Every `bash scripts/setup ...` call in a shell script, as written."""
    return re.findall(r"^\s*bash scripts/setup\b[^\n&;|]*", text, flags=re.MULTILINE)


def lock_pins(path: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of a `uv pip compile --generate-hashes` file."""
    pins: dict[str, tuple[str, int]] = {}
    current: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = (match.group(2), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
        elif not line.startswith(" "):
            current = None
    return pins


def pyproject() -> dict:
    """pyproject.toml, parsed."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


# The image


def test_the_image_is_built_by_the_same_scripts_setup_call_ci_makes() -> None:
    runs = [arguments for keyword, arguments in dockerfile() if keyword == "RUN"]
    setup = [
        command
        for arguments in runs
        for command in shell_commands(arguments)
        if command[:2] == ["bash", "scripts/setup"]
    ]
    # The runtime form of CI's call: CI adds --dev (the test tools) and nothing else.
    assert setup == [["bash", "scripts/setup"]]
    ci_calls = setup_calls((ROOT / "scripts" / "test").read_text(encoding="utf-8"))
    assert [call.split() for call in ci_calls] == [["bash", "scripts/setup", "--dev"]]
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    # Nothing else installs packages into the image behind the lock's back.
    for arguments in runs:
        for command in shell_commands(arguments):
            line = " ".join(command)
            assert not re.search(r"\bpip3? install|\buv\b|apt-get install|\bapt install", line), (
                line
            )


def test_scripts_setup_installs_from_the_lock_files_with_hashes() -> None:
    setup = (ROOT / "scripts" / "setup").read_text(encoding="utf-8")
    assert "requirements/runtime.lock" in setup and "requirements/dev.lock" in setup
    assert "--require-hashes -r" in setup
    # Kabinet itself adds no dependency the lock did not decide.
    assert re.search(r"install\b[^\n]*--no-deps[^\n]*-e \.", setup)
    assert not re.search(r'pip[^\n]*install[^\n]*-e "\.\$\{extra\}"', setup)


def test_the_build_context_keeps_what_setup_needs() -> None:
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    packages = [
        name.rstrip("*")
        for name in pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    needed = ["scripts", "scripts/setup", "requirements", "pyproject.toml", "README.md", *packages]
    assert not ignored & set(needed), ignored & set(needed)
    assert {".git", ".venv", ".env"} <= ignored


def test_the_image_runs_kabinet_as_a_non_root_user_with_data_on_volumes() -> None:
    instructions = dockerfile()
    keywords = [keyword for keyword, _ in instructions]
    users = [arguments for keyword, arguments in instructions if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    # The user is switched to after the build step (which needs root for apt).
    setup_at = next(
        index
        for index, (keyword, arguments) in enumerate(instructions)
        if keyword == "RUN" and "scripts/setup" in arguments
    )
    assert max(i for i, keyword in enumerate(keywords) if keyword == "USER") > setup_at
    assert keywords.index("COPY") < setup_at

    entrypoint = next(arguments for keyword, arguments in instructions if keyword == "ENTRYPOINT")
    assert entrypoint == '["kabinet"]'
    assert "HEALTHCHECK" in keywords
    assert "/healthz" in next(
        arguments for keyword, arguments in instructions if keyword == "HEALTHCHECK"
    )

    env = " ".join(arguments for keyword, arguments in instructions if keyword == "ENV")
    photos = re.search(r"PHOTOS_DIR=(\S+)", env)
    bills = re.search(r"BILLS_DIR=(\S+)", env)
    assert photos and bills
    volumes = " ".join(arguments for keyword, arguments in instructions if keyword == "VOLUME")
    assert photos.group(1) in volumes and bills.group(1) in volumes


# compose


def test_compose_migrates_once_then_serves_on_postgresql() -> None:
    yaml = pytest.importorskip("yaml")  # PyYAML comes with the dev tools (schemathesis)
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    database = next(
        name for name, service in services.items() if "postgres" in service.get("image", "")
    )
    assert re.fullmatch(r"postgres:1[56](\..*|-.*)?", services[database]["image"])

    migrate, serve = services["migrate"], services["serve"]
    assert migrate["command"] == ["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"][database]["condition"] == "service_healthy"
    assert serve["command"] == ["serve"]
    assert serve["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for service in (migrate, serve):
        assert service["build"] == "." or service["build"]["context"] == "."
        assert service["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert f"@{database}:5432/" in service["environment"]["DATABASE_URL"]

    # The volumes are mounted where the image's data directories are.
    mounts = {volume.split(":")[1] for volume in serve["volumes"]}
    assert {serve["environment"]["PHOTOS_DIR"], serve["environment"]["BILLS_DIR"]} <= mounts
    assert set(compose["volumes"]) >= {volume.split(":")[0] for volume in serve["volumes"]}


@pytest.mark.e2e  # runs `python -m bot`
def test_the_commands_compose_and_the_unit_run_exist() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "bot", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    for command in ("migrate", "serve"):
        assert re.search(rf"\b{command}\b", shown), command


# systemd


def test_the_systemd_unit_migrates_serves_and_is_hardened() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(ROOT / "deploy" / "kabinet.service", encoding="utf-8")
    service = unit["Service"]
    assert service["User"] not in ("root", "0")
    assert service["ExecStart"].endswith("/kabinet serve")
    assert service["ExecStartPre"].endswith("kabinet migrate")
    for option, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
    }.items():
        assert service[option] == value, option
    assert unit["Install"]["WantedBy"] == "multi-user.target"


# The lock files


def test_the_lock_files_pin_every_dependency_with_hashes_inside_pyproject_ranges() -> None:
    project = pyproject()["project"]
    dev, runtime = lock_pins(DEV_LOCK), lock_pins(RUNTIME_LOCK)
    assert dev and runtime
    for name, (version, hashes) in (dev | runtime).items():
        assert hashes > 0, f"{name}=={version} has no hash"
    for lock, requirements in (
        (runtime, project["dependencies"]),
        (dev, project["dependencies"] + project["optional-dependencies"]["dev"]),
    ):
        for text in requirements:
            requirement = Requirement(text)
            name = canonicalize_name(requirement.name)
            assert name in lock, f"{name} is not in the lock: run bash scripts/lock"
            assert requirement.specifier.contains(lock[name][0], prereleases=True), (
                f"{name}=={lock[name][0]} is outside {requirement.specifier}: run bash scripts/lock"
            )
    # Building Kabinet itself (pip install --no-build-isolation) needs these from the lock.
    assert {"setuptools", "wheel"} <= runtime.keys()


def test_the_runtime_lock_is_the_dev_lock_without_the_dev_tools() -> None:
    dev, runtime = lock_pins(DEV_LOCK), lock_pins(RUNTIME_LOCK)
    assert runtime.keys() <= dev.keys()
    different = {
        name: (runtime[name][0], dev[name][0])
        for name in runtime
        if runtime[name][0] != dev[name][0]
    }
    assert not different, different
    assert "pytest" not in runtime and "ruff" not in runtime


def test_aiogram_and_ruff_are_pinned_tightly() -> None:
    project = pyproject()["project"]
    requirements = {
        canonicalize_name(Requirement(text).name): Requirement(text)
        for text in project["dependencies"] + project["optional-dependencies"]["dev"]
    }
    # The Telegram channel subclasses aiogram's session internals: one minor release only.
    aiogram = requirements["aiogram"].specifier
    tested = lock_pins(DEV_LOCK)["aiogram"][0]
    major, minor = (int(part) for part in tested.split(".")[:2])
    assert aiogram.contains(tested) and not aiogram.contains(f"{major}.{minor + 1}.0")
    assert not aiogram.contains(f"{major}.{minor - 1}.0")
    ruff = [spec for spec in requirements["ruff"].specifier]
    assert (
        len(ruff) == 1
        and ruff[0].operator == "=="
        and ruff[0].version == lock_pins(DEV_LOCK)["ruff"][0]
    )
