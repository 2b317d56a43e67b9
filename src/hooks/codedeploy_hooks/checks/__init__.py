"""The hooks' checks. Each is one function `(DeploymentTarget, Dependencies, Deadline) -> Verdict`
(smoke_test.smoke_test, traffic_guard.traffic_guard): it reads its facts through the clients it is
given and decides with pure functions beside it. The modules without a check hold the reads the
checks share (deployment, load balancing, network, HTTP)."""
