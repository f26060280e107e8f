"""Health: live probes and checks of many integrations (`service`), the health log (`log`), and
the model list each integration's last successful probe saw (`models_seen`)."""
