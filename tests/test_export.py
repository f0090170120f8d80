"""Writers: atomic files, output folders, manifest checksums."""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import xarray as xr

from siting.errors import CRSError, OutputError
from siting.export import (
    MANIFEST_NAME,
    NOT_FROM_CATALOG,
    InputChecksums,
    atomic_path,
    manifest,
    prepare_output_dir,
    remove_earlier_run,
    sha256_file,
    write_cog,
    write_cogs,
    write_sites,
)
from siting.testing import small_grid


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


def test_remove_earlier_run__the_manifest_and_what_it_lists_only(tmp_path: Path):
    run = tmp_path / "run"
    (run / "dossiers").mkdir(parents=True)
    (run / "dossiers" / "site-1.json").write_text("{}")
    for name in ("sites.csv", "map.html", "notes.txt"):
        (run / name).write_text(name)
    (tmp_path / "outside.txt").write_text("not the run's")
    outputs = {"csv": "sites.csv", "dossiers": "dossiers", "html": "map.html"}
    outputs["bad"] = "../outside.txt"  # a name reaching out of the folder is never followed
    (run / MANIFEST_NAME).write_text(json.dumps({"outputs": outputs}))
    removed = remove_earlier_run(run)
    assert removed[0] == run / MANIFEST_NAME  # first: a cut-short replacement is no run
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]
    assert (tmp_path / "outside.txt").read_text() == "not the run's"
    assert remove_earlier_run(run) == []  # no run left to remove
    (run / MANIFEST_NAME).write_text("not json")
    assert remove_earlier_run(run) == [run / MANIFEST_NAME]
    assert (run / "notes.txt").exists()


def test_atomic_path__a_folder_in_the_way_is_an_output_error(tmp_path: Path):
    (tmp_path / "map.html").mkdir()
    with (
        pytest.raises(OutputError, match=r"map\.html.*a folder of that name is in the way"),
        atomic_path(tmp_path / "map.html") as staged,
    ):
        staged.write_text("<html></html>")
    assert [p.name for p in tmp_path.iterdir()] == ["map.html"]  # nothing staged is left


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


def test_input_checksums__equal_hashlib_on_files_of_many_chunks(tmp_path: Path):
    rng = np.random.default_rng(0)
    files = {
        "big": rng.bytes(3 * (1 << 20) + 17),  # several chunks and a short last one
        "empty": b"",
        "small": b"siting",
    }
    for name, body in files.items():
        (tmp_path / name).write_bytes(body)
    with InputChecksums({name: tmp_path / name for name in files}) as checksums:
        digests = checksums.result()
    assert digests == {name: hashlib.sha256(body).hexdigest() for name, body in files.items()}
    record = manifest(
        version="0",
        scenario={"name": "x"},
        inputs={name: tmp_path / name for name in files},
        outputs={},
        timings_s={},
        summary={},
        checksums=digests,
    )
    assert {n: e["sha256"] for n, e in record["inputs"].items()} == digests


def test_input_checksums__a_missing_file_raises_when_the_digests_are_asked_for(tmp_path: Path):
    (tmp_path / "here.bin").write_bytes(b"x")
    paths = {"here": tmp_path / "here.bin", "gone": tmp_path / "gone.bin"}
    with InputChecksums(paths) as checksums, pytest.raises(FileNotFoundError, match="gone"):
        checksums.result()


def test_input_checksums__leaving_stops_hashing_a_file_that_never_ends(tmp_path: Path):
    import os
    import threading

    pipe = tmp_path / "endless"
    os.mkfifo(pipe)
    stop = threading.Event()

    def feed() -> None:  # an input that never ends: hashing it would never finish
        try:
            with open(pipe, "wb") as handle:
                while not stop.is_set():
                    handle.write(b"x" * (1 << 16))
        except BrokenPipeError:
            pass  # the reader stopped, as it should

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        with InputChecksums({"endless": pipe}) as checksums:
            pass
        outcome: list[BaseException] = []

        def ask() -> None:
            try:
                checksums.result()
            except BaseException as exc:
                outcome.append(exc)

        asker = threading.Thread(target=ask, daemon=True)
        asker.start()
        asker.join(timeout=30)
        assert not asker.is_alive(), "hashing went on after the run ended"
        assert len(outcome) == 1
        assert isinstance(outcome[0], RuntimeError)
        assert "cancelled" in str(outcome[0])
    finally:
        stop.set()


def test_write_sites__geoparquet_keeps_geometry_crs_and_bytes(tmp_path: Path):
    sites = gpd.GeoDataFrame(
        {"rank": [1, 2], "score": [0.9, 0.1 + 0.2], "cell_id": [7, 3]},
        geometry=gpd.points_from_xy([0.0, 1000.0], [0.0, 250.0]),
        crs="EPSG:5070",
    )
    (tmp_path / "a").mkdir()
    files = write_sites(sites, tmp_path / "a", formats=("parquet",))
    assert set(files) == {"parquet"}
    assert files["parquet"].name == "sites.parquet"
    back = gpd.read_parquet(files["parquet"])
    assert back.crs.to_epsg() == 5070
    assert back["score"].tolist() == sites["score"].tolist()
    assert back.geometry.equals(sites.geometry)
    (tmp_path / "b").mkdir()
    again = write_sites(sites, tmp_path / "b", formats=("parquet",))
    assert again["parquet"].read_bytes() == files["parquet"].read_bytes()
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["sites.parquet"]


def _raster(shape: tuple[int, int] = (300, 520), *, dtype: str = "float32") -> xr.DataArray:
    grid = small_grid(shape=shape, resolution=250.0)
    values = np.random.default_rng(0).random(shape).astype(dtype)
    values[:40, :60] = np.nan  # excluded cells
    raster = grid.to_xarray(name="score", dtype=dtype)
    raster.values[:] = values
    raster.attrs["units"] = "1"
    return raster


