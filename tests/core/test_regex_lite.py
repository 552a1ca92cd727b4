"""compile_search: the same verdict as re.search, without re for `word.*word` patterns."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from argus.regex_lite import compile_search

WORDS = st.text(alphabet="ab-/ \n.", max_size=4)
TEXT = st.text(alphabet="ab-/ \n.x", max_size=20)


@settings(max_examples=500)
@given(st.lists(WORDS, min_size=1, max_size=4), TEXT)
def test_literal_words_joined_by_dot_star_agree_with_re(words: list[str], text: str) -> None:
    pattern = ".*".join(words)
    try:
        expected = re.search(pattern, text) is not None
    except re.error:
        return
    assert compile_search(pattern)(text) == expected


@pytest.mark.parametrize(("pattern", "text", "found"), [
    ("node.*--test", "node --test a.js", True),
    ("node.*--test", "/usr/bin/node x --test", True),
    ("node.*--test", "--test node", False),
    ("node.*--test", "node\n--test", False),  # '.' does not cross a newline
    ("node.*--test", "bash -c \nnode --test", True),  # one line holds both
    ("^node", "xnode", False),  # anchors: handed to re
    ("node|deno", "deno run", True),  # alternation: handed to re
    ("n[o]de", "node", True),
    ("", "anything", True),
])
def test_examples(pattern: str, text: str, found: bool) -> None:
    assert compile_search(pattern)(text) is found
    assert (re.search(pattern, text) is not None) is found


def test_the_default_orphan_rule_does_not_import_re() -> None:
    code = ("import sys; from argus.regex_lite import compile_search; "
            "assert compile_search('node.*--test')('node --test'); print('re' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_a_pattern_re_refuses_raises_re_error() -> None:
    with pytest.raises(re.error):
        compile_search("(unclosed")
