"""The yearly REEN indicator report: figures, pages, open data."""
