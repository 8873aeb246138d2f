"""edX data: research-data-package grammar and readers, course structure, tracking lines."""
