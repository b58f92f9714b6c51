"""The command line: `handprop xor` reproduces blog 000 and takes the blog's suggested tweaks."""

import subprocess
import sys

import pytest

from handprop.cli import main


@pytest.mark.slow
def test_xor_defaults_print_blog_000s_numbers(capsys):
    assert main(["xor"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Epoch 0, Loss: 0.2558\n")
    assert "Epoch 9000, Loss: 0.1438" in out
    assert "[[0.1241]\n [0.4808]\n [0.8914]\n [0.5080]]" in out
    table = [line for line in out.splitlines() if line.startswith("| [")]
    assert table == [
        "| [0, 0] | 0        | 0.1241    | 0           |",
        "| [0, 1] | 1        | 0.4808    | ~0.5        |",
        "| [1, 0] | 1        | 0.8914    | 1           |",
        "| [1, 1] | 0        | 0.5080    | ~0.5        |",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("flags", [
    ["--hidden", "4", "--lr", "1.0"],
    ["--activation", "tanh", "--optimizer", "adam", "--lr", "0.05", "--epochs", "2000"],
    ["--loss", "ce", "--hidden", "4", "--optimizer", "adam", "--lr", "0.05", "--epochs", "2000"],
    ["--loss", "bce", "--hidden", "3", "--lr", "1.0", "--epochs", "5000", "--seed", "0"],
])
def test_xor_flags_let_the_network_solve_it(flags, capsys):
    assert main(["xor", "--log-every", "100000"] + flags) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| [")]
    interpreted = [row.split("|")[4].strip() for row in rows]
    assert interpreted == ["0", "1", "1", "0"], rows


def test_bad_flags_exit_2_with_a_message(capsys):
    assert main(["xor", "--lr", "-1"]) == 2
    assert "error: SGD: lr must be in [0.0, inf), got -1.0" in capsys.readouterr().err
    assert main(["xor", "--activation", "swish"]) == 2
    assert "invalid choice: 'swish'" in capsys.readouterr().err
    assert main(["xor", "--hidden", "0"]) == 2
    assert "n_out must be a positive integer" in capsys.readouterr().err


@pytest.mark.slow
def test_python_dash_m_runs_the_same_program():
    out = subprocess.run([sys.executable, "-m", "handprop", "xor", "--epochs", "1"],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("Epoch 0, Loss: 0.2558")
