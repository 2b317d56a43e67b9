"""api-service: a small item resource that accepts only auth-service's bearer tokens."""
