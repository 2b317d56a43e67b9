"""Shared plumbing of the sample services, so each service's own code is only its endpoints."""
