"""Static analysis: discover -> summarise -> link -> graph -> checks -> report."""
