"""checkov over infra/: no failed check; every deliberate skip carries a reason and is still needed.

checkov lives in its own environment (.tools/venv, `make tools`), so its large dependency tree
never shapes the app's. CI always runs `make tools` first, so a missing checkov is a failure.
"""
from __future__ import annotations

import json
import subprocess

import pytest

from tests.infra.bicep import INFRA, Template

CHECKOV = INFRA.parent / ".tools" / "venv" / "bin" / "checkov"


@pytest.fixture(scope="module")
def checkov_reports() -> list[dict]:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV.relative_to(INFRA.parent)}: run `make tools`", pytrace=False)
    result = subprocess.run(
        [str(CHECKOV), "--directory", str(INFRA), "--output", "json", "--skip-download"],
        capture_output=True, text=True, timeout=600, cwd=INFRA.parent)
    try:
        reports = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov printed no JSON (exit {result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return reports if isinstance(reports, list) else [reports]


def _bicep(reports: list[dict]) -> dict:
    found = [report for report in reports if report.get("check_type") == "bicep"]
    assert found, f"checkov scanned no Bicep: {[report.get('check_type') for report in reports]}"
    return found[0]


def test_checkov_finds_no_failed_check(checkov_reports):
    failures = [f"{report.get('check_type')}: {check['check_id']} {check['check_name']} "
                f"({check['resource']}, {check['file_path']}:{check['file_line_range']})"
                for report in checkov_reports for check in report["results"].get("failed_checks", [])]
    assert not failures, "checkov failed checks:\n" + "\n".join(failures)
    for report in checkov_reports:
        assert report["summary"]["parsing_errors"] == 0, report["summary"]


def test_checkov_scanned_the_templates(checkov_reports, template: Template):
    summary = _bicep(checkov_reports)["summary"]
    assert summary["passed"] > 0 and summary["resource_count"] >= len(template.main.resources) // 2, summary


def test_every_skip_has_a_reason(template: Template):
    for file in template.files.values():
        for line, check_id, reason in file.skip_comments():
            assert len(reason.split()) >= 4, f"{file.path.name}:{line}: skip of {check_id} needs a one-line reason"


def test_every_skip_is_still_needed(checkov_reports, template: Template):
    applied = {(check["file_path"].lstrip("/"), check["check_id"])
               for check in _bicep(checkov_reports)["results"].get("skipped_checks", [])}
    for file in template.files.values():
        relative = str(file.path.relative_to(INFRA))
        for line, check_id, _ in file.skip_comments():
            assert (relative, check_id) in applied, (
                f"{relative}:{line}: checkov no longer reports {check_id} there; remove the skip")
