"""The REST API under /api/: staff-only oversight of the agent (thin views over services)."""
