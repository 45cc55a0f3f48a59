# Part of every results-cache key: bump it whenever a change could alter any value the engine computes.
ENGINE_VERSION = "1.0.0"
