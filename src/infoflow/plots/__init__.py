"""Figures drawn from run folders."""
