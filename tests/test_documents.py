"""driftwarden.documents: YAML and JSON read within depth and expansion bounds."""

import itertools

import pytest

from driftwarden.documents import MAX_DEPTH, load_json, load_yaml, load_yaml_documents
from driftwarden.errors import ConfigError


def alias_bomb(levels: int) -> str:
    """The "billion laughs": each level a list of nine aliases of the level below."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in itertools.pairwise("abcdefghijklmnop"[:levels]):
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    return "\n".join(lines)


def test_an_alias_bomb_is_refused_before_anything_expands():
    text = alias_bomb(9)  # 9^9 = 387 million strings once expanded, 1.3 KB as text
    assert len(text) < 1500
    with pytest.raises(ConfigError, match="src: expands to more than"):
        load_yaml(text, "src")


def test_small_anchors_and_aliases_are_fine():
    value = load_yaml(alias_bomb(3) + "\nuse: *c", "src")
    assert len(value["use"]) == 9 and value["use"][0][0][0] == "lol"


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, "{a: " * 200 + "1" + "}" * 200])
def test_deep_yaml_is_refused_without_recursion(text):
    with pytest.raises(ConfigError, match=f"nested deeper than {MAX_DEPTH} levels"):
        load_yaml(text, "src")


def test_just_under_the_depth_limit_loads():
    text = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert load_yaml(text, "src") is not None


def test_each_document_has_its_own_budget_and_empty_ones_are_dropped():
    assert load_yaml_documents("a: 1\n---\n---\nb: 2\n", "src") == [{"a": 1}, {"b": 2}]
    with pytest.raises(ConfigError, match="holds 2 YAML documents"):
        load_yaml("a: 1\n---\nb: 2\n", "src")


def test_invalid_yaml_is_one_line_naming_the_source():
    with pytest.raises(ConfigError) as info:
        load_yaml("a: [1, 2\nb: 3", "--config m.yaml")
    assert str(info.value).startswith("--config m.yaml is not valid YAML")
    assert "\n" not in str(info.value)


def test_deep_json_is_refused_and_brackets_in_strings_do_not_count():
    with pytest.raises(ConfigError, match="nested deeper"):
        load_json("[" * 10_000 + "]" * 10_000, "env")
    assert load_json('{"a": "[[[[\\"{{{{' + "[" * 100 + '"}', "env") == {
        "a": '[[[["{{{{' + "[" * 100
    }
    with pytest.raises(ConfigError, match="env: not valid JSON"):
        load_json("{", "env")
