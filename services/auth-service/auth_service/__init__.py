"""auth-service: client-credentials tokens signed with Ed25519, and the key set to verify them."""
