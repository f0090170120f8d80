"""Reading NREL reV exclusions files (``.h5``, the reVX ``LayeredH5`` layout).

The real ``ri_exclusions.h5`` of reV's tests is not in ../shared/data, but its layers are (as
GeoTIFFs), so the fixture writes them in reV's layout: a JSON ``profile`` on the file (PROJ
CRS text, six-number transform, height, width), ``latitude``/``longitude``, and one
``(1, rows, cols)`` dataset per layer chunked 128 x 128 with its own ``profile`` (nodata).
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from siting import layers
from siting.constraints import Contiguity, availability
from siting.datasets import read_rev_exclusions_h5
from siting.errors import CRSError, InvalidLayerError, LayerIOError

pytestmark = pytest.mark.realdata

NAMES = ("ri_smod", "ri_padus", "ri_srtm_slope")


def _profile(src) -> dict:
    return {
        "crs": src.crs.to_proj4(),
        "transform": list(src.transform)[:6],
        "height": src.height,
        "width": src.width,
        "nodata": src.nodata,
        "dtype": src.dtypes[0],
    }


@pytest.fixture(scope="module")
def rev_h5(shared_data, tmp_path_factory) -> Path:
    import rasterio

    folder = shared_data / "nrel_revx" / "ri_exclusions"
    path = tmp_path_factory.mktemp("rev") / "ri_exclusions.h5"
    with h5py.File(path, "w") as h5:
        for i, name in enumerate(NAMES):
            with rasterio.open(folder / f"{name}.tif") as src:
                values = src.read()
                profile = _profile(src)
            if i == 0:
                h5.attrs["profile"] = json.dumps(
                    {k: v for k, v in profile.items() if k != "dtype"}
                )
                h5.create_dataset("latitude", data=np.zeros(values.shape[1:], "float32"))
                h5.create_dataset("longitude", data=np.zeros(values.shape[1:], "float32"))
            dataset = h5.create_dataset(name, data=values, chunks=(1, 128, 128))
            dataset.attrs["profile"] = json.dumps(profile)
    return path


@pytest.fixture(scope="module")
def tif_stack(shared_data):
    folder = shared_data / "nrel_revx" / "ri_exclusions"
    arrays = {name: layers.read_raster(folder / f"{name}.tif") for name in NAMES}
    return layers.build_stack(arrays)


def test_read__equals_the_geotiffs_value_for_value(rev_h5, tif_stack):
    stack = read_rev_exclusions_h5(rev_h5)
    assert sorted(stack.data_vars) == sorted(NAMES)  # latitude/longitude are not layers
    for name in NAMES:
        np.testing.assert_array_equal(stack[name].values, tif_stack[name].values)
        assert stack[name].dtype == tif_stack[name].dtype
    assert int(stack["ri_padus"].isnull().sum()) > 0  # nodata 255 became NaN
    assert stack.rio.crs is not None
    assert tuple(stack.rio.transform())[:6] == pytest.approx(tuple(tif_stack.rio.transform())[:6])


def test_read__chunked_equals_in_memory(rev_h5):
    whole = read_rev_exclusions_h5(rev_h5, ["ri_srtm_slope"])
    lazy = read_rev_exclusions_h5(rev_h5, ["ri_srtm_slope"], chunks=(300, 250))
    assert lazy["ri_srtm_slope"].chunks is not None
    np.testing.assert_array_equal(lazy["ri_srtm_slope"].values, whole["ri_srtm_slope"].values)


def test_read__rev_mask_from_the_h5_equals_revs_reference(rev_h5, shared_data):
    from siting.constraints import Rule

    stack = read_rev_exclusions_h5(rev_h5, ["ri_smod", "ri_srtm_slope"])
    rules = [
        Rule("ri_smod", include_values=(1,), nodata="exclude"),
        Rule("ri_srtm_slope", include_range=(0, 5), nodata="exclude"),
    ]
    mask = availability(stack, rules, contiguity=Contiguity(1.0)).values
    truth = np.load(shared_data / "nrel_rev" / "ri_exclusions" / "rural_pv.npy")
    np.testing.assert_array_equal(mask, truth.astype("float32"))


def test_read__unknown_layer_lists_the_layers(rev_h5):
    with pytest.raises(InvalidLayerError, match=r"\['ri_slope'\].*ri_srtm_slope"):
        read_rev_exclusions_h5(rev_h5, ["ri_slope"])


def test_read__not_hdf5_or_truncated_is_layer_io_error(rev_h5, tmp_path):
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    with pytest.raises(LayerIOError, match="not HDF5"):
        read_rev_exclusions_h5(text)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(rev_h5.read_bytes()[:50_000])
    with pytest.raises(LayerIOError):
        read_rev_exclusions_h5(truncated)
    with pytest.raises(LayerIOError, match="no such file"):
        read_rev_exclusions_h5(tmp_path / "missing.h5")


def test_read__file_without_profile_or_crs(tmp_path):
    bare = tmp_path / "bare.h5"
    with h5py.File(bare, "w") as h5:
        h5.create_dataset("layer", data=np.zeros((1, 4, 4), "uint8"))
    with pytest.raises(LayerIOError, match="no 'profile' attribute"):
        read_rev_exclusions_h5(bare)
    no_crs = tmp_path / "no_crs.h5"
    with h5py.File(no_crs, "w") as h5:
        h5.attrs["profile"] = json.dumps(
            {"transform": [90, 0, 0, 0, -90, 0], "height": 4, "width": 4, "crs": None}
        )
        h5.create_dataset("layer", data=np.zeros((1, 4, 4), "uint8"))
    with pytest.raises(CRSError, match="never guessed"):
        read_rev_exclusions_h5(no_crs)
