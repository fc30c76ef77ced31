"""docs/corpus.md is the corpus as it is (regenerate with `make corpus-table`)."""
from conftest import REPO
from corpus_table import table


def test_docs_table_matches_the_corpus():
    assert (REPO / "docs" / "corpus.md").read_text() == table(), "run make corpus-table"
