"""What several features use: menus, the desk's settings and ticket notices, topic lookup.

Not a feature (it has no router): features may import it, it imports no feature, so the
features stay independent of each other (see the import contracts in pyproject.toml)."""
