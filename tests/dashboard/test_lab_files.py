"""Lab files: lab.yaml alone, in a zip or a directory; every error reported with its line."""

import io
import textwrap
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from dashboard.labs.labfile import LabInvalid, parse_lab
from dashboard.labs.markdown import render_markdown
from dashboard.labs.params import param_values
from dashboard.labs.sources import LabSourceError, files_from_path, files_from_upload

VALID = textwrap.dedent("""\
    title: Files and permissions
    description: Your number is {{SEED}}.
    image: busybox
    limits:
      memory: 64m
      cpus: 0.5
      pids: 64
      disk: 32m
    params:
      - {name: SEED, type: int, min: 1, max: 1000}
      - {name: TOKEN, type: hex, bytes: 8}
      - {name: COLOR, type: word, words: [red, green, blue]}
    setup: echo {{TOKEN}} > /root/token
    steps:
      - id: make-file
        title: Make a file
        text: {file: step1.md}
        check:
          run: test -f /tmp/{{COLOR}}
          fail: There is no /tmp/{{COLOR}} yet.
          points: 2
        hints:
          - {text: Use `touch`., after_failures: 2}
          - {text: Really., after_seconds: 60}
        solve: touch /tmp/{{COLOR}}
      - id: chmod
        title: Make it executable
        text: Run `chmod`.
        check:
          run: test -x /tmp/{{COLOR}}
          timeout: 10
          auto: true
""")
STEP1 = b"Create `/tmp/{{COLOR}}`.\n\n```run\ntouch /tmp/{{COLOR}}\n```\n"


def lines_of(text: str, files=None) -> list[tuple[int | None, str]]:
    with pytest.raises(LabInvalid) as caught:
        parse_lab({"lab.yaml": textwrap.dedent(text).encode(), **(files or {})})
    return [(e.line, e.message) for e in caught.value.errors]


def test_a_valid_lab_is_read_with_its_defaults():
    definition = parse_lab({"lab.yaml": VALID.encode(), "step1.md": STEP1}).definition
    assert definition["title"] == "Files and permissions"
    assert definition["image"] == "busybox"
    assert definition["limits"] == {"memory_bytes": 64 << 20, "cpus": 0.5, "pids_limit": 64, "disk_bytes": 32 << 20}
    assert [p["name"] for p in definition["params"]] == ["SEED", "TOKEN", "COLOR"]
    first, second = definition["steps"]
    assert first["text"] == STEP1.decode()
    assert first["check"] == {"run": "test -f /tmp/{{COLOR}}", "timeout": 5.0, "fail": "There is no /tmp/{{COLOR}} yet.",
                              "points": 2, "auto": False}
    assert first["hints"][0] == {"text": "Use `touch`.", "after_seconds": 0, "after_failures": 2}
    assert second["check"]["timeout"] == 10 and second["check"]["auto"] is True and second["check"]["points"] == 1
    assert second["check"]["fail"] == "Not done yet." and second["solve"] is None


@pytest.mark.parametrize("text, line, words", [
    ("title: [\n", 2, "not valid YAML"),
    ("title: t\nimage: busybox\n", 1, "'steps' is required"),
    ("title: t\nimage: busybox\ncolour: red\nsteps: []\n", 3, "unknown key 'colour'"),
    ("title: t\nimage: busybox\nsteps: []\n", 3, "at least one step"),
    ("title: t\nimage: busybox\nlimits:\n  memory: 1k\nsteps: []\n", 4, "memory limit must be at least"),
    ("title: t\nimage: busybox\nlimits:\n  cpus: lots\nsteps: []\n", 4, "is not a number"),
    ("title: t\nimage: busybox\nparams:\n  - {name: lower, type: int, min: 1, max: 2}\nsteps: []\n", 4, "name"),
    ("title: t\nimage: busybox\nparams:\n  - {name: X, type: float}\nsteps: []\n", 4, "type must be one of"),
    ("title: t\nimage: busybox\nparams:\n  - {name: X, type: int, min: 5, max: 2}\nsteps: []\n", 4, "min <= max"),
    ("title: t\nimage: busybox\nparams:\n  - {name: X, type: word, words: ['a b']}\nsteps: []\n", 4, "words"),
    ("title: t\nimage: busybox\nsteps:\n  - id: Bad Id\n", 4, "an id is lowercase"),
    ("title: t\nimage: busybox\nsteps:\n  - {id: a, title: t, text: '{{NOPE}}', check: {run: 'true'}}\n", 4,
     "{{NOPE}}, which is not one of the params"),
    ("title: t\nimage: busybox\nsteps:\n  - id: a\n    title: t\n    text: x\n    check:\n      run: 'true'\n"
     "      timeout: 61\n", 9, "between 0.1 and 60"),
    ("title: t\nimage: busybox\nsteps:\n  - id: a\n    title: t\n    text: {file: gone.md}\n    check: {run: x}\n",
     6, "'gone.md' is not in the lab"),
    ("title: t\nimage: busybox\nsteps:\n  - {id: a, title: t, text: x, check: {run: x}}\n"
     "  - {id: a, title: t, text: x, check: {run: x}}\n", 5, "another step has the id 'a'"),
    ("title: t\nimage: busybox\nsteps:\n  - id: a\n    title: t\n    text: x\n    check: {run: x, points: -1}\n",
     7, "points must be between"),
    ("title: t\nimage: busybox\nsteps:\n  - id: a\n    title: t\n    text: x\n    check: {run: x}\n"
     "    hints:\n      - {text: h, after_failures: many}\n", 9, "after_failures must be a whole number"),
])
def test_each_kind_of_error_is_reported_with_its_line(text, line, words):
    errors = lines_of(text)
    assert any(at == line and words in message for at, message in errors), errors


