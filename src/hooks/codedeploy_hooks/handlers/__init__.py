"""One Lambda handler per CodeDeploy hook: decorators, the event, one call into the runner."""
