"""Grid data model: HIFLD and reV readers normalise lines and substations to one schema."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, MultiLineString, Point, box

from siting.datasets import (
    GridFeatures,
    read_hifld_lines,
    read_hifld_substations,
    read_rev_transmission,
)
from siting.datasets.transmission import LINE_COLUMNS, SUBSTATION_COLUMNS
from siting.errors import CRSError, InvalidLayerError, LayerIOError


def _hifld_lines(voltages: list[float]) -> gpd.GeoDataFrame:
    n = len(voltages)
    return gpd.GeoDataFrame(
        {
            "OBJECTID": range(1, n + 1),
            "ID": [str(100 + i) for i in range(n)],
            "TYPE": ["AC; OVERHEAD"] * n,
            "STATUS": ["IN SERVICE"] * n,
            "OWNER": (["NOT AVAILABLE"] + ["GRID CO"] * (n - 1))[:n],
            "VOLTAGE": voltages,
            "VOLT_CLASS": ["220-287"] * n,
            "SUB_1": ["ALPHA"] * n,
            "SUB_2": ["NOT AVAILABLE"] * n,
        },
        geometry=[LineString([(i, 0), (i, 1)]) for i in range(n)],
        crs="EPSG:4326",
    )


def _hifld_substations(max_volt: list[float]) -> gpd.GeoDataFrame:
    n = len(max_volt)
    return gpd.GeoDataFrame(
        {
            "ID": [str(700 + i) for i in range(n)],
            "NAME": [f"SUB {i}" for i in range(n)],
            "MAX_VOLT": max_volt,
            "MIN_VOLT": [69.0] * n,
            "LINES": [2] * n,
        },
        geometry=[box(i, 0, i + 2, 2) for i in range(n)],
        crs="EPSG:5070",
    )


def test_read_hifld_lines__schema_and_unknown_voltage_kept_as_nan() -> None:
    with pytest.warns(UserWarning, match="1 of 3 row"):
        lines = read_hifld_lines(_hifld_lines([230.0, -999999.0, 345.0]))
    assert list(lines.columns[: len(LINE_COLUMNS)]) == list(LINE_COLUMNS)
    assert len(lines) == 3  # nothing dropped
    np.testing.assert_array_equal(lines["voltage_kv"], [230.0, np.nan, 345.0])
    assert lines["capacity_mw"].isna().all()
    assert lines["owner"].isna().tolist() == [True, False, False]  # "NOT AVAILABLE" → missing
    assert lines["to_substation"].isna().all()
    assert (lines["from_substation"] == "ALPHA").all()
    assert lines["line_id"].tolist() == ["100", "101", "102"]
    assert lines.crs == "EPSG:4326"  # CRS kept, not reprojected


@pytest.mark.parametrize("bad", [-5.0, 1500.0])
def test_read_hifld_lines__absurd_voltage_names_rows(bad: float) -> None:
    with pytest.raises(InvalidLayerError, match=r"ids: 101") as info:
        read_hifld_lines(_hifld_lines([230.0, bad]))
    assert isinstance(info.value, ValueError)


def test_read_hifld_lines__missing_crs_or_column_or_file(tmp_path: Path) -> None:
    raw = _hifld_lines([230.0])
    with pytest.raises(CRSError, match=r"\.set_crs"):
        read_hifld_lines(raw.set_crs(None, allow_override=True))
    with pytest.raises(InvalidLayerError, match="VOLTAGE"):
        read_hifld_lines(raw.drop(columns="VOLTAGE"))
    with pytest.raises(LayerIOError):
        read_hifld_lines(tmp_path / "absent.gpkg")


def test_read_hifld_lines__from_file(tmp_path: Path) -> None:
    path = tmp_path / "lines.gpkg"
    _hifld_lines([115.0, 69.0]).to_file(path)
    lines = read_hifld_lines(path)
    assert lines["voltage_kv"].tolist() == [115.0, 69.0]
    assert lines["volt_class"].tolist() == ["220-287", "220-287"]


def test_read_hifld_lines__empty_input() -> None:
    lines = read_hifld_lines(_hifld_lines([]))
    assert lines.empty
    assert "voltage_kv" in lines


def test_read_hifld_substations__points_and_sentinels() -> None:
    with pytest.warns(UserWarning, match="MAX_VOLT"):
        subs = read_hifld_substations(_hifld_substations([345.0, -999999.0]))
    assert list(subs.columns[: len(SUBSTATION_COLUMNS)]) == list(SUBSTATION_COLUMNS)
    assert (subs.geom_type == "Point").all()
    assert subs.geometry.iloc[0].equals(Point(1, 1))  # polygon footprint → centroid
    np.testing.assert_array_equal(subs["max_kv"], [345.0, np.nan])
    assert subs["line_ids"].tolist() == [[], []]


def test_read_hifld_substations__absurd_voltage_raises() -> None:
    with pytest.raises(InvalidLayerError, match="701"):
        read_hifld_substations(_hifld_substations([345.0, 2000.0]))


def test_read_rev_transmission__synthetic_split() -> None:
    raw = gpd.GeoDataFrame(
        {
            "gid": [1, 2, 3, 4, 5],
            "category": ["TransLine", "TransLine", "Substation", "LoadCen", "PCALoadCen"],
            "voltage": [345.0, 0.0, np.nan, np.nan, np.nan],
            "ac_cap": [1260.0, 50.0, 100.0, 1e6, 1e6],
            "cap_left": [126.0, 5.0, 10.0, 1e5, 1e5],
            "bgid": [3.0, np.nan, np.nan, np.nan, np.nan],
            "egid": [np.nan] * 5,
            "trans_gids": [None, None, "[1, 2]", None, None],
        },
        geometry=[
            MultiLineString([[(0, 0), (100, 0)]]),
            MultiLineString([[(0, 10), (100, 10)]]),
            MultiLineString([[(50, 50), (52, 52)]]),
            MultiLineString([[(200, 200), (204, 200)]]),
            MultiLineString([[(300, 300), (300, 304)]]),
        ],
        crs="EPSG:3653",
    )
    with pytest.warns(UserWarning, match="1 of 2 row"):  # reV's 0 kV = unknown
        grid = read_rev_transmission(raw)
    assert isinstance(grid, GridFeatures)
    assert grid.lines["gid"].tolist() == [1, 2]
    np.testing.assert_array_equal(grid.lines["voltage_kv"], [345.0, np.nan])
    assert grid.lines["capacity_mw"].tolist() == [1260.0, 50.0]
    assert grid.lines["from_substation"].iloc[0] == "3"
    assert grid.lines["from_substation"].isna().iloc[1]
    sub = grid.substations.iloc[0]
    assert sub["line_ids"] == ["1", "2"]
    assert sub["n_lines"] == 2
    assert sub["max_kv"] == 345.0
    assert sub["min_kv"] == 345.0
    assert sub.geometry.distance(Point(51, 51)) < 1e-9
    assert grid.load_centers["category"].tolist() == ["LoadCen", "PCALoadCen"]
    assert all(f.crs == "EPSG:3653" for f in grid)


@pytest.mark.realdata
def test_read_rev_transmission__ri_allconns(shared_data: Path) -> None:
    path = shared_data / "nrel_revx/xmission/ri_allconns.gpkg"
    grid = read_rev_transmission(path, layer="ri_allconns")
    assert (len(grid.lines), len(grid.substations), len(grid.load_centers)) == (606, 445, 120)
    assert grid.lines.crs.to_epsg() == 3653
    assert grid.lines["voltage_kv"].between(0, 1200).all()
    assert (grid.substations.geom_type == "Point").all()
    raw = gpd.read_file(path, layer="ri_allconns").set_index("gid")
    stub = raw.geometry.loc[grid.substations["gid"]].to_numpy()
    # the point is the stub's centroid, ~37 m from either end of the ~73 m stub
    centroids = gpd.GeoSeries(stub, crs=raw.crs).centroid
    assert np.allclose(grid.substations.geometry.distance(centroids, align=False), 0)
    assert (grid.substations["n_lines"] > 0).mean() > 0.95
    known = grid.substations["max_kv"].dropna()
    assert len(known) > 400
    assert known.between(1, 1200).all()
