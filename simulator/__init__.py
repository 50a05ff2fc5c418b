"""Exchange simulators: fake venues on their real paths and wire shapes, for tests, the demo and benchmarks."""
