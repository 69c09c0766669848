"""Code every Tower process shares: configuration, database models, errors, progress bus."""
