"""The entropy engine: h(P_hat * N(0, beta^2 I)) in nats; knows nothing of networks."""
