"""``anime train`` options as a user types them: --dry-run, the seed's spellings, early errors."""

from __future__ import annotations

import json

from tests.support.train_data import make_dataset
from tests.support.cli import run_anime


def _dry_run(tmp_path, *args, code=0):
    """The plan printed by ``anime train --dry-run ARGS``, and stderr; exit code 1 when the dataset has a problem."""
    result = run_anime("train", "--dry-run", *args, cwd=tmp_path)
    assert result.returncode == code, result.stderr
    return json.loads(result.stdout), result.stderr


def test_dry_run_prints_the_resolved_config_and_writes_nothing(tmp_path):
    plan, err = _dry_run(tmp_path, "--style", "Hayao", "--name", "first", code=1)  # no dataset here
    cfg = plan["config"]
    assert plan["run_dir"] == "runs/Hayao/first"
    assert cfg["preset"] == "Hayao" and cfg["weights"]["sty"] == 2.5 and cfg["weights"]["blur"] == 0.8
    assert (cfg["batch_size"], cfg["epochs"], cfg["init_epochs"], cfg["img_size"]) == (4, 101, 10, 256)
    assert "dataset folder dataset not found" in err
    assert list(tmp_path.iterdir()) == []


def test_dry_run_reports_the_dataset(tmp_path):
    make_dataset(tmp_path / "data", photos=9, style_images=6, size=32)
    plan, err = _dry_run(tmp_path, "--style", "Sakura", "--data-dir", "data", "--batch-size", "2")
    assert plan["config"]["preset"] == "Shinkai"
    assert "dataset: 9 photos, 6 style, 6 smooth images; 4 steps per epoch" in err


def test_new_and_seed_option_spellings(tmp_path):
    plan, _ = _dry_run(
        tmp_path, "--dataset", "Paprika", "--data_dir", "elsewhere", "--init_epochs", "3", "--epochs", "30",
        "--batch_size", "2", "--lr_g", "1e-5", "--lr_d", "3e-5", "--init_lr", "1e-4", "--gan_loss", "hinge",
        "--save_interval", "2", "--n_dis", "2", "--ch", "32", "--wadvg", "10", "--wadvd", "20", "--wcon", "1",
        "--wgra", "3", "--wcol", "4", "--wtv", "0.5", "--wreal", "1.1", "--wfake", "1.2", "--wgray", "1.3",
        "--wblur", "0.2", "--img-size", "128", "--seed", "5", "--val-dir", "v", "--out", "/tmp/runs-root",
        "--name", "x", code=1,  # no dataset "elsewhere"
    )
    cfg = plan["config"]
    assert plan["run_dir"] == "/tmp/runs-root/Paprika/x"
    assert (cfg["style"], cfg["data_dir"], cfg["val_dir"]) == ("Paprika", "elsewhere", "v")
    assert (cfg["init_epochs"], cfg["epochs"], cfg["batch_size"], cfg["img_size"], cfg["seed"]) == (3, 30, 2, 128, 5)
    assert (cfg["lr_g"], cfg["lr_d"], cfg["init_lr"], cfg["gan_loss"]) == (1e-5, 3e-5, 1e-4, "hinge")
    assert (cfg["save_interval"], cfg["n_dis"], cfg["ch"]) == (2, 2, 32)
    assert cfg["weights"] == {"adv_g": 10, "adv_d": 20, "con": 1, "sty": 3, "col": 4, "tv": 0.5, "real": 1.1,
                              "fake": 1.2, "gray": 1.3, "blur": 0.2}


def test_seed_spellings_stay_out_of_help(tmp_path):
    result = run_anime("train", "--help", cwd=tmp_path, env={"COLUMNS": "200"})
    assert result.returncode == 0
    assert "--batch-size" in result.stdout and "--batch_size" not in result.stdout
    assert "TF used 12" in result.stdout


def test_style_is_required_for_a_new_run(tmp_path):
    result = run_anime("train", "--dry-run", cwd=tmp_path)
    assert result.returncode == 1
    assert "--style is required" in result.stderr


def test_invalid_value_is_one_line(tmp_path):
    result = run_anime("train", "--style", "Hayao", "--img-size", "100", "--init-epochs", "200", "--dry-run",
                       cwd=tmp_path)
    assert result.returncode == 1
    assert "--img-size must be a multiple of 4" not in result.stderr  # 100 is fine
    assert "--init-epochs must be between 0 and --epochs (101), got 200" in result.stderr


def test_missing_smooth_folder_fails_before_any_work(tmp_path):
    make_dataset(tmp_path / "dataset", smooth=False, size=32)
    result = run_anime("train", "--style", "Sakura", cwd=tmp_path)
    assert result.returncode == 1
    assert "smoothed Sakura images" in result.stderr
    assert "anime smooth dataset/Sakura" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]  # no run folder


def test_without_vgg_weights_the_run_says_how_to_get_them(tmp_path):
    make_dataset(tmp_path / "dataset", size=32)
    result = run_anime("train", "--style", "Sakura", "--device", "cpu", cwd=tmp_path, env={"ANIME_OFFLINE": "1"})
    assert result.returncode == 1
    assert "vgg19" in result.stderr.lower()
    assert not (tmp_path / "runs").exists()
