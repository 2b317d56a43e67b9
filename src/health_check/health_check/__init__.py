"""Health-validation Lambda: gates a pipeline stage on its alarms and ECS services, with a bake."""