def test_write_cog__a_valid_cloud_optimized_geotiff(tmp_path: Path):
    raster = _raster()
    path = write_cog(raster, tmp_path / "score.tif")
    with rasterio.open(path) as src:
        assert src.driver == "GTiff"
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert src.profile["tiled"] is True
        assert (src.profile["blockxsize"], src.profile["blockysize"]) == (256, 256)
        assert src.compression.name == "deflate"
        assert src.overviews(1) == [2, 4]  # down to one 256-pixel tile
        assert src.crs.to_epsg() == 5070
        assert src.transform == raster.rio.transform()
        assert np.isnan(src.nodata)
        assert src.descriptions == ("score",)
        assert src.tags(1)["units"] == "1"
        back = src.read(1)
        masked = src.read(1, masked=True)
    np.testing.assert_array_equal(back, raster.values)  # NaN where NaN, exact elsewhere
    assert masked.mask.sum() == np.isnan(raster.values).sum()
    assert [p.name for p in tmp_path.iterdir()] == ["score.tif"]
    again = write_cog(raster, tmp_path / "again.tif")
    assert again.read_bytes() == path.read_bytes()


def test_write_cog__refuses_what_it_cannot_write_and_leaves_nothing(tmp_path: Path):
    with pytest.raises(ValueError, match="float"):
        write_cog(_raster().fillna(0).astype("int16"), tmp_path / "a.tif")
    no_crs = xr.DataArray(np.zeros((4, 4), "float32"), dims=("y", "x"), name="x")
    with pytest.raises(CRSError, match="write_crs"):
        write_cog(no_crs, tmp_path / "b.tif")
    assert list(tmp_path.iterdir()) == []


def test_manifest__provenance_fields(tmp_path: Path):
    data = tmp_path / "ghi.tif"
    data.write_bytes(b"raster")
    other = tmp_path / "roads.gpkg"
    other.write_bytes(b"vector")
    record = manifest(
        version="0",
        scenario={
            "layers": {"ghi": {"path": "ghi.tif", "source": "nsrdb"}},
            "vectors": {"roads": {"path": "roads.gpkg"}},
        },
        inputs={"layer:ghi": data, "vector:roads": other},
        outputs={},
        timings_s={},
        summary={},
        command=["siting", "run", "scenario.toml", "--out", "x"],
    )
    from siting.datasets.catalog import source

    nsrdb = source("nsrdb")
    assert record["licences"]["layer:ghi"]["catalog_source"] == "nsrdb"
    assert record["licences"]["layer:ghi"]["licence"] == nsrdb.licence
    assert record["licences"]["layer:ghi"]["attribution"] == nsrdb.attribution
    assert record["licences"]["vector:roads"] == {
        "catalog_source": None,
        "licence": NOT_FROM_CATALOG,
        "attribution": NOT_FROM_CATALOG,
    }
    assert NOT_FROM_CATALOG == "unknown — not from the catalog"
    assert record["command_line"] == ["siting", "run", "scenario.toml", "--out", "x"]
    assert 1 < record["peak_memory_mib"] < 1_000_000
    host = platform.node()
    assert len(host) < 4 or host not in json.dumps(record)  # no host name anywhere
    assert record["platform"] == platform.platform()
    assert record["dependencies"]["pyarrow"] != "not installed"


def test_write_cog__a_dask_raster_is_written_band_by_band_to_the_same_file(tmp_path: Path):
    raster = _raster()
    lazy = raster.chunk({"y": 64, "x": 100})
    whole = write_cog(raster, tmp_path / "whole.tif")
    banded = write_cog(lazy, tmp_path / "banded.tif")
    assert banded.read_bytes() == whole.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["banded.tif", "whole.tif"]


def test_write_cogs__shared_work_is_computed_once_and_files_equal_write_cog(tmp_path: Path):
    import dask
    import dask.array as da

    raster = _raster()
    calls = []

    def shared_block(block: np.ndarray) -> np.ndarray:
        calls.append(block.shape)
        return block

    lazy = da.from_array(raster.values, chunks=(64, 100))
    meta = np.array((), raster.dtype)
    base = raster.copy(data=lazy.map_blocks(shared_block, dtype=raster.dtype, meta=meta))
    score = (base * 2).rename("score")
    share = (base / 2).rename("share")
    with dask.config.set(scheduler="synchronous"):
        together = write_cogs({tmp_path / "score.tif": score, tmp_path / "share.tif": share})
    assert len(calls) == len(base.data.to_delayed().ravel())  # each block once, for both files
    alone = tmp_path / "alone"
    alone.mkdir()
    assert together[0].read_bytes() == write_cog(score, alone / "score.tif").read_bytes()
    assert together[1].read_bytes() == write_cog(share, alone / "share.tif").read_bytes()


def test_write_cogs__a_failure_leaves_none_of_the_files(tmp_path: Path):
    import dask.array as da

    raster = _raster()

    def broken(block: np.ndarray, block_info=None) -> np.ndarray:
        if block_info[0]["chunk-location"][0] == 1:  # the second band of chunks
            raise RuntimeError("disk on fire")
        return block

    lazy = da.from_array(raster.values, chunks=(64, 100))
    meta = np.array((), raster.dtype)
    failing = raster.copy(data=lazy.map_blocks(broken, dtype=raster.dtype, meta=meta))
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_cogs({tmp_path / "good.tif": raster.chunk(64), tmp_path / "bad.tif": failing})
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="one shape"):
        write_cogs({tmp_path / "a.tif": raster, tmp_path / "b.tif": raster[:10]})
    assert list(tmp_path.iterdir()) == []
