"""The shared kernel: small pieces every app may use and that import no app.

Lowest layer of the import contract (pyproject.toml, [tool.importlinter])."""
