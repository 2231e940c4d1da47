"""Paper-specific code: each reproduced paper in its own package, registered on import.

``infoflow/__init__.py`` imports this package; each paper's ``__init__`` registers what it ships
with :func:`infoflow.registry.register`. A new paper is a new package here plus one line below.
"""

from infoflow.papers import goldfeld2019, kong2019

__all__ = ["goldfeld2019", "kong2019"]
