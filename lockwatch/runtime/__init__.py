"""Runtime tracer: instrument -> record -> detect -> report."""
