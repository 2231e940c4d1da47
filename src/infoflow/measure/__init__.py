"""Measurement apart from training: the information probe and its schedules."""
