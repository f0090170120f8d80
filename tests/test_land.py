"""Tests for siting.datasets.land (PAD-US, BLM SMA, us-atlas, Global Wind Atlas, reV).

PAD-US, BLM SMA and Global Wind Atlas files are not in ../shared/data, so those readers are
tested on small files written here with the real public column names / file naming. The
us-atlas and reV exclusion readers are also tested on the real files (``realdata``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from shapely.geometry import box

from siting.datasets.land import (
    flatten_padus,
    read_blm_sma,
    read_padus,
    read_rev_exclusion,
    read_us_atlas,
    read_wind_atlas,
)
from siting.errors import CRSError, GridError, InvalidLayerError, LayerIOError
from siting.grid import Grid
from siting.layers import build_stack, read_raster

ALBERS = "ESRI:102039"
COMBINED = "PADUS3_0Combined_Proclamation_Marine_Fee_Designation_Easement"


def _padus_frame(crs: str | None = ALBERS) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "Unit_Nm": ["Big Forest", "Wild Core", "Easement A", "Odd"],
            "Mang_Name": ["USFS", "USFS", "PVT", "BLM"],
            "Mang_Type": ["FED", "FED", "PVT", "FED"],
            "Des_Tp": ["NF", "WA", "CE", "PUB"],
            "GAP_Sts": ["3", "1", "4", "Unassigned"],
            "Own_Name": ["USFS", "USFS", "PVT", "BLM"],
            "FeatClass": ["Fee", "Designation", "Easement", "Fee"],
        },
        geometry=[box(0, 0, 4, 4), box(2, 2, 6, 6), box(3, 0, 5, 1), box(10, 10, 11, 11)],
        crs=crs,
    )


@pytest.fixture
def padus_gpkg(tmp_path: Path) -> Path:
    path = tmp_path / "PADUS_tiny.gpkg"
    _padus_frame().to_file(path, layer=COMBINED)
    _padus_frame().iloc[:1].to_file(path, layer="PADUS3_0Fee")
    return path


def test_read_padus_normalises(padus_gpkg: Path) -> None:
    with pytest.warns(UserWarning, match="1 of 4 row"):
        frame = read_padus(padus_gpkg, layer=COMBINED)
    assert list(frame.columns) == [
        "unit_name",
        "manager_name",
        "manager_type",
        "designation",
        "gap_status",
        "owner_name",
        "feature_class",
        "geometry",
    ]
    assert frame.crs.equals(gpd.GeoSeries(crs=ALBERS).crs)
    assert frame["gap_status"].tolist()[:3] == [3.0, 1.0, 4.0]
    assert np.isnan(frame["gap_status"].iloc[3])
    assert frame["manager_name"].tolist() == ["USFS", "USFS", "PVT", "BLM"]


def test_read_padus_layer(padus_gpkg: Path) -> None:
    frame = read_padus(padus_gpkg, layer="PADUS3_0Fee")
    assert len(frame) == 1
    assert frame["unit_name"].iloc[0] == "Big Forest"


def test_read_padus_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(LayerIOError, match="does not exist"):
        read_padus(tmp_path / "missing.gpkg")
    garbage = tmp_path / "garbage.gpkg"
    garbage.write_text("not a geopackage")
    with pytest.raises(LayerIOError):
        read_padus(garbage)
    no_gap = tmp_path / "no_gap.gpkg"
    _padus_frame().drop(columns=["GAP_Sts", "Mang_Type"]).to_file(no_gap)
    with pytest.raises(InvalidLayerError, match=r"\['Mang_Type', 'GAP_Sts'\]"):
        read_padus(no_gap)
    no_crs = tmp_path / "no_crs.gpkg"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyogrio warns that it writes no CRS: the point
        _padus_frame(crs=None).to_file(no_crs)
    with pytest.raises(CRSError, match="no CRS"):
        read_padus(no_crs)


def test_flatten_padus_by_hand() -> None:
    # Fee [0,4]^2 GAP 3, designation [2,6]^2 GAP 1 over it, easement [3,5]x[0,1] GAP 4.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = gpd.GeoDataFrame(
            {
                "unit_name": ["fee", "wild", "ease", "unknown"],
                "gap_status": [3.0, 1.0, 4.0, np.nan],
            },
            geometry=[box(0, 0, 4, 4), box(2, 2, 6, 6), box(3, 0, 5, 1), box(5, 0, 7, 1)],
            crs=ALBERS,
        )
    flat = flatten_padus(frame)
    assert flat["unit_name"].tolist() == ["wild", "fee", "ease", "unknown"]
    areas = dict(zip(flat["unit_name"], flat.area, strict=True))
    # wild keeps all 16; fee loses its [2,4]^2 corner (4) -> 12; easement loses [3,4]x[0,1]
    # to fee -> 1; the unknown-status piece loses [5,5] (a line, no area) -> 2.
    assert areas == pytest.approx({"wild": 16.0, "fee": 12.0, "ease": 1.0, "unknown": 2.0})
    union = shapely.union_all(frame.geometry.to_numpy())
    assert flat.area.sum() == pytest.approx(union.area)
    geoms = flat.geometry.to_numpy()
    for i in range(len(geoms)):
        for j in range(i + 1, len(geoms)):
            assert shapely.intersection(geoms[i], geoms[j]).area == pytest.approx(0.0)
    assert flat.crs == frame.crs


def test_flatten_padus_drops_fully_covered_and_checks_args() -> None:
    frame = gpd.GeoDataFrame(
        {"gap_status": [2.0, 1.0]}, geometry=[box(1, 1, 2, 2), box(0, 0, 3, 3)], crs=ALBERS
    )
    flat = flatten_padus(frame)
    assert flat["gap_status"].tolist() == [1.0]
    with pytest.raises(InvalidLayerError, match="priority"):
        flatten_padus(frame, priority="area")
    with pytest.raises(InvalidLayerError, match="gap_status"):
        flatten_padus(frame.rename(columns={"gap_status": "GAP"}))


def test_read_blm_sma(tmp_path: Path) -> None:
    path = tmp_path / "sma.gpkg"
    gpd.GeoDataFrame(
        {
            "ADMIN_AGENCY_CODE": ["BLM", "USFS", "BIA", "STATE", "PVT", None, "XYZ"],
            "ADMIN_DEPT_CODE": ["DOI", "USDA", "DOI", None, None, "DOD", None],
        },
        geometry=[box(i, 0, i + 1, 1) for i in range(7)],
        crs="EPSG:4269",
    ).to_file(path)
    with pytest.warns(UserWarning, match=r"1 of 7 row.*XYZ"):
        frame = read_blm_sma(path)
    assert frame["manager_name"].tolist() == ["BLM", "USFS", "BIA", "STATE", "PVT", "DOD", "XYZ"]
    assert frame["manager_type"].tolist() == ["FED", "FED", "TRIB", "STAT", "PVT", "FED", None]
    assert frame.crs.to_epsg() == 4269

    no_agency = tmp_path / "no_agency.gpkg"
    gpd.GeoDataFrame({"AGENCY": ["BLM"]}, geometry=[box(0, 0, 1, 1)], crs=4269).to_file(no_agency)
    with pytest.raises(InvalidLayerError, match="ADMIN_AGENCY_CODE"):
        read_blm_sma(no_agency)
    with pytest.raises(LayerIOError):
        read_blm_sma(tmp_path / "missing.shp")


def test_read_us_atlas_decodes_hand_topology(tmp_path: Path) -> None:
    # Two unit squares sharing the arc x=1; quantized with scale 0.5, translate (10, 20).
    topology = {
        "type": "Topology",
        "transform": {"scale": [0.5, 0.5], "translate": [10.0, 20.0]},
        "arcs": [
            [[2, 0], [0, 2]],  # shared edge (1,0)->(1,1) in quantized units x2
            [[2, 2], [-2, 0], [0, -2], [2, 0]],  # left square, rest of the ring
            [[2, 0], [2, 0], [0, 2], [-2, 0]],  # right square, rest of the ring
        ],
        "objects": {
            "states": {
                "type": "GeometryCollection",
                "geometries": [
                    {"type": "Polygon", "arcs": [[0, 1]], "id": "1", "properties": {"name": "L"}},
                    {"type": "MultiPolygon", "arcs": [[[2, ~0]]], "id": 2, "properties": {}},
                ],
            }
        },
    }
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(topology))
    frame = read_us_atlas(path)
    assert frame["geoid"].tolist() == ["01", "02"]
    assert frame["name"].tolist() == ["L", None]
    assert frame.crs.to_epsg() == 4326
    left, right = frame.geometry
    assert left.equals(box(10, 20, 11, 21))
    assert right.equals(shapely.MultiPolygon([box(11, 20, 12, 21)]))
    with pytest.raises(InvalidLayerError, match="counties"):
        read_us_atlas(path, layer="counties")
    with pytest.raises(InvalidLayerError, match="layer must be"):
        read_us_atlas(path, layer="towns")
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(LayerIOError, match="Topology"):
        read_us_atlas(bad)
    with pytest.raises(LayerIOError):
        read_us_atlas(tmp_path / "missing.json")


@pytest.mark.realdata
def test_read_us_atlas_real(shared_data: Path) -> None:
    atlas = shared_data / "us_atlas"
    with pytest.warns(UserWarning, match="1 of 56 polygon"):
        states = read_us_atlas(atlas / "states-10m.json")
    assert len(states) == 56  # SOURCE.md: 50 states, DC, territories
    assert states.geometry.is_valid.all()
    assert (states["geoid"].str.len() == 2).all()
    assert states["geoid"].is_unique
    ri = states[states["name"] == "Rhode Island"]
    assert ri["geoid"].tolist() == ["44"]
    area_km2 = ri.to_crs("EPSG:5070").area.sum() / 1e6
    # Census: land 2,678 km2, land + water 4,001 km2. The cartographic boundary (cb, 1:10M)
    # polygons are clipped to the shoreline, so they are close to the land area (plus
    # inland water), and generalisation at 1:10M moves a small coastal state by several
    # percent: 2,854 km2 here. Allow 10 % around the land area, far from the total.
    assert area_km2 == pytest.approx(2678, rel=0.10)
    co = states[states["name"] == "Colorado"].total_bounds
    assert co == pytest.approx((-109.06, 36.99, -102.04, 41.00), abs=0.02)

    with pytest.warns(UserWarning, match="us-atlas counties") as record:
        counties = read_us_atlas(atlas / "counties-10m.json", layer="counties")
    messages = " ".join(str(w.message) for w in record)
    assert "Falls Church" in messages
    assert "22 of 3231 polygon" in messages
    assert len(counties) == 3231
    assert (counties["geoid"].str.len() == 5).all()
    assert counties["geoid"].is_unique
    assert counties.geometry.is_valid.all()
    assert int(counties.geometry.is_empty.sum()) == 1

    nation = read_us_atlas(atlas / "nation-10m.json", layer="nation")
    assert len(nation) == 1
    assert nation.geometry.is_valid.all()


def _write_tif(
    path: Path, data: np.ndarray, crs: str | None = "EPSG:4326", nodata: float | None = None
) -> None:
    profile = {
        "driver": "GTiff",
        "height": data.shape[0],
        "width": data.shape[1],
        "count": 1,
        "dtype": data.dtype,
        "transform": Affine(0.0025, 0, -105.0, 0, -0.0025, 40.0),
        "nodata": nodata,
    }
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


def test_read_wind_atlas(tmp_path: Path) -> None:
    data = np.array([[5.5, 7.25], [9.0, 60.0]], dtype="float32")
    path = tmp_path / "USA_wind-speed_100m.tif"
    _write_tif(path, data)
    with pytest.warns(UserWarning, match="1 cell"):
        wind = read_wind_atlas(path)
    assert wind.name == "wind_speed_100m_m_s"
    assert wind.attrs["units"] == "m/s"
    assert wind.attrs["height_m"] == 100.0
    assert wind.attrs["kind"] == "continuous"
    assert wind.rio.crs.to_epsg() == 4326
    np.testing.assert_array_equal(wind.to_numpy(), data)

    plain = tmp_path / "wind.tif"
    _write_tif(plain, data[:1])
    with pytest.raises(InvalidLayerError, match="height_m"):
        read_wind_atlas(plain)
    assert read_wind_atlas(plain, height_m=50).name == "wind_speed_50m_m_s"
    with pytest.raises(InvalidLayerError, match="disagrees"):
        read_wind_atlas(path, height_m=50)
    with pytest.raises(LayerIOError):
        read_wind_atlas(tmp_path / "USA_wind-speed_10m.tif")
    no_crs = tmp_path / "nocrs_wind-speed_100m.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _write_tif(no_crs, data[:1], crs=None)
    with pytest.raises(CRSError):
        read_wind_atlas(no_crs)


def test_read_rev_exclusion_retags_only_same_grid(tmp_path: Path) -> None:
    data = np.ones((3, 4), dtype="uint8")
    a, b, c = tmp_path / "a.tif", tmp_path / "b.tif", tmp_path / "c.tif"
    _write_tif(a, data, crs="EPSG:32130")
    _write_tif(b, data, crs="EPSG:3653")  # NAD83(NSRS2007) / Rhode Island: same projection
    _write_tif(c, data, crs="EPSG:3438")  # Rhode Island in US feet: different
    ref = read_raster(a)
    assert read_rev_exclusion(b).rio.crs.to_epsg() == 3653
    retagged = read_rev_exclusion(b, like=ref)
    assert Grid.from_xarray(retagged) == Grid.from_xarray(ref)
    assert "original_crs" in retagged.attrs
    build_stack({"a": ref, "b": retagged})
    with pytest.raises(GridError, match="projections differ"):
        read_rev_exclusion(c, like=Grid.from_xarray(ref))
    with pytest.raises(GridError, match="shapes differ"):
        read_rev_exclusion(b, like=ref.isel(x=slice(0, 3)))


@pytest.mark.realdata
def test_read_rev_exclusion_real_stack(shared_data: Path) -> None:
    folder = shared_data / "nrel_revx" / "ri_exclusions"
    slope = read_raster(folder / "ri_srtm_slope.tif")
    nlcd_raw = read_raster(folder / "ri_nlcd.tif")
    with pytest.raises(GridError):
        build_stack({"slope": slope, "nlcd": nlcd_raw})
    nlcd = read_rev_exclusion(folder / "ri_nlcd.tif", like=slope)
    reeds = read_rev_exclusion(folder / "ri_reeds_regions.tif", like=slope)
    stack = build_stack({"slope": slope, "nlcd": nlcd, "reeds": reeds})
    assert stack.sizes == {"y": 1434, "x": 972}
    np.testing.assert_array_equal(stack["nlcd"].to_numpy(), nlcd_raw.to_numpy())
