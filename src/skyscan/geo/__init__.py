"""skyscan.geo."""
