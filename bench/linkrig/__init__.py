"""5G-like links on one machine for benchmarks and tests: a client network namespace joined to the root namespace
through a user-space shaper (delay, jitter, loss) and the kernel's token bucket (rate). See docs/links.md."""
