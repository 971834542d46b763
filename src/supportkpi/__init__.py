"""supportkpi."""
