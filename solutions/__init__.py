"""The reference solutions, and the single source of every exercise (see CONTRIBUTING.md)."""
