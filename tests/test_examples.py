"""Every example program runs and prints what it promises."""

import re
import runpy
from pathlib import Path

import pytest


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(name, capsys):
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    return capsys.readouterr().out


@pytest.mark.slow
def test_blog_000_example_prints_the_blog_numbers(capsys):
    out = run("blog_000_xor.py", capsys)
    assert "Epoch 0, Loss: 0.2558" in out and "Epoch 9000, Loss: 0.1438" in out
    assert "0.1241" in out and "0.8914" in out


@pytest.mark.slow  # 0.6 s: the example's whole training
def test_blog_001_example_learns(capsys):
    out = run("blog_001_hand_by_hand.py", capsys)
    assert "Final output after training:" in out
    values = [float(v) for v in re.findall(r"\d\.\d+(?:e-?\d+)?", out.split("training:")[1])]
    assert [round(v) for v in values] == [0, 1, 1, 0]


def test_blog_002_example_loss_falls(capsys):
    out = run("blog_002_column_vectors.py", capsys)
    losses = [float(line.split("Loss: ")[1]) for line in out.splitlines() if "Loss:" in line]
    assert len(losses) == 10 and losses[-1] < losses[0]
