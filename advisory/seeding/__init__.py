"""Demo and scale data. Only management commands, bench and tests import this.

demo     the demo firm `make run` loads (seed_demo)
content  the demo's words: requests, recommendations, outcomes
scale    a large seeded firm for benchmarks (seed_scale)
"""
