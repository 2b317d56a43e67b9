"""The behaviours the design rests on that no AWS document settles (docs/assumptions.md).

Each carries the name of the release rehearsal's setting that models it (a key of
tools/rehearsal/assumptions.yaml) and the value the rehearsal assumes (that key's default;
tests/rehearsal/test_assumption_settings.py keeps them equal), so a report can say which setting
to change when AWS behaves differently. Where the check observes something the rehearsal cannot
replay, `when_broken` says what to do instead of changing the setting.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Assumption:
    key: str
    title: str
    rehearsal_setting: str
    assumed: str
    when_broken: str = ""  # empty: set `rehearsal_setting` to what AWS showed


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
            "codepipeline_continuation_delay_seconds",
            "60",
        ),
        Assumption(
            "A6",
            "The first deploy completes in every egress mode",
            "bootstrap_first_pull",
            "needs_internet_path",
            "the check sees whole stacks, which the rehearsal does not create (it starts from "
            "one that exists): no setting replays a copy that did not complete; revisit the "
            "first deploy (docs/runtime.md). Set bootstrap_first_pull to works_over_endpoints "
            "only when a VpcEndpoints copy is seen running its bootstrap tasks",
        ),
        Assumption(
            "A7",
            "An alarm in ALARM during the blue termination wait still stops the deployment and "
            "moves traffic back",
            "termination_wait_alarm_monitoring",
            "stops",
        ),
        Assumption(
            "A8",
            "StopDeployment with rollback during the blue termination wait moves traffic back",
            "termination_wait_rollback",
            "possible",
        ),
        Assumption(
            "A9",
            "A rollback deployment does not invoke the AppSpec's hook functions",
            "rollback_runs_hooks",
            "no",
        ),
        Assumption(
            "A10",
            "StopDeployment stops a rollback deployment in progress",
            "stop_rollback_deployment",
            "stops",
        ),
    )
}
