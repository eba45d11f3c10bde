"""Finding and loading (LR, HR) pairs: DIV2K with official or on-the-fly LR, plain folders,
numeric LR/HR alignment, and bad files skipped with a warning each."""

from __future__ import annotations

import logging
import re
import shutil

import numpy as np
import pytest
from conftest import DIV2K_HR_SIZE, DIV2K_TRAIN, DIV2K_VALID, T91, read_rgb
from PIL import Image

from espcn_edge.color import luma, resize_bicubic
from espcn_edge.dataset import DatasetError, ImagePair, find_pairs, load_pair, load_pairs
from espcn_edge.imageio import ImageError


def _stems(pairs):
    return [p.hr.stem for p in pairs]


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_div2k_official_pairs_use_the_official_lr_files(div2k_official, scale):
    for split, stems in (("train", DIV2K_TRAIN), ("valid", DIV2K_VALID)):
        pairs = find_pairs(div2k_official, scale, split)
        assert _stems(pairs) == stems
        for p in pairs:
            assert p.hr == div2k_official / f"DIV2K_{split}_HR" / f"{p.hr.stem}.png"
            assert p.lr == (
                div2k_official
                / f"DIV2K_{split}_LR_bicubic"
                / f"X{scale}"
                / f"{p.hr.stem}x{scale}.png"
            )


def test_div2k_without_lr_folders_makes_lr_on_the_fly(div2k_onthefly):
    assert _stems(find_pairs(div2k_onthefly, 2, "train")) == DIV2K_TRAIN
    assert _stems(find_pairs(div2k_onthefly, 2, "valid")) == DIV2K_VALID
    assert all(p.lr is None for p in find_pairs(div2k_onthefly, 3, "valid"))


