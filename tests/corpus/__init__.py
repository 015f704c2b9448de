"""Broken-file corpus (and the valid baseline it departs from); see tests/test_corpus.py."""
