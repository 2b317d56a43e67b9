"""Fail the build when ECR's scan of the pushed image found what the project does not accept.

    usage: image_gate.py --findings <describe-image-scan-findings JSON> --allowlist <file>
                         --fail-on CRITICAL|HIGH|MEDIUM|LOW|NONE --service <service>
                         [--today YYYY-MM-DD]

The findings file is the AWS CLI's output for the image (basic scanning's `findings` or
enhanced scanning's `enhancedFindings`). A finding blocks when its severity is at or above
--fail-on and no unexpired allow-list entry names its vulnerability id (for this service or for
every service). An UNTRIAGED finding (enhanced scanning: no severity assigned yet) blocks whatever
--fail-on is, except NONE: nobody has said it is below the threshold. Every allow-list entry must
carry a reason and an expiry date at most MAX_ALLOW_DAYS ahead, so an exception is a decision
with an end, taken again at least that often, never a silent permanent skip. A scan that did not
complete blocks.
Exit 0 passes, 1 blocks (the report says why), 2 means bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

# ECR's severities, most severe first; UNTRIAGED (enhanced) and UNDEFINED rank below LOW.
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNTRIAGED", "UNDEFINED")
FAIL_ON = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "NONE")
# Not yet rated, so possibly critical: it gates at every threshold.
UNRATED = "UNTRIAGED"
# The longest an allow-list entry may run from the day the gate reads it.
MAX_ALLOW_DAYS = 90


class GateInputError(ValueError):
    """The findings or the allow-list do not have the documented shape."""


class ScanIncomplete(ValueError):
    """ECR has no completed scan of the image: nothing proves it clean, so it blocks."""


@dataclass(frozen=True)
class Finding:
    vulnerability: str
    severity: str
    package: str = ""


@dataclass(frozen=True)
class AllowEntry:
    vulnerability: str
    reason: str
    expires: date
    service: str | None = None

    def covers(self, finding: Finding, service: str, today: date) -> bool:
        return (
            self.vulnerability == finding.vulnerability
            and self.service in (None, service)
            and today <= self.expires
        )


@dataclass(frozen=True)
class Verdict:
    blocking: list[Finding]
    excused: list[Finding]
    expired: list[AllowEntry]
    counts: dict[str, int]

    @property
    def passed(self) -> bool:
        return not self.blocking


def parse_findings(document: dict[str, Any]) -> list[Finding]:
    status = document.get("imageScanStatus", {}).get("status")
    if status not in ("COMPLETE", "ACTIVE"):
        detail = document.get("imageScanStatus", {}).get("description", "")
        raise ScanIncomplete(f"the image scan is {status or 'missing'}, not COMPLETE {detail}")
    scan = document.get("imageScanFindings", {})
    findings = [
        Finding(str(item.get("name", "?")), str(item.get("severity", "UNDEFINED")))
        for item in scan.get("findings", [])
    ]
    for item in scan.get("enhancedFindings", []):
        details = item.get("packageVulnerabilityDetails", {})
        packages = details.get("vulnerablePackages", [])
        findings.append(
            Finding(
                str(details.get("vulnerabilityId") or item.get("title", "?")),
                str(item.get("severity", "UNDEFINED")),
                str(packages[0].get("name", "")) if packages else "",
            )
        )
    return findings


def parse_allowlist(document: Any, *, today: date) -> list[AllowEntry]:
    entries = document.get("entries") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise GateInputError('the allow-list must be {"entries": [...]}')
    parsed = []
    for index, entry in enumerate(entries):
        where = f"allow-list entry {index}"
        if not isinstance(entry, dict):
            raise GateInputError(f"{where} is not an object")
        unknown = sorted(set(entry) - {"id", "reason", "expires", "service"})
        if unknown:
            raise GateInputError(f"{where} has unknown keys {unknown}")
        if not str(entry.get("id", "")).strip():
            raise GateInputError(f"{where} has no id (the CVE or vulnerability id)")
        if not str(entry.get("reason", "")).strip():
            raise GateInputError(f"{where} ({entry['id']}) has no reason")
        try:
            expires = date.fromisoformat(str(entry.get("expires")))
        except ValueError:
            raise GateInputError(f"{where} ({entry['id']}) needs expires as YYYY-MM-DD") from None
        if expires > today + timedelta(days=MAX_ALLOW_DAYS):
            raise GateInputError(
                f"{where} ({entry['id']}) expires {expires}, more than {MAX_ALLOW_DAYS} days "
                f"after {today}: decide again before then"
            )
        parsed.append(AllowEntry(entry["id"], entry["reason"], expires, entry.get("service")))
    return parsed


def judge(
    findings: Iterable[Finding],
    allowlist: Sequence[AllowEntry],
    fail_on: str,
    service: str,
    today: date,
) -> Verdict:
    if fail_on not in FAIL_ON:
        raise GateInputError(f"--fail-on must be one of {list(FAIL_ON)}, got {fail_on!r}")
    gating = () if fail_on == "NONE" else (*SEVERITIES[: SEVERITIES.index(fail_on) + 1], UNRATED)
    blocking, excused, counts = [], [], dict.fromkeys(SEVERITIES, 0)
    for finding in findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
        if finding.severity not in gating:
            continue
        if any(entry.covers(finding, service, today) for entry in allowlist):
            excused.append(finding)
        else:
            blocking.append(finding)
    expired = [
        entry for entry in allowlist if entry.service in (None, service) and entry.expires < today
    ]
    return Verdict(blocking, excused, expired, {k: v for k, v in counts.items() if v})


def report(verdict: Verdict, service: str, fail_on: str) -> str:
    lines = [f"{service}: scan findings by severity {verdict.counts or 'none'}; fails on {fail_on}"]
    lines += [
        f"  BLOCKING {f.severity} {f.vulnerability} {f.package}".rstrip() for f in verdict.blocking
    ]
    lines += [f"  excused  {f.severity} {f.vulnerability} (allow-list)" for f in verdict.excused]
    lines += [
        f"  expired allow-list entry {e.vulnerability} ({e.expires}): {e.reason}"
        for e in verdict.expired
    ]
    lines.append("  image gate: " + ("passed" if verdict.passed else "FAILED"))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--findings", type=Path, required=True)
    parser.add_argument("--allowlist", type=Path, required=True)
    parser.add_argument("--fail-on", required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--today", type=date.fromisoformat, default=datetime.now(UTC).date())
    args = parser.parse_args(argv)
    try:
        findings = parse_findings(json.loads(args.findings.read_text()))
        allowlist = parse_allowlist(json.loads(args.allowlist.read_text()), today=args.today)
        verdict = judge(findings, allowlist, args.fail_on, args.service, args.today)
    except ScanIncomplete as error:
        print(f"image gate: FAILED, {error}", file=sys.stderr)
        return 1
    except (GateInputError, OSError, ValueError) as error:
        print(f"image gate: {error}", file=sys.stderr)
        return 2
    print(report(verdict, args.service, args.fail_on))
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    sys.exit(main())