def test_every_error_is_reported_not_only_the_first():
    errors = lines_of("""\
        title: ""
        image: busybox
        limits:
          memory: 1k
        steps:
          - id: a
            title: t
            text: x
            check: {run: x, timeout: 0}
          - id: b
            title: t
            text: x
        """)
    assert [line for line, _ in errors] == [1, 4, 9, 10]


def test_a_zip_with_markdown_files_is_a_lab():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("course/lab.yaml", VALID)
        archive.writestr("course/step1.md", STEP1)
    files = files_from_upload(buffer.getvalue())
    assert parse_lab(files).definition["steps"][0]["text"] == STEP1.decode()


def test_a_zip_reaching_outside_the_lab_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lab.yaml", VALID)
        archive.writestr("../step1.md", STEP1)
    with pytest.raises(LabSourceError, match="outside the lab"):
        files_from_upload(buffer.getvalue())


def test_a_directory_is_a_lab_and_its_symlinks_are_not_followed(tmp_path):
    (tmp_path / "lab.yaml").write_text(VALID)
    (tmp_path / "secret").write_bytes(STEP1)
    (tmp_path / "step1.md").symlink_to(tmp_path / "secret")
    with pytest.raises(LabInvalid, match="'step1.md' is not in the lab"):
        parse_lab(files_from_path(tmp_path))
    (tmp_path / "step1.md").unlink()
    (tmp_path / "step1.md").write_bytes(STEP1)
    assert parse_lab(files_from_path(tmp_path)).definition["title"] == "Files and permissions"


def test_params_are_stable_for_a_student_and_differ_between_students():
    params = parse_lab({"lab.yaml": VALID.encode(), "step1.md": STEP1}).definition["params"]
    secret = b"s" * 32
    first = param_values(params=params, secret=secret, student_id=7)
    assert first == param_values(params=params, secret=secret, student_id=7)
    assert 1 <= int(first["SEED"]) <= 1000 and len(first["TOKEN"]) == 16 and first["COLOR"] in {"red", "green", "blue"}
    others = [param_values(params=params, secret=secret, student_id=n) for n in range(8, 20)]
    assert all(other["TOKEN"] != first["TOKEN"] for other in others)
    assert len({other["SEED"] for other in others}) > 1
    assert param_values(params=params, secret=b"t" * 32, student_id=7)["TOKEN"] != first["TOKEN"]


def test_markdown_keeps_no_html_and_marks_run_and_copy_blocks():
    html = render_markdown("<script>alert(1)</script>\n\n```run\necho <b>\n```\n\n```copy\nls\n```\n")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<div class="lab-code" data-run><pre><code>echo &lt;b&gt;\n</code></pre>' in html
    assert ">Run</button>" in html and ">Copy</button>" in html


def test_lab_validate_prints_what_it_found(tmp_path, capsys):
    (tmp_path / "lab.yaml").write_text(VALID)
    (tmp_path / "step1.md").write_bytes(STEP1)
    call_command("lab", "validate", str(tmp_path))
    out = capsys.readouterr().out
    assert "title: Files and permissions" in out and "image: busybox" in out
    assert "steps: 2, 3 points" in out and "make-file: Make a file (2 points" in out
    assert "COLOR: word one of 3 words" in out


def test_lab_validate_prints_every_error_with_its_line_and_fails(tmp_path, capsys):
    bad = tmp_path / "lab.yaml"
    bad.write_text("title: t\nimage: busybox\nlimits:\n  memory: 1k\nsteps:\n  - id: A\n")
    with pytest.raises(CommandError, match="5 error"):
        call_command("lab", "validate", str(bad))
    err = capsys.readouterr().err
    assert "line 4: The memory limit" in err and "line 6: step A: an id" in err and "line 6: step 1: 'check' is required" in err


def test_the_readme_example_is_a_valid_lab():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    example = readme.split("## Labs", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    definition = parse_lab({"lab.yaml": example.encode(), "step1.md": b"Make it."}).definition
    assert definition["steps"][0]["check"]["points"] == 2
