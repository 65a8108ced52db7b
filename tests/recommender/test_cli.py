"""The root of the xuanpin command: every subcommand listed with its help, loaded only when asked for, and every
XuanpinError printed as a clean ``Error: ...`` (exit code 1) instead of a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from recommender.cli import SUBCOMMANDS, main
from recommender.registry import Registry

ROOT = Path(__file__).resolve().parents[2]


def xuanpin(*args: str) -> subprocess.CompletedProcess:
    """The command in a fresh interpreter, as a user runs it (stdout and stderr captured)."""
    return subprocess.run([sys.executable, "-m", "recommender.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_help_lists_every_subcommand_with_its_one_line_help():
    r = CliRunner().invoke(main, ["--help"], terminal_width=200)
    assert r.exit_code == 0, r.output
    listed = r.output.split("Commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listed] == sorted(SUBCOMMANDS) == sorted(
        ["generate", "train", "tune", "inspect", "evaluate", "nightly", "rollback", "registry", "serve",
         "stream-orders"])
    ctx = main.make_context("xuanpin", ["--help"], resilient_parsing=True)
    for line in listed:
        name, help_text = line.split(maxsplit=1)
        assert help_text == main.get_command(ctx, name).get_short_help_str(limit=200 - 6 - len(name))


def test_the_root_imports_neither_the_jobs_nor_the_service():
    code = ("import sys, recommender.cli; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'training', 'serve', 'fixtures'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_bad_config_file_is_a_clean_error_naming_the_field(tmp_path):
    config = tmp_path / "train.toml"
    config.write_text('[factors]\nalgorithm = "svd"\n')
    r = xuanpin("train", "--data", str(tmp_path / "snap"), "--out", str(tmp_path / "art"), "--config", str(config))
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("Error: ") and "train.toml: factors.algorithm: " in r.stderr
    assert not (tmp_path / "art").exists()


def test_a_bad_option_value_is_a_clean_error_naming_the_field(tmp_path):
    Registry.open(tmp_path / "registry")
    r = CliRunner().invoke(main, ["nightly", "--data", str(tmp_path), "--registry", str(tmp_path / "registry"),
                                  "--tolerance", "1.5"])
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.output
    assert "Error: command-line options: tolerance: " in r.output
    r = CliRunner().invoke(main, ["nightly", "--data", str(tmp_path), "--registry", str(tmp_path / "registry"),
                                  "--keep", "-1"])  # what click's range refuses, it refuses as a usage error
    assert r.exit_code == 2 and "Invalid value for '--keep': -1 is not in the range x>=0" in r.output


def test_an_unknown_registry_version_is_a_clean_error(tmp_path):
    reg = Registry.open(tmp_path / "registry")
    r = xuanpin("rollback", "--registry", str(reg.root), "--to", "20990101T000000Z")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("Error: ") and "no version '20990101T000000Z'; the versions here: none" in r.stderr
    assert reg.current() is None
    r = CliRunner().invoke(main, ["rollback", "--registry", str(reg.root)])
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit)
    assert "no version served before None" in r.output
