"""Tests for siting.datasets.resource: NREL rex HDF5, SAM CSV, points → grid."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import geopandas as gpd
import h5py  # type: ignore[import-untyped]
import numpy as np
import pandas as pd
import pytest

from siting.datasets.resource import (
    read_rex_hourly,
    read_rex_means,
    read_sam_csv,
)
from siting.errors import CRSError, InvalidLayerError, LayerIOError
from siting.grid import Grid
from siting.layers import points_to_grid

Method = Literal["nearest", "linear", "idw"]
METHODS: tuple[Method, ...] = ("nearest", "idw", "linear")

META_DTYPE = np.dtype([("latitude", "<f8"), ("longitude", "<f8"), ("state", "S10")])


def _write_rex(path: Path, *, hourly: bool = True, n_sites: int = 4) -> Path:
    """A small rex-layout file: int16 ghi (scale 10, W/m2), float wind, 24 hourly steps."""
    meta = np.zeros(n_sites, dtype=META_DTYPE)
    meta["latitude"] = 41.0 + 0.1 * np.arange(n_sites)
    meta["longitude"] = -71.5 - 0.1 * np.arange(n_sites)
    meta["state"] = b"RI"
    with h5py.File(path, "w") as f:
        f["meta"] = meta
        if hourly:
            times = pd.date_range("2012-01-01", periods=24, freq="h")
            f["time_index"] = np.array([t.strftime("%Y-%m-%d %H:%M:%S").encode() for t in times])
            ghi = (np.arange(24)[:, None] * 10 + np.arange(n_sites)[None, :]).astype("int16")
            f.create_dataset("ghi", data=ghi)
            f["ghi"].attrs["scale_factor"] = 10
            f["ghi"].attrs["units"] = "W/m2"
        # means: dni in W/m2 as integers x 10, two years
        means = np.array([[2000, 2100, 2200, 2300], [1000, 1100, 1200, 1300]], dtype="int32")
        f.create_dataset("dni", data=means[:, :n_sites])
        f["dni"].attrs["scale_factor"] = 10
        f["dni"].attrs["units"] = "W/m2"
        f["year_index"] = np.array([b"2012", b"2013"])
        f.create_dataset("windspeed_100m", data=np.linspace(5, 8, n_sites).astype("float32"))
        f["windspeed_100m"].attrs["scale_factor"] = 100  # float data: must not be divided
        f.create_dataset("wind_speed", data=np.full((24, n_sites), 35, dtype="int16"))
    return path


# -- rex, synthetic -------------------------------------------------------------------------


def test_means_synthetic_units_scale_and_years(tmp_path: Path) -> None:
    path = _write_rex(tmp_path / "r.h5")
    out = read_rex_means(path, "dni", year=2013)
    assert len(out) == 4
    assert out.crs.to_epsg() == 4326
    # 100 W/m2 (1000 / 10) x 24 / 1000 = 2.4 kWh/m2/day
    assert out.attrs["source_dataset"] == "dni"
    assert out.attrs["column"] == "dni_kwh_m2_day"
    np.testing.assert_allclose(out["dni_kwh_m2_day"], [2.4, 2.64, 2.88, 3.12])
    assert out["state"].tolist() == ["RI"] * 4  # bytes decoded
    assert out.geometry.x.tolist() == pytest.approx(out["longitude"].tolist())
    long = read_rex_means(path, "dni")
    assert len(long) == 8
    assert sorted(set(long["year"])) == ["2012", "2013"]
    wind = read_rex_means(path, "windspeed_100m")
    assert "year" not in wind.columns
    np.testing.assert_allclose(wind["wind_speed_100m_m_s"], np.linspace(5, 8, 4), rtol=1e-6)


def test_means_irradiance_names(tmp_path: Path) -> None:
    path = tmp_path / "m.h5"
    with h5py.File(path, "w") as f:
        f["meta"] = np.zeros(2, dtype=META_DTYPE)
        f["ghi"] = np.array([200.0, 250.0])
        f["ghi"].attrs["units"] = "W/m2"
        f["dni"] = np.array([30.0, 40.0])  # no units, fits neither range
    out = read_rex_means(path, "ghi")
    np.testing.assert_allclose(out["ghi_kwh_m2_day"], [4.8, 6.0])
    with pytest.raises(InvalidLayerError, match="units="):
        read_rex_means(path, "dni")
    np.testing.assert_allclose(
        read_rex_means(path, "dni", units="W/m2")["dni_kwh_m2_day"], [0.72, 0.96]
    )


def test_hourly_synthetic(tmp_path: Path) -> None:
    path = _write_rex(tmp_path / "r.h5")
    frame = read_rex_hourly(path, "ghi")
    assert frame.shape == (24, 4)
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert str(frame.index.tz) == "UTC"
    assert frame.index[1] - frame.index[0] == pd.Timedelta("1h")
    assert frame.loc["2012-01-01 05:00", 3] == pytest.approx(5.3)  # (5*10 + 3) / 10
    sub = read_rex_hourly(path, "ghi", sites=[3, 0])
    assert list(sub.columns) == [3, 0]
    np.testing.assert_allclose(sub[3], frame[3])
    with pytest.warns(UserWarning, match="scale_factor"):
        raw = read_rex_hourly(path, "wind_speed")
    assert raw.iloc[0, 0] == 35
    assert read_rex_hourly(path, "wind_speed", scale_factor=10).iloc[0, 0] == pytest.approx(3.5)
    with pytest.raises(InvalidLayerError, match="gids"):
        read_rex_hourly(path, "ghi", sites=[4])


def test_rex_bad_inputs(tmp_path: Path) -> None:
    path = _write_rex(tmp_path / "r.h5")
    with pytest.raises(InvalidLayerError, match=r"available value datasets.*dni"):
        read_rex_means(path, "dhi")
    with pytest.raises(InvalidLayerError, match="available"):
        read_rex_means(path, "dni", year=1999)
    with pytest.raises(LayerIOError, match="does not exist"):
        read_rex_means(tmp_path / "nope.h5", "ghi")
    data = path.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(LayerIOError, match=r"corrupt|truncated"):
        read_rex_means(cut, "dni")
    with pytest.raises(LayerIOError):
        read_rex_hourly(cut, "ghi")
    no_time = _write_rex(tmp_path / "nt.h5", hourly=False)
    with pytest.raises(LayerIOError, match="time_index"):
        read_rex_hourly(no_time, "wind_speed")
    no_meta = tmp_path / "nm.h5"
    with h5py.File(no_meta, "w") as f:
        f["ghi"] = np.ones(3)
    with pytest.raises(LayerIOError, match="meta"):
        read_rex_means(no_meta, "ghi")


# -- SAM CSV --------------------------------------------------------------------------------


def test_sam_csv_bad_header(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n1,2,3\n4,5,6\n")
    with pytest.raises(LayerIOError, match="not a SAM weather CSV"):
        read_sam_csv(bad)
    srw = tmp_path / "srw.csv"
    srw.write_text("id,c,WY,USA,2012,41,-105,2000,1,2\nd\nSpeed,Gust\nm/s,m/s\n80,80\n1,2\n")
    with pytest.raises(LayerIOError):
        read_sam_csv(srw)
    no_ghi = tmp_path / "solar.csv"
    no_ghi.write_text("Source,Latitude,Longitude\nX,1,2\nYear,Month,Day,Hour\n2000,1,1,0\n")
    with pytest.raises(LayerIOError, match="GHI"):
        read_sam_csv(no_ghi)
    with pytest.raises(LayerIOError, match="does not exist"):
        read_sam_csv(tmp_path / "missing.csv")


def test_sam_srw_synthetic(tmp_path: Path) -> None:
    srw = tmp_path / "srw.csv"
    srw.write_text(
        "id,town,WY,USA,2012,41.5,-105.5,2000,1,2\ndesc\nSpeed,Pressure,Speed\n"
        "m/s,atm,m/s\n50,50,80\n5.0,0.8,6.0\n5.5,0.8,6.5\n"
    )
    meta, data = read_sam_csv(srw)
    assert meta["latitude"] == 41.5
    assert meta["longitude"] == -105.5
    assert list(data.columns) == ["wind_speed_50m_m_s", "pressure_50m_atm", "wind_speed_80m_m_s"]
    assert data["wind_speed_80m_m_s"].tolist() == [6.0, 6.5]


# -- points to grid -------------------------------------------------------------------------


def _points(xs: list[float], ys: list[float], values: list[float]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"v": values}, geometry=gpd.points_from_xy(xs, ys), crs="EPSG:5070")


# 4 x 4 grid of 10 m cells over (0, 0, 40, 40); centres at 5, 15, 25, 35.
GRID = Grid.from_bounds((0, 0, 40, 40), 10, crs="EPSG:5070")


def test_nearest_and_exact_at_points() -> None:
    pts = _points([5, 35], [35, 5], [1.0, 2.0])
    nearest_idw: tuple[Method, ...] = ("nearest", "idw")
    for method in nearest_idw:
        out = points_to_grid(pts, "v", GRID, method=method)
        assert out.shape == (4, 4)
        assert out.rio.crs.to_epsg() == 5070
        assert out.values[0, 0] == 1.0
        assert out.values[3, 3] == 2.0
    near = points_to_grid(pts, "v", GRID, method="nearest").values
    assert near[0, 1] == 1.0
    assert near[3, 2] == 2.0


def test_idw_hand_checked() -> None:
    pts = _points([5, 35], [35, 35], [0.0, 10.0])
    out = points_to_grid(pts, "v", GRID, method="idw", power=2).values
    # cell (row 0, col 1): centre (15, 35); d = 10 and 20 → weights 1/100, 1/400
    expected = (0.0 / 100 + 10.0 / 400) / (1 / 100 + 1 / 400)
    assert out[0, 1] == pytest.approx(expected)  # 2.0
    # power 1: weights 1/10, 1/20 → 10/20 / (3/20) = 3.333...
    out1 = points_to_grid(pts, "v", GRID, method="idw", power=1).values
    assert out1[0, 1] == pytest.approx(10.0 / 3.0)
    # k=1 reduces to nearest
    k1 = points_to_grid(pts, "v", GRID, method="idw", k=1).values
    np.testing.assert_array_equal(k1, points_to_grid(pts, "v", GRID, method="nearest").values)


def test_linear_hand_checked_and_nan_outside_hull() -> None:
    # plane v = x + 2y on a triangle; linear interpolation is exact inside it
    pts = _points([5, 35, 5], [5, 5, 35], [15.0, 45.0, 75.0])
    out = points_to_grid(pts, "v", GRID, method="linear").values
    assert out[3, 0] == pytest.approx(15.0)  # at a point
    assert out[2, 1] == pytest.approx(15 + 2 * 15)  # centre (15, 15)
    assert np.isnan(out[0, 3])  # (35, 35) is outside the triangle
    with pytest.raises(InvalidLayerError, match="3 points"):
        points_to_grid(_points([5, 15], [5, 5], [1.0, 2.0]), "v", GRID, method="linear")


def test_max_distance_and_bad_arguments() -> None:
    pts = _points([5], [35], [7.0])
    out = points_to_grid(pts, "v", GRID, method="nearest", max_distance_m=15).values
    assert out[0, 0] == 7.0
    assert out[0, 1] == 7.0
    assert out[1, 1] == 7.0
    assert np.isnan(out[0, 2])
    assert np.isnan(out[3, 3])
    assert np.isfinite(out).sum() == 4
    with pytest.raises(InvalidLayerError, match="method"):
        points_to_grid(pts, "v", GRID, method="cubic")  # type: ignore[arg-type]
    with pytest.raises(InvalidLayerError, match="column"):
        points_to_grid(pts, "w", GRID, method="nearest")
    with pytest.raises(InvalidLayerError, match="power"):
        points_to_grid(pts, "v", GRID, method="idw", power=0)
    with pytest.raises(CRSError):
        points_to_grid(pts.set_crs(None, allow_override=True), "v", GRID, method="nearest")
    geo = Grid.from_bounds((-72, 41, -71, 42), 0.5, crs="EPSG:4326")
    with pytest.raises(CRSError):
        points_to_grid(pts, "v", geo, method="nearest")


def test_points_reprojected_to_grid_crs() -> None:
    pts = _points([5, 35], [35, 5], [1.0, 2.0]).to_crs("EPSG:4326")
    out = points_to_grid(pts, "v", GRID, method="nearest").values
    assert out[0, 0] == 1.0
    assert out[3, 3] == 2.0


# -- real data ------------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_nsrdb_means(shared_data: Path) -> None:
    path = shared_data / "nrel_rev" / "nsrdb" / "ri_100_nsrdb_v3_means.h5"
    out = read_rex_means(path, "ghi")
    assert len(out) == 300
    assert out.groupby("year").size().to_dict() == {"2012": 100, "2013": 100, "2012_2013": 100}
    assert out.attrs["units"] == "kWh/m2/day"
    assert out["ghi_kwh_m2_day"].between(3.5, 4.5).all()
    one = read_rex_means(path, "ghi", year="2012_2013")
    assert len(one) == 100
    assert one["gid"].tolist() == list(range(100))
    assert one["ghi_kwh_m2_day"].mean() == pytest.approx(4.144, abs=0.01)
    assert one.total_bounds == pytest.approx([-71.86, 40.89, -71.66, 42.01], abs=0.01)


@pytest.mark.realdata
def test_real_wtk_means(shared_data: Path) -> None:
    path = shared_data / "nrel_rev" / "wtk" / "ri_100_wtk_means.h5"
    out = read_rex_means(path, "windspeed_100m", year=2012)
    assert len(out) == 200
    assert out["wind_speed_100m_m_s"].between(5, 10).all()
    assert out["wind_speed_100m_m_s"].mean() == pytest.approx(7.66, abs=0.01)
    assert "offshore" in out.columns
    w80 = read_rex_means(path, "windspeed_80m", year=2012)
    assert (w80["wind_speed_80m_m_s"] < out["wind_speed_100m_m_s"]).mean() > 0.95


@pytest.mark.realdata
def test_real_nsrdb_half_hourly(shared_data: Path) -> None:
    path = shared_data / "nrel_rex" / "nsrdb" / "nsrdb_wspd_chunked_2012.h5"
    frame = read_rex_hourly(path, "wind_speed", sites=[0, 99], scale_factor=10)
    assert frame.shape == (17568, 2)  # 366 days x 48 half-hours
    assert frame.index[0] == pd.Timestamp("2012-01-01", tz="UTC")
    assert (frame.index[1] - frame.index[0]) == pd.Timedelta("30min")
    assert frame.to_numpy().min() >= 0
    assert frame.to_numpy().max() <= 17.0


@pytest.mark.realdata
def test_real_sam_daggett(shared_data: Path) -> None:
    meta, data = read_sam_csv(shared_data / "nrel_rev" / "SAM" / "USA CA Daggett (TMY2).csv")
    assert len(data) == 8760
    assert meta["latitude"] == pytest.approx(34.87, abs=0.01)
    assert meta["longitude"] == pytest.approx(-116.78, abs=0.01)
    assert meta["elevation_m"] == 588
    for col in ("ghi_w_m2", "dni_w_m2", "dhi_w_m2", "temp_air_c", "wind_speed_m_s"):
        assert col in data.columns
    ghi_day = data["ghi_w_m2"].mean() * 24 / 1000
    assert 5.5 < ghi_day < 6.5  # 5.86 kWh/m2/day
    assert data["ghi_w_m2"].max() < 1200
    assert data["temp_air_c"].between(-20, 50).all()


@pytest.mark.realdata
def test_real_sam_srw(shared_data: Path) -> None:
    meta, data = read_sam_csv(shared_data / "nrel_rev" / "SAM" / "WY Southern-Flat Lands.csv")
    assert len(data) == 8760
    assert meta["heights_m"] == [50.0, 80.0, 110.0, 140.0]
    assert meta["elevation_m"] == 2088
    assert np.isnan(meta["latitude"])
    speeds = [data[f"wind_speed_{h}m_m_s"].mean() for h in (50, 80, 110, 140)]
    assert speeds == sorted(speeds)
    assert 8 < speeds[1] < 12
    assert data["pressure_80m_atm"].between(0.7, 0.8).all()


@pytest.mark.realdata
def test_real_nsrdb_to_grid(shared_data: Path) -> None:
    pts = read_rex_means(
        shared_data / "nrel_rev" / "nsrdb" / "ri_100_nsrdb_v3_means.h5", "ghi", year="2012"
    )
    grid = Grid.from_geometry(
        pts.union_all().convex_hull.buffer(0.02), 2000, geometry_crs="EPSG:4326"
    )
    for method in METHODS:
        out = points_to_grid(pts, "ghi_kwh_m2_day", grid, method=method, max_distance_m=5000)
        finite = out.values[np.isfinite(out.values)]
        assert finite.size > 0
        assert finite.min() >= 3.98 - 1e-9
        assert finite.max() <= 4.224 + 1e-6


def test_blocked_evaluation_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    import siting.layers as layers_module

    pts = _points([5, 35, 5, 20], [5, 5, 35, 20], [1.0, 2.0, 3.0, 4.0])
    whole = {m: points_to_grid(pts, "v", GRID, method=m).values for m in METHODS}
    monkeypatch.setattr(layers_module, "_CELLS_PER_BLOCK", 5)  # 1 row per block
    for method in METHODS:
        expected = whole[method]
        got = points_to_grid(pts, "v", GRID, method=method, max_distance_m=100).values
        np.testing.assert_array_equal(got, expected)
