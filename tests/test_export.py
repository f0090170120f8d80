"""Writers: atomic files, output folders, manifest checksums."""

from __future__ import annotations

import hashlib
from pathlib import Path

import geopandas as gpd
import pytest

from siting.errors import OutputError
from siting.export import (
    MANIFEST_NAME,
    atomic_path,
    manifest,
    prepare_output_dir,
    sha256_file,
    write_sites,
)


def test_atomic_path__failure_leaves_no_file(tmp_path: Path):
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:  # noqa: PT012
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_atomic_path__failure_keeps_the_previous_file(tmp_path: Path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:  # noqa: PT012
        tmp.write_text("new but broken")
        raise RuntimeError
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_prepare_output_dir__refuses_unwritable_and_existing_runs(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="a file is in the way"):
        prepare_output_dir(blocker / "run")
    with pytest.raises(OSError, match="a file is in the way"):  # also the built-in
        prepare_output_dir(blocker)
    run = prepare_output_dir(tmp_path / "run")
    (run / MANIFEST_NAME).write_text("{}")
    with pytest.raises(OutputError, match="--force"):
        prepare_output_dir(run)
    assert prepare_output_dir(run, overwrite=True) == run


@pytest.mark.skipif(
    not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs, where nobody may mkdir"
)
def test_prepare_output_dir__folder_that_cannot_be_created():
    # sysfs refuses new folders even to root, so this holds however the tests are run.
    with pytest.raises(
        OutputError, match=r"cannot be created.*Choose a directory you can write to"
    ):
        prepare_output_dir("/sys/siting-run")


def test_write_sites__gpkg_keeps_crs_and_csv_names_it(tmp_path: Path):
    sites = gpd.GeoDataFrame(
        {"rank": [1, 2], "score": [0.9, 0.1 + 0.2]},
        geometry=gpd.points_from_xy([0, 1000], [0, 0]),
        crs="EPSG:5070",
    )
    files = write_sites(sites, tmp_path)
    back = gpd.read_file(files["gpkg"])
    assert back.crs.to_epsg() == 5070
    assert back["score"].tolist() == sites["score"].tolist()
    text = files["csv"].read_text()
    assert text.splitlines()[0] == "rank,score,crs"
    assert "0.30000000000000004" in text  # full precision, so reruns compare exactly
    assert "EPSG:5070" in text


def test_manifest__checksums_inputs(tmp_path: Path):
    data = tmp_path / "in.bin"
    data.write_bytes(b"siting")
    record = manifest(
        version="0",
        scenario={"name": "x"},
        inputs={"a": data},
        outputs={},
        timings_s={"total": 1.23456},
        summary={},
    )
    assert (
        record["inputs"]["a"]["sha256"]
        == hashlib.sha256(b"siting").hexdigest()
        == sha256_file(data)
    )
    assert record["inputs"]["a"]["bytes"] == 6
    assert record["dependencies"]["rasterio"] != "not installed"
    assert record["timings_s"]["total"] == 1.2346
