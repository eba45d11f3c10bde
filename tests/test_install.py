"""The install promises: the tested versions are recorded and used, the ranges exclude the next
majors we know break us, and the docs speak of the project, not of its issue tracker."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST_COMMAND = 'pip install -q -c constraints.txt -e ".[train,device,dev]" && pytest -q'


def constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, pinned = line.partition("==")
            assert pinned, f"constraints.txt: {line!r} is not an exact pin"
            pins[name.lower().replace("_", "-")] = pinned
    return pins


def requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["dependencies"] + sum(project["optional-dependencies"].values(), [])


def test_ci_and_readme_run_the_same_constrained_test_command():
    assert TEST_COMMAND in (ROOT / ".ci" / "run").read_text()
    assert TEST_COMMAND in (ROOT / "README.md").read_text()


def test_every_direct_dependency_is_pinned_inside_its_range():
    pins = constraints()
    for requirement in requirements():
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)[0].lower().replace("_", "-")
        assert name in pins, f"{name} is in pyproject.toml but not pinned in constraints.txt"
        for op, bound in re.findall(r"(>=|<)([0-9.]+)", requirement):
            pinned = tuple(int(x) for x in pins[name].split(".")[:2])
            limit = tuple(int(x) for x in bound.split(".")[:2])
            assert (pinned >= limit) if op == ">=" else (pinned < limit), (name, pins[name], op)


def test_opencv_5_and_the_device_floors_are_kept():
    by_name = {re.match(r"[A-Za-z0-9_.-]+", r)[0]: r for r in requirements()}
    assert "<5" in by_name["opencv-contrib-python-headless"]
    assert ">=1.24" in by_name["numpy"] and ">=9.4" in by_name["pillow"]  # Raspberry Pi OS


def test_docs_name_no_issue_numbers():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        found = re.findall(r"\b[Ii]ssues? #?\d+|#\d{1,3}\b", doc.read_text())
        assert not found, f"{doc.name} names {found}: say what the thing is instead"
