import pytest

from captum_contrastive.pipeline.cli import main
from captum_contrastive.pipeline.ranks import (
    Ranks,
    RanksError,
    joined_ranks,
    parse_shard,
    shared_gpu_index,
)


@pytest.mark.parametrize(
    ("text", "expected"), [("0/2", (0, 2)), (" 3 / 4 ", (3, 4)), ("0/1", (0, 1))]
)
def test_parse_shard(text, expected):
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["2/2", "-1/2", "1/0", "a/b", "1", "", "1/2/3"])
def test_a_malformed_shard_is_refused(text):
    with pytest.raises(RanksError, match="shard"):
        parse_shard(text)


def test_without_a_launcher_one_process_does_everything(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with joined_ranks() as ranks:
        assert ranks == Ranks()
    with joined_ranks("1/3") as ranks:
        assert ranks == Ranks(1, 3, "shard")
    with joined_ranks("0/1") as ranks:
        assert ranks.mode == "single"


def test_a_shard_under_torchrun_is_refused(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(RanksError, match="torchrun"), joined_ranks("0/2"):
        pass


def test_a_numbered_cuda_device_under_torchrun_is_refused(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(RanksError, match="LOCAL_RANK"), joined_ranks(None, "cuda:1"):
        pass


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--shard", "2/2"], "--shard"),
        (["--shard", "0/2", "--merge-only"], "--merge-only"),
        (["--dist-timeout", "0"], "--dist-timeout"),
    ],
)
def test_bad_split_options_fail_early(options, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main([*options, "--out", str(tmp_path / "out"), "--no-progress"])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out" / "cache").exists()


def test_merge_only_on_an_empty_folder_names_what_is_missing(tmp_path, capsys):
    code = main(
        ["--merge-only", "--n-images", "4", "--out", str(tmp_path), "--no-progress"]
    )
    assert code == 3
    assert "select shard of images" in capsys.readouterr().err
    assert not (tmp_path / "summary.csv").exists()


def test_a_random_start_attack_is_refused_when_the_work_is_split(tmp_path, capsys):
    options = ["--attacks", "fgsm", "--attack", "pgd_l2:epsilon=0.5,random_start=True"]
    options += ["--studies", "adversarial", "--n-images", "4", "--shard", "0/2"]
    with pytest.raises(SystemExit) as stopped:
        main([*options, "--out", str(tmp_path), "--no-progress"])
    assert stopped.value.code == 2
    assert "global generator" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("local_rank", "gpus", "expected"), [(0, 1, 0), (1, 1, 0), (1, 2, 1), (3, 2, 1)]
)
def test_ranks_share_gpus_round_robin_when_a_node_has_fewer(local_rank, gpus, expected):
    assert shared_gpu_index(local_rank, gpus) == expected


def test_cuda_ranks_on_a_node_without_gpus_are_refused():
    with pytest.raises(RanksError, match="no GPU"):
        shared_gpu_index(0, 0)
