"""Synthetic client: a scheduled Lambda that gives each environment traffic during every bake.

Each run checks every service's /health and smoke paths and walks one business flow end to end
(auth-service token -> api-service items -> notification-service notification), then publishes,
per service, whether its checks passed and how slow its slowest request was.
"""
