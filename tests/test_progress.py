"""verbose: nothing at 0; at 1 a tqdm bar on a terminal and one line per epoch
elsewhere (files, pipes, CI logs), on stderr; at 2 a line per epoch on stdout.
The score is called the validation score, as in the docs, when early stopping
holds rows out; without it the monitored rows are training rows."""

import io
import re
import sys
from types import SimpleNamespace

import pytest

from sklearn_ebm._progress import EpochReporter

LINE = re.compile(
    r"^Epoch (\d+)/(\d+): loss -?\d+\.\d{4}, energy gap -?\d+\.\d{4}, (?:validation|training) score -?\d+\.\d{4}$"
)


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_verbose_0_prints_nothing(make_model, X_small, capsys):
    make_model(verbose=0).fit(X_small)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbose_1_without_a_terminal_prints_one_line_per_epoch(make_model, X_small, capsys):
    pytest.importorskip("tqdm")
    model = make_model(verbose=1, max_iter=3).fit(X_small)
    captured = capsys.readouterr()  # captured: stderr is not a terminal
    assert captured.out == ""
    assert "\r" not in captured.err  # no tqdm frames
    lines = captured.err.splitlines()
    assert len(lines) == 3, captured.err  # one per epoch, the last one once
    assert all(LINE.match(line) for line in lines), lines
    assert [LINE.match(line).group(1) for line in lines] == ["1", "2", "3"]
    assert f"loss {model.loss_curve_[-1]:.4f}" in lines[-1]
    assert f"energy gap {model.energy_gap_curve_[-1]:.4f}" in lines[-1]


def test_verbose_1_on_a_terminal_draws_a_progress_bar(make_model, X_small, capsys, monkeypatch):
    pytest.importorskip("tqdm")
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    model = make_model(verbose=1, max_iter=3).fit(X_small)
    bar = terminal.getvalue()
    assert capsys.readouterr().out == ""
    assert "\r" in bar and "3/3" in bar
    assert "loss=" in bar and "gap=" in bar and "training score=" in bar  # no early stopping
    assert f"{model.loss_curve_[-1]:.4f}" in bar
    assert "Epoch " not in bar


def test_verbose_1_falls_back_to_lines_without_tqdm(make_model, X_small, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    monkeypatch.setattr(sys, "stderr", FakeTerminal())  # even on a terminal
    make_model(verbose=1, max_iter=2).fit(X_small)
    lines = sys.stderr.getvalue().splitlines()
    assert len(lines) == 2 and all(LINE.match(line) for line in lines)
    assert capsys.readouterr().out == ""


def test_verbose_2_prints_a_line_per_epoch(make_model, X_small, capsys):
    model = make_model(verbose=2, max_iter=3).fit(X_small)
    captured = capsys.readouterr()
    lines = [line for line in captured.out.splitlines() if line.startswith("Epoch ")]
    assert len(lines) == 3
    assert all(LINE.match(line) for line in lines), lines
    assert lines[-1].startswith("Epoch 3/3: loss")
    assert f"energy gap {model.energy_gap_curve_[-1]:.4f}" in lines[-1]
    assert "monitor" not in captured.out + captured.err
    assert captured.err == ""


def test_validation_score_in_the_lines_is_validation_scores_(make_model, X_small, capsys):
    model = make_model(verbose=2, max_iter=4, early_stopping=True, n_iter_no_change=50).fit(X_small)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Epoch ")]
    printed = [float(line.rsplit(" ", 1)[1]) for line in lines]
    assert printed == pytest.approx(model.validation_scores_, abs=1e-4)


def test_the_reporter_names_its_score():
    stats = SimpleNamespace(loss=0.5, energy_gap=0.25)
    out = io.StringIO()
    reporter = EpochReporter(2, 10, score_name="training score")
    reporter._stream = out
    reporter.update(0, stats, -1.5)
    reporter.close()
    assert out.getvalue() == "Epoch 1/10: loss 0.5000, energy gap 0.2500, training score -1.5000\n"


@pytest.mark.parametrize("early_stopping, score_name", [(True, "validation score"), (False, "training score")])
def test_the_score_is_named_by_the_rows_it_is_computed_on(make_model, X_small, capsys, early_stopping, score_name):
    make_model(verbose=2, max_iter=2, early_stopping=early_stopping).fit(X_small)
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(f", {score_name} " in line for line in lines), lines


def test_the_progress_bar_is_labelled_with_the_estimator(X_small, fast_params, monkeypatch):
    pytest.importorskip("tqdm")
    from sklearn_ebm import EBMOutlierDetector

    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    EBMOutlierDetector(**{**fast_params, "verbose": 1}).fit(X_small)
    assert "EBMOutlierDetector" in terminal.getvalue()
