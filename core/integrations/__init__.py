"""Integrations: the records and their lifecycle (`repository`), credentials sealed or referenced
(`credentials`), and the scrubbing of secrets out of provider text (`redaction`)."""
