"""A run folder is a trust boundary: crafted state files and links cannot reach outside it."""

from __future__ import annotations

import pytest

from genmod.contract.errors import RunDirError
from genmod.runs.trust import check_checkpoint_state, check_links, is_inside, require_inside


def test_paths_are_judged_after_following_links(tmp_path):
    run = tmp_path / "run"
    (run / "pictures").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    assert is_inside(run, run / "pictures" / "a.png")
    assert not is_inside(run, run / ".." / "elsewhere")
    (run / "sneaky").symlink_to(outside)
    assert not is_inside(run, run / "sneaky" / "a.png")
    with pytest.raises(RunDirError, match="leads outside the run folder"):
        require_inside(run, run / "sneaky" / "a.png", "the picture")
    with pytest.raises(RunDirError, match="sneaky"):
        check_links(run)
    (run / "sneaky").unlink()
    (run / "inner").symlink_to(run / "pictures")  # a link that stays inside is fine
    check_links(run)


def test_a_state_file_listing_outside_paths_is_refused_and_left_alone(tmp_path):
    directory = tmp_path / "run" / "checkpoints"
    directory.mkdir(parents=True)
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    state = directory / "checkpoint"
    good = 'model_checkpoint_path: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-1"\n'
    state.write_text(good)
    check_checkpoint_state(directory, tmp_path / "run")
    for bad in (str(victim), "../../precious.txt"):
        state.write_text(good + f'all_model_checkpoint_paths: "{bad}"\n')
        with pytest.raises(RunDirError, match="outside"):
            check_checkpoint_state(directory, tmp_path / "run")
        assert state.read_text().endswith(f'"{bad}"\n')  # nothing rewritten
    assert victim.read_text() == "keep me"


def test_resume_sample_and_evaluate_refuse_a_folder_that_leads_outside(tmp_path, mnist_dir):
    from click.testing import CliRunner

    from genmod.api import resume, train
    from genmod.cli import cli
    from genmod.config import RunConfig

    config = RunConfig(
        encoder="mlp", encoder_options={"hidden": (16,)}, decoder_options={"hidden": (16,)},
        latent_dim=2, epochs=1, train_size=128, test_size=50, validation_size=0,
    )  # fmt: skip
    run = tmp_path / "run"
    train(config, data_dir=mnist_dir, out_dir=run)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.png").write_text("keep me")

    # a crafted state file: TensorFlow's manager would delete what it lists
    state = run / "checkpoints" / "checkpoint"
    original = state.read_text()
    state.write_text(original + f'all_model_checkpoint_paths: "{victim / "precious.png"}"\n')
    with pytest.raises(RunDirError, match="outside"):
        resume(run, epochs=3)
    assert (victim / "precious.png").read_text() == "keep me"
    state.write_text(original)

    # pictures/ replaced by a link to another folder
    import shutil

    shutil.rmtree(run / "pictures")
    (run / "pictures").symlink_to(victim)
    for args in (["sample", str(run), "--out", str(tmp_path / "s.png")], ["sample", str(run)]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2 and "leads outside the run folder" in result.output
    with pytest.raises(RunDirError, match="leads outside"):
        resume(run, epochs=3)
    assert sorted(p.name for p in victim.iterdir()) == ["precious.png"]
