"""Evidence packs and reports on paper, shared by the features that print them and the
command line: charts (matplotlib, Agg) and PDF (Qt's writer)."""
