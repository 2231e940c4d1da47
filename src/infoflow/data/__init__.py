"""Distributions of X of any dimension, finite data sets, labelling rules."""