def _check_split(root, n):
    train, valid = find_pairs(root, 2, "train"), find_pairs(root, 2, "valid")
    train_set, valid_set = {p.hr.name for p in train}, {p.hr.name for p in valid}
    assert not train_set & valid_set
    assert len(train_set | valid_set) == len(train) + len(valid) == n
    assert 1 <= len(valid) <= max(1, n // 5)
    return train_set, valid_set


def test_plain_folder_split_is_deterministic_disjoint_and_complete(tmp_path):
    names = {p.name for p in T91.glob("*.png")}
    train, valid = _check_split(T91, len(names))
    assert train | valid == names
    assert all(p.lr is None for p in find_pairs(T91, 3, "train"))
    # the split depends on file names only: the same on another machine / another path
    copy = tmp_path / "elsewhere"
    shutil.copytree(T91, copy)
    assert _check_split(copy, len(names)) == (train, valid)
    assert _check_split(T91, len(names)) == (train, valid)


def test_div2k_root_without_valid_folder_is_split_like_a_plain_folder(tmp_path, div2k_official):
    root = tmp_path / "div2k"
    shutil.copytree(div2k_official / "DIV2K_train_HR", root / "DIV2K_train_HR")
    shutil.copytree(div2k_official / "DIV2K_train_LR_bicubic", root / "DIV2K_train_LR_bicubic")
    train, valid = _check_split(root, len(DIV2K_TRAIN))
    assert train | valid == {f"{s}.png" for s in DIV2K_TRAIN}
    assert all(p.lr is not None for p in find_pairs(root, 2, "valid"))


def test_missing_folder_is_a_dataset_error_naming_it(tmp_path):
    for path in (tmp_path / "no" / "such", tmp_path / "file.png"):
        if path.suffix:
            path.write_bytes(b"x")
        with pytest.raises(DatasetError, match=re.escape(str(path))):
            find_pairs(path, 2)


def test_unknown_split_is_refused(div2k_official):
    with pytest.raises(ValueError, match="split"):
        find_pairs(T91, 2, "val")
    with pytest.raises(ValueError, match="split"):
        find_pairs(div2k_official, 2, "test")


def _bicubic_psnr(lr: np.ndarray, hr: np.ndarray) -> float:
    up = resize_bicubic(lr, (hr.shape[1], hr.shape[0])).astype(float)
    return 10 * np.log10(255**2 / np.mean((up - hr) ** 2))


@pytest.mark.parametrize("layout", ["div2k_official", "div2k_onthefly"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_load_pair_is_aligned(layout, scale, request):
    root = request.getfixturevalue(layout)
    pairs = find_pairs(root, scale, "train")
    for pair in pairs[:2]:
        lr, hr = load_pair(pair, scale)
        assert lr.dtype == hr.dtype == np.uint8 and lr.ndim == hr.ndim == 2
        h, w = DIV2K_HR_SIZE
        assert lr.shape == (h // scale, w // scale)
        assert hr.shape == (scale * lr.shape[0], scale * lr.shape[1])
        # HR is the top-left (modcropped) part of the file's luma
        assert np.array_equal(hr, luma(read_rgb(pair.hr))[: hr.shape[0], : hr.shape[1]])
        # LR is the bicubic downscale of that HR: upscaling it back fits well, and fits clearly
        # worse when shifted by one LR pixel
        aligned = _bicubic_psnr(lr, hr)
        assert aligned > 22
        assert aligned > _bicubic_psnr(np.roll(lr, 1, axis=1), hr) + 1.5
        assert aligned > _bicubic_psnr(np.roll(lr, 1, axis=0), hr) + 1.5
        # the LR plane is the Y of Pillow's bicubic reduction of the RGB HR, independently done
        rgb_hr = read_rgb(pair.hr)[: hr.shape[0], : hr.shape[1]]
        ref = Image.fromarray(rgb_hr).resize(lr.shape[::-1], Image.Resampling.BICUBIC)
        assert np.array_equal(lr, luma(np.asarray(ref)))


def test_official_and_on_the_fly_lr_agree(div2k_official, div2k_onthefly):
    """The fixture wrote its 'official' LR with the project's downscale: both modes must agree."""
    for official, onthefly in zip(
        find_pairs(div2k_official, 3, "valid"), find_pairs(div2k_onthefly, 3, "valid"), strict=True
    ):
        assert official.lr is not None and onthefly.lr is None
        a, b = load_pair(official, 3), load_pair(onthefly, 3)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_official_lr_of_the_wrong_size_is_an_image_error(tmp_path, div2k_official):
    root = tmp_path / "div2k"
    shutil.copytree(div2k_official, root)
    lr_path = root / "DIV2K_train_LR_bicubic" / "X2" / "0002x2.png"
    Image.open(lr_path).crop((0, 0, 50, 40)).save(lr_path)
    pairs = find_pairs(root, 2, "train")
    with pytest.raises(ImageError, match=re.escape(str(lr_path))):
        load_pair(pairs[1], 2)
    load_pair(pairs[0], 2)  # the others are fine


def test_too_small_images_are_image_errors(tmp_path):
    path = tmp_path / "small.png"
    for size in [(30, 40), (1, 12), (12, 1), (3, 3)]:  # (width, height)
        Image.new("RGB", size, (90, 120, 30)).save(path)
        with pytest.raises(ImageError, match="small.png"):
            load_pair(ImagePair(path, None), 4, min_lr_size=12)
    Image.new("RGB", (48, 48)).save(path)
    lr, _ = load_pair(ImagePair(path, None), 4, min_lr_size=12)
    assert lr.shape == (12, 12)


def test_load_pairs_skips_bad_files_with_one_warning_each(bad_images_dir, caplog):
    folder = bad_images_dir()
    pairs = [ImagePair(p, None) for p in sorted(folder.iterdir())]
    with caplog.at_level(logging.WARNING, logger="espcn_edge"):
        loaded = load_pairs(pairs, 2, min_lr_size=4, root=folder)
    n_good = len(list(folder.glob("good_*"))) + len(bad_images_dir.converted)
    n_bad = len(bad_images_dir.unreadable) + len(bad_images_dir.too_small)
    assert len(pairs) == n_good + n_bad and len(loaded) == n_good
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for name in bad_images_dir.unreadable + bad_images_dir.too_small:
        assert sum(str(folder / name) in m for m in messages) == 1, name
    summary = [m for m in messages if "skipped" in m and f"{n_bad} of {len(pairs)}" in m]
    assert len(summary) == 1 and str(folder) in summary[0]
    assert len(messages) == n_bad + 1
    for lr, hr in loaded:
        assert hr.shape == (2 * lr.shape[0], 2 * lr.shape[1])


def test_load_pairs_of_a_good_folder_is_silent(div2k_onthefly, caplog):
    with caplog.at_level(logging.WARNING):
        loaded = load_pairs(find_pairs(div2k_onthefly, 4, "train"), 4, 48, div2k_onthefly)
    assert len(loaded) == len(DIV2K_TRAIN) and not caplog.records


def test_no_usable_image_is_a_dataset_error_naming_the_folder(tmp_path, bad_images_dir):
    folder = bad_images_dir(tmp_path / "all_bad", n_good=0)
    for name in bad_images_dir.converted:
        (folder / name).unlink()
    with pytest.raises(DatasetError, match=re.escape(str(folder))):
        load_pairs(find_pairs(folder, 2, "train"), 2, 4, root=folder)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match=re.escape(str(empty))):
        load_pairs(find_pairs(empty, 2, "train"), 2, root=empty)
