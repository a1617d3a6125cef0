"""skyscan.viz."""
