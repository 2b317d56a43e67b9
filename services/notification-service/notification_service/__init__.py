"""notification-service: accepts a message and publishes it to an SNS topic, or says it failed."""
