"""Paper-specific code: each reproduced paper in its own package."""
