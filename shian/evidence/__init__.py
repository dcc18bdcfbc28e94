"""Evidence: content-addressed files captured with every page, and case-file packages."""
