"""The one template loader the tests and the rehearsal share parses each file version once: what
it returns must still be what the file says now, and a copy nobody else sees."""

from __future__ import annotations

from pathlib import Path

from tools.cfn_render import load_template

TEMPLATE = """\
Parameters:
  Suffix:
    Type: String
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub "alerts-${Suffix}"
"""


def test_a_changed_file_is_read_again_even_with_the_same_size_and_time(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    before = path.stat()
    first = load_template(path)

    # WHEN the file is rewritten at once to the same length (a coarse clock may keep its mtime)
    path.write_text(TEMPLATE.replace("alerts", "errors"))
    assert path.stat().st_size == before.st_size

    # THEN the new content is what the loader returns
    second = load_template(path)
    assert first["Resources"]["Topic"]["Properties"]["TopicName"] == {"Fn::Sub": "alerts-${Suffix}"}
    assert second["Resources"]["Topic"]["Properties"]["TopicName"] == {
        "Fn::Sub": "errors-${Suffix}"
    }


def test_each_caller_gets_a_copy_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)

    # WHEN one caller edits what it got (as the add-a-service tests do)
    edited = load_template(path)
    edited["Resources"]["Topic"]["Properties"]["TopicName"] = "changed"
    del edited["Parameters"]

    # THEN the next caller still gets the file as written, short-form intrinsics in long form
    fresh = load_template(path)
    assert "Suffix" in fresh["Parameters"]
    assert fresh["Resources"]["Topic"]["Properties"]["TopicName"] == {"Fn::Sub": "alerts-${Suffix}"}
