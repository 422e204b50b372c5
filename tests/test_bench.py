"""The benchmark scripts run end to end on the synthetic stand-in and report what they claim."""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_speed_reports_every_ratio(tmp_path):
    out = tmp_path / "speed.json"
    subprocess.run([sys.executable, BENCH / "speed.py", "--data", "synthetic", "--device", "cpu",
                    "--repeats", "1", "--json", out], check=True, capture_output=True)
    r = json.loads(out.read_text())
    assert r["epoch_speedup"] == r["epoch_lecture_s"] / r["epoch_package_s"]
    assert r["subset_speedup"] > 1 and all(r[k] > 0 for k in r if k.endswith("_s"))


def test_recipe_sweep_summarises_seeds_across_workers(tmp_path):
    out = tmp_path / "sweep.json"
    variant = "60 epochs, width 1024, no mixup"
    subprocess.run([sys.executable, BENCH / "recipe_sweep.py", "--data", "synthetic", "--only", variant,
                    "--seeds", "2", "--workers", "2", "--epochs", "3", "--json", out],
                   check=True, capture_output=True)
    s = json.loads(out.read_text())[variant]
    assert len(s["seeds"]) == 2 and s["mean"] == sum(s["seeds"]) / 2
    # 3 epochs instead of 60 (--epochs), still far above chance on the synthetic stand-in
    assert all(0.8 < a <= 1 for a in [*s["seeds"], s["ensemble_of_all"], s["tta_mean"]])
