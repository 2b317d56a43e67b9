"""CodeDeploy lifecycle-hook Lambdas for the ECS blue/green deployments (see docs/hooks.md)."""
