"""VideoHelperSuite's own video format definitions, copied from the pack (data only)."""
