"""Property tests with hypothesis: the schedule and the loops stated as math, over generated inputs."""
