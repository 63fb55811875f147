"""`python -m bench.broadcast`: target + enqueue of an outage over 100,000 subscribers,
delivery throughput against the fake platform servers, and kill -9 figures."""
