"""Views: everything a person reads. Domain code returns data; these modules print it (rich on a terminal,
plain lines elsewhere, JSON with `--json`)."""
