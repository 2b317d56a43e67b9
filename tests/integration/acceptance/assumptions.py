"""The behaviours the design rests on that no AWS document settles (docs/assumptions.md).

Each carries the name of the release rehearsal's setting that models it and the value the
rehearsal assumes, so a report can say which setting to change when AWS behaves differently.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Assumption:
    key: str
    title: str
    rehearsal_setting: str
    assumed: str


ASSUMPTIONS: dict[str, Assumption] = {
    a.key: a
    for a in (
        Assumption(
            "A1",
            "CodeDeploy invokes hook functions asynchronously",
            "hook_invocation",
            "async",
        ),
        Assumption(
            "A2",
            "Deployment-group alarm monitoring ignores INSUFFICIENT_DATA",
            "alarm_monitoring_insufficient_data",
            "ignored",
        ),
        Assumption(
            "A3",
            "After a deployment each listener forwards to both target groups, the idle one at "
            "weight 0",
            "listener_forward_after_deploy",
            "both_groups_idle_at_zero",
        ),
        Assumption(
            "A4",
            "A queued execution does not overtake a stage rollback",
            "queued_overtakes_rollback",
            "never",
        ),
        Assumption(
            "A5",
            "CodePipeline re-invokes a continuation about once a minute",
            "continuation_interval_seconds",
            "60",
        ),
        Assumption(
            "A6",
            "The first deploy completes in every egress mode",
            "first_deploy_egress_modes",
            "VpcEndpoints,NatGateway,PublicSubnets",
        ),
    )
}
