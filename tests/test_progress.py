"""verbose: nothing at 0, a tqdm bar at 1 (also without a terminal), a line per epoch at 2."""

import pytest


def test_verbose_0_prints_nothing(make_model, X_small, capsys):
    make_model(verbose=0).fit(X_small)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbose_1_draws_a_progress_bar_with_loss_and_gap(make_model, X_small, capsys):
    pytest.importorskip("tqdm")
    model = make_model(verbose=1, max_iter=3).fit(X_small)
    captured = capsys.readouterr()  # not a terminal: the bar must still render
    assert captured.out == ""
    assert "3/3" in captured.err
    assert "loss=" in captured.err and "gap=" in captured.err
    assert f"{model.loss_curve_[-1]:.4f}" in captured.err


def test_verbose_1_falls_back_to_lines_without_tqdm(make_model, X_small, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    make_model(verbose=1, max_iter=2).fit(X_small)
    assert capsys.readouterr().out.count("Epoch ") == 2


def test_verbose_2_prints_a_line_per_epoch(make_model, X_small, capsys):
    model = make_model(verbose=2, max_iter=3).fit(X_small)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Epoch ")]
    assert len(lines) == 3
    assert lines[-1].startswith("Epoch 3/3: loss")
    assert f"energy gap {model.energy_gap_curve_[-1]:.4f}" in lines[-1]
