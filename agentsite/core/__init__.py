"""The shared kernel: small pieces every app may use and that import no app (errors, the
clock, call deadlines, secret redaction, the task registry).

It sits under `agentsite` so the top-level list of apps stays the project's own, but it is
the lowest layer of the import contract (pyproject.toml, [tool.importlinter]): it imports
nothing of the project, and every app may import it."""
