"""Estimators of I(X;T_l) and I(T_l;Y): sample propagation, bounds, binning; exact truth."""
