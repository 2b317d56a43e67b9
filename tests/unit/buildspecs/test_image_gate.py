"""buildspecs/scripts/image_gate.py: which scan findings fail the build; the allow-list rules."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from buildspecs.scripts import image_gate
from buildspecs.scripts.image_gate import AllowEntry, Finding, GateInputError, judge

TODAY = date(2026, 11, 30)


def basic_scan(*findings: tuple[str, str], status: str = "COMPLETE") -> dict[str, Any]:
    """What `aws ecr describe-image-scan-findings` prints for basic scanning."""
    return {
        "imageScanStatus": {"status": status, "description": "The scan was completed."},
        "imageScanFindings": {
            "findings": [{"name": name, "severity": severity} for name, severity in findings]
        },
    }


def test_a_finding_at_the_threshold_blocks() -> None:
    verdict = judge([Finding("CVE-1", "CRITICAL")], [], "CRITICAL", "api-service", TODAY)
    assert not verdict.passed
    assert verdict.blocking == [Finding("CVE-1", "CRITICAL")]


def test_a_finding_below_the_threshold_is_counted_but_passes() -> None:
    verdict = judge([Finding("CVE-1", "HIGH")], [], "CRITICAL", "api-service", TODAY)
    assert verdict.passed
    assert verdict.counts == {"HIGH": 1}


def test_a_lower_threshold_also_blocks_everything_more_severe() -> None:
    findings = [Finding("CVE-1", "CRITICAL"), Finding("CVE-2", "MEDIUM"), Finding("CVE-3", "LOW")]
    verdict = judge(findings, [], "MEDIUM", "api-service", TODAY)
    assert [f.vulnerability for f in verdict.blocking] == ["CVE-1", "CVE-2"]


def test_none_reports_without_blocking() -> None:
    verdict = judge([Finding("CVE-1", "CRITICAL")], [], "NONE", "api-service", TODAY)
    assert verdict.passed


def test_an_unexpired_allow_list_entry_excuses_its_vulnerability() -> None:
    entry = AllowEntry("CVE-1", "no fix upstream; not reachable", date(2026, 12, 31))
    verdict = judge([Finding("CVE-1", "CRITICAL")], [entry], "CRITICAL", "api-service", TODAY)
    assert verdict.passed
    assert verdict.excused == [Finding("CVE-1", "CRITICAL")]


def test_an_expired_entry_excuses_nothing_and_is_reported() -> None:
    entry = AllowEntry("CVE-1", "waiting for a base image", date(2026, 11, 29))
    verdict = judge([Finding("CVE-1", "CRITICAL")], [entry], "CRITICAL", "api-service", TODAY)
    assert not verdict.passed
    assert verdict.expired == [entry]


def test_an_entry_for_another_service_excuses_nothing_here() -> None:
    entry = AllowEntry("CVE-1", "auth only", date(2026, 12, 31), service="auth-service")
    verdict = judge([Finding("CVE-1", "CRITICAL")], [entry], "CRITICAL", "api-service", TODAY)
    assert not verdict.passed


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"id": "CVE-1", "expires": "2026-12-31"}, "no reason"),
        ({"id": "CVE-1", "reason": "r"}, "needs expires"),
        ({"id": "CVE-1", "reason": "r", "expires": "next year"}, "needs expires"),
        ({"reason": "r", "expires": "2026-12-31"}, "no id"),
        ({"id": "CVE-1", "reason": "r", "expires": "2026-12-31", "note": "x"}, "unknown keys"),
    ],
)
def test_an_allow_list_entry_needs_an_id_a_reason_and_an_expiry(
    entry: dict[str, str], message: str
) -> None:
    with pytest.raises(GateInputError, match=message):
        image_gate.parse_allowlist({"entries": [entry]}, today=TODAY)


@pytest.mark.parametrize("expires", ["2027-03-01", "2099-12-31"])
def test_an_allow_list_entry_running_past_ninety_days_is_refused(expires: str) -> None:
    # GIVEN an exception meant to be forgotten (TODAY + 91 days, or forever)
    entry = {"id": "CVE-1", "reason": "accepted", "expires": expires}
    # WHEN / THEN the gate refuses the allow-list (exit 2 from the command)
    with pytest.raises(GateInputError, match="more than 90 days"):
        image_gate.parse_allowlist({"entries": [entry]}, today=TODAY)


def test_an_allow_list_entry_of_exactly_ninety_days_is_accepted() -> None:
    entry = {"id": "CVE-1", "reason": "no fix upstream", "expires": "2027-02-28"}
    [parsed] = image_gate.parse_allowlist({"entries": [entry]}, today=TODAY)
    assert parsed.expires == date(2027, 2, 28)


@pytest.mark.parametrize("fail_on", ["CRITICAL", "HIGH", "MEDIUM", "LOW"])
def test_an_untriaged_finding_blocks_at_every_threshold(fail_on: str) -> None:
    # GIVEN an enhanced-scanning finding nobody has rated yet
    verdict = judge([Finding("CVE-9", "UNTRIAGED")], [], fail_on, "api-service", TODAY)
    # THEN it counts against the gate: it may be critical
    assert not verdict.passed
    assert verdict.counts == {"UNTRIAGED": 1}


def test_an_untriaged_finding_can_be_excused_and_none_reports_it_without_blocking() -> None:
    entry = AllowEntry("CVE-9", "triaged by hand: not reachable", date(2026, 12, 31))
    untriaged = [Finding("CVE-9", "UNTRIAGED")]
    assert judge(untriaged, [entry], "CRITICAL", "api-service", TODAY).passed
    assert judge(untriaged, [], "NONE", "api-service", TODAY).passed


def test_the_committed_allow_list_is_valid() -> None:
    document = json.loads(Path("security/image-scan-allowlist.json").read_text())
    for entry in image_gate.parse_allowlist(document, today=date.today()):
        assert entry.reason.strip()


def test_enhanced_findings_are_read_by_vulnerability_id() -> None:
    document = {
        "imageScanStatus": {"status": "ACTIVE"},
        "imageScanFindings": {
            "enhancedFindings": [
                {
                    "severity": "HIGH",
                    "title": "CVE-9 - openssl",
                    "packageVulnerabilityDetails": {
                        "vulnerabilityId": "CVE-9",
                        "vulnerablePackages": [{"name": "openssl"}],
                    },
                }
            ]
        },
    }
    assert image_gate.parse_findings(document) == [Finding("CVE-9", "HIGH", "openssl")]


@pytest.mark.parametrize("status", ["FAILED", "IN_PROGRESS", None])
def test_a_scan_that_did_not_complete_fails_the_gate(tmp_path: Path, status: str | None) -> None:
    # GIVEN findings of a scan that is not COMPLETE (or no status at all)
    document = basic_scan() if status is None else basic_scan(status=status)
    if status is None:
        del document["imageScanStatus"]
    findings = tmp_path / "scan.json"
    findings.write_text(json.dumps(document))
    allowlist = tmp_path / "allow.json"
    allowlist.write_text('{"entries": []}')

    # WHEN the gate runs, THEN it blocks: nothing proves the image clean
    assert image_gate.main(_args(findings, allowlist, "CRITICAL")) == 1


def _args(findings: Path, allowlist: Path, fail_on: str) -> list[str]:
    return [
        "--findings", str(findings), "--allowlist", str(allowlist),
        "--fail-on", fail_on, "--service", "api-service", "--today", TODAY.isoformat(),
    ]  # fmt: skip


def test_the_command_exits_1_and_names_the_blocking_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    findings = tmp_path / "scan.json"
    findings.write_text(json.dumps(basic_scan(("CVE-7", "CRITICAL"), ("CVE-8", "LOW"))))
    allowlist = tmp_path / "allow.json"
    allowlist.write_text('{"entries": []}')

    assert image_gate.main(_args(findings, allowlist, "CRITICAL")) == 1
    out = capsys.readouterr().out
    assert "BLOCKING CRITICAL CVE-7" in out
    assert "image gate: FAILED" in out


def test_the_command_exits_2_on_a_bad_allow_list(tmp_path: Path) -> None:
    findings = tmp_path / "scan.json"
    findings.write_text(json.dumps(basic_scan()))
    allowlist = tmp_path / "allow.json"
    allowlist.write_text('{"entries": [{"id": "CVE-1"}]}')
    assert image_gate.main(_args(findings, allowlist, "CRITICAL")) == 2
