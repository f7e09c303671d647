"""Free-text request parser (plain Python; see parser.parse)."""
