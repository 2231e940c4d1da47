"""Clustering statistics and trajectories of run folders."""
