"""Bridges to training frameworks, each an optional extra (``infoflow[lightning]``); none is imported by ``infoflow``."""
