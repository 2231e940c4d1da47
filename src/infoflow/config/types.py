"""The value types of a config: strict scalars (no "3" for 3, no true for 1, no NaN), tuples.

Defined in :mod:`infoflow.fields` (shared with every validated settings object); re-exported here.
"""

from infoflow.fields import SECTION, Flag, Integer, Matrix, Number, Text, Vector, fill_defaults

__all__ = ["SECTION", "Flag", "Integer", "Matrix", "Number", "Text", "Vector", "fill_defaults"]
