"""The reference training loop and the experiment runner built on the probe."""
