"""The experiment config: ONE schema, validated once at the boundary."""
