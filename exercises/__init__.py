"""Your exercises: one file per exam question. Edit them until `pytest exercises/` is green."""
