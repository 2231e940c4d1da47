"""Goldfeld et al. (2019), Estimating Information Flow in Deep Neural Networks: the SZT experiment (§6)."""
