"""The synthetic sample region: magnitudes, spatial structure, vectors, determinism, files."""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from geopandas.testing import assert_geodataframe_equal
from rasterio.enums import Resampling
from rasterio.features import geometry_mask

import siting.datasets.sample as sample_module
from siting.datasets import SYNTHETIC_NOTICE, SampleRegion, load_sample
from siting.errors import OutputError
from siting.grid import Grid

RASTERS = {
    # name: (units, epsg, resolution, documented range)
    "ghi_kwh_m2_day": ("kWh/m2/day", 4326, 0.04, (5.3, 6.2)),
    "wind_speed_100m_m_s": ("m/s", 32611, 1000.0, (4.0, 9.0)),
    "heat_flow_mw_m2": ("mW/m2", 4326, 0.02, (60.0, 250.0)),
    "elevation_m": ("m", 32611, 90.0, (1100.0, 3100.0)),
    "slope_pct": ("percent", 32611, 90.0, (0.0, 200.0)),
    "air_temperature_c": ("degC", 4326, 0.01, (-5.0, 16.0)),
}
VECTORS = (
    "region",
    "federal_land",
    "transmission_lines",
    "substations",
    "towns",
    "airports",
    "facilities",
    "faults",
)
# Written independently of the generator: PAD-US-style GAP status of each designation.
GAP_BY_DESIGNATION = {
    "Wilderness Area": {1},
    "Wilderness Study Area": {2},
    "National Wildlife Refuge": {1, 2},
    "National Monument": {1, 2},
    "National Forest": {3},
    "Public Land": {3},
    "State Wildlife Management Area": {2, 3},
    "Military Reservation": {4},
    "Indian Reservation": {4},
    "Private Land": {4},
}
MANAGER_TYPE = {
    "BLM": "Federal",
    "USFS": "Federal",
    "DOD": "Federal",
    "NPS": "Federal",
    "FWS": "Federal",
    "STATE": "State",
    "PRIVATE": "Private",
    "TRIBAL": "Tribal",
}
EQUAL_AREA = "EPSG:5070"


@pytest.fixture(scope="module")
def sample() -> SampleRegion:
    return load_sample()


def region_values(sample: SampleRegion, name: str) -> np.ndarray:
    """Values of the cells of a raster whose centres lie inside the region."""
    array = sample.rasters[name]
    grid = Grid.from_xarray(array)
    region = sample.region.to_crs(grid.crs).geometry.iloc[0]
    xs, ys = np.meshgrid(grid.xs, grid.ys)
    return array.values[shapely.contains_xy(region, xs, ys)]


def values_at(sample: SampleRegion, name: str, points) -> np.ndarray:
    """Raster values at the cells holding the given points."""
    array = sample.rasters[name]
    grid = Grid.from_xarray(array)
    geoms = points.to_crs(grid.crs).geometry
    rows, cols = grid.rowcol(geoms.x.to_numpy(), geoms.y.to_numpy())
    return array.values[rows, cols]


# -- rasters ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(RASTERS))
def test_raster__values_in_documented_range_without_nan_in_region(sample, name):
    units, _, _, (low, high) = RASTERS[name]
    values = region_values(sample, name)
    assert values.size > 100
    assert np.isfinite(values).all()
    assert values.min() >= low
    assert values.max() <= high
    array = sample.rasters[name]
    assert array.dtype == np.float32
    assert array.attrs["units"] == units
    assert array.attrs["kind"] == "continuous"
    assert array.attrs["long_name"]
    assert array.attrs["synthetic"] == 1
    assert array.attrs["notice"] == SYNTHETIC_NOTICE


@pytest.mark.parametrize("name", list(RASTERS))
def test_raster__on_its_native_grid_with_nan_nodata(sample, name):
    _, epsg, resolution, _ = RASTERS[name]
    array = sample.rasters[name]
    assert array.dims == ("y", "x")
    assert array.rio.crs.to_epsg() == epsg
    assert Grid.from_xarray(array).resolution == pytest.approx((resolution, resolution))
    assert np.isnan(array.rio.nodata)
    # Data are clipped to 5 km around the region: the grid's outer frame is nodata.
    assert np.isnan(array.values[0]).all()
    assert np.isnan(array.values[:, -1]).all()


def test_elevation__basin_and_range_magnitudes(sample):
    elevation = region_values(sample, "elevation_m")
    assert 1150 < np.percentile(elevation, 10) < 1550  # valley floors
    assert 2300 < elevation.max() < 3100  # range crests
    slope = region_values(sample, "slope_pct")
    assert np.median(slope) < 8  # mostly gentle valleys ...
    assert np.percentile(slope, 99) > 20  # ... and steep range flanks


def test_wind__correlates_with_elevation_on_a_common_grid(sample):
    wind = sample.rasters["wind_speed_100m_m_s"]
    elevation = sample.rasters["elevation_m"].rio.reproject_match(
        wind, resampling=Resampling.average
    )
    ok = np.isfinite(wind.values) & np.isfinite(elevation.values)
    r = np.corrcoef(wind.values[ok], elevation.values[ok])[0, 1]
    assert r > 0.3


def test_heat_flow__higher_near_the_faults(sample):
    heat = sample.rasters["heat_flow_mw_m2"]
    grid = Grid.from_xarray(heat)
    lon, lat = np.meshgrid(grid.xs, grid.ys)
    faults = sample.faults.to_crs("EPSG:32611").union_all()
    centres = shapely.points(lon.ravel(), lat.ravel())
    import geopandas as gpd

    centres = gpd.GeoSeries(centres, crs=grid.crs).to_crs("EPSG:32611").to_numpy()
    distance = shapely.distance(centres, faults).reshape(grid.shape)
    values = heat.values
    near = values[(distance < 3000) & np.isfinite(values)]
    far = values[(distance > 15_000) & np.isfinite(values)]
    assert near.size > 20
    assert far.size > 200
    assert near.mean() > far.mean() + 30
    assert values[np.isfinite(values)].max() > 150


def test_ghi__increases_southward_and_drops_on_high_terrain(sample):
    ghi = sample.rasters["ghi_kwh_m2_day"]
    lat = np.broadcast_to(ghi.y.values[:, None], ghi.shape)
    ok = np.isfinite(ghi.values)
    slope_per_degree = np.polyfit(lat[ok], ghi.values[ok], 1)[0]
    assert slope_per_degree < -0.1
    # With the latitude trend removed, what is left is lower where the terrain is high.
    residual = ghi.values[ok] - np.polyval(np.polyfit(lat[ok], ghi.values[ok], 1), lat[ok])
    elevation = sample.rasters["elevation_m"].rio.reproject_match(
        ghi, resampling=Resampling.average
    )
    both = np.isfinite(elevation.values[ok])
    r = np.corrcoef(residual[both], elevation.values[ok][both])[0, 1]
    assert r < -0.3


def test_slope__is_the_central_difference_gradient_of_elevation(sample):
    elevation = sample.rasters["elevation_m"].values.astype(np.float64)
    slope = sample.rasters["slope_pct"].values
    steepest = np.unravel_index(np.nanargmax(slope[1:-1, 1:-1]), np.array(slope.shape) - 2)
    cells = [(600, 700), (400, 250), (steepest[0] + 1, steepest[1] + 1)]
    for r, c in cells:
        dz_dx = (elevation[r, c + 1] - elevation[r, c - 1]) / (2 * 90.0)
        dz_dy = (elevation[r - 1, c] - elevation[r + 1, c]) / (2 * 90.0)
        expected = 100.0 * np.hypot(dz_dx, dz_dy)
        assert slope[r, c] == pytest.approx(expected, rel=1e-5)


# -- federal land -----------------------------------------------------------------------


def test_federal_land__valid_non_overlapping_partition_of_the_region(sample):
    land = sample.federal_land.to_crs(EQUAL_AREA)
    assert land.is_valid.all()
    assert set(land.geom_type) == {"MultiPolygon"}
    union = land.union_all()
    assert land.area.sum() == pytest.approx(union.area, rel=1e-6)
    region = sample.region.to_crs(EQUAL_AREA).geometry.iloc[0]
    assert union.area == pytest.approx(region.area, rel=1e-3)
    assert region.buffer(1.0).contains(union)


def test_federal_land__gap_status_consistent_with_designation(sample):
    land = sample.federal_land
    assert land["gap_status"].dtype.kind == "i"
    assert land["gap_status"].between(1, 4).all()
    for row in land.itertuples():
        assert row.gap_status in GAP_BY_DESIGNATION[row.designation], row
        assert MANAGER_TYPE[row.manager] == row.manager_type, row
    # A defence reservation is never protected; a wilderness always is.
    assert (land.loc[land["manager"] == "DOD", "gap_status"] == 4).all()
    assert set(land["manager"]) >= {"BLM", "USFS", "DOD", "PRIVATE"}


@pytest.mark.parametrize("seed", [0, 1])
def test_federal_land__blm_dominates_and_protected_share_is_moderate(seed):
    land = load_sample(seed=seed).federal_land.to_crs(EQUAL_AREA)
    area = land.area
    blm_share = area[land["manager"] == "BLM"].sum() / area.sum()
    protected_share = area[land["gap_status"] <= 2].sum() / area.sum()
    assert 0.40 <= blm_share <= 0.80
    assert 0.05 <= protected_share <= 0.25


def test_federal_land__wilderness_on_high_ground(sample):
    elevation = sample.rasters["elevation_m"]
    grid = Grid.from_xarray(elevation)
    land = sample.federal_land.to_crs(grid.crs)
    wild = land[land["designation"].isin(["Wilderness Area", "Wilderness Study Area"])]
    inside = ~geometry_mask(wild.geometry, out_shape=grid.shape, transform=grid.transform)
    assert (
        np.nanmean(elevation.values[inside])
        > np.nanmean(region_values(sample, "elevation_m")) + 300
    )


# -- grid, towns, airports --------------------------------------------------------------


def test_transmission_lines__voltages_and_columns(sample):
    lines = sample.transmission_lines
    assert set(lines.geom_type) == {"LineString"}
    assert set(lines["voltage_kv"]) <= {69, 138, 230, 345}
    assert len(set(lines["voltage_kv"])) >= 2
    assert (lines["status"] == "in service").all()
    assert lines["line_id"].is_unique
    assert lines["owner"].str.len().gt(0).all()
    # A few long lines cross the region.
    assert lines.to_crs(EQUAL_AREA).length.sum() > 250_000


def test_substations__lie_on_lines_and_report_their_voltages(sample):
    lines = sample.transmission_lines.to_crs(EQUAL_AREA)
    stations = sample.substations.to_crs(EQUAL_AREA)
    network = lines.union_all()
    assert (stations.distance(network) < 50).all()
    for station in stations.itertuples():
        touching = lines[lines.distance(station.geometry) < 1.0]
        assert station.lines == len(touching) >= 1
        assert station.max_kv == touching["voltage_kv"].max()
        assert station.min_kv == touching["voltage_kv"].min()


def test_towns__in_valleys_inside_the_region_near_substations(sample):
    towns = sample.towns
    assert 8 <= len(towns) <= 12
    assert towns["name"].is_unique
    region = sample.region.geometry.iloc[0]
    assert towns.within(region).all()
    population = towns["population"]
    assert population.max() > 10_000  # heavy-tailed: one town ...
    assert population.min() < 1000  # ... and hamlets
    assert population.max() <= 40_000
    assert population.min() >= 100
    assert (values_at(sample, "elevation_m", towns) < 1600).all()
    distance = towns.to_crs(EQUAL_AREA).distance(sample.substations.to_crs(EQUAL_AREA).union_all())
    assert (distance < 10_000).all()


def test_airports__invented_codes_and_kinds(sample):
    airports = sample.airports
    assert 2 <= len(airports) <= 4
    assert airports["code"].is_unique
    assert set(airports["kind"]) <= {"public", "military"}
    assert airports.within(sample.region.geometry.iloc[0]).all()


# -- facilities -------------------------------------------------------------------------


def test_facilities__kinds_counts_and_capacities(sample):
    facilities = sample.facilities
    assert 30 <= len(facilities) <= 60
    assert set(facilities["kind"]) == {"solar", "geothermal", "wind", "data_center"}
    assert (facilities["capacity_mw"] > 0).all()
    assert facilities.within(sample.region.geometry.iloc[0]).all()
    protected = sample.federal_land[sample.federal_land["gap_status"] <= 2].union_all()
    assert not facilities.intersects(protected).any()


@pytest.mark.parametrize("seed", [0, 1])
def test_facilities__placed_where_their_resource_is_good(seed):
    sample = load_sample(seed=seed)
    facilities = sample.facilities
    of = {kind: facilities[facilities["kind"] == kind] for kind in facilities["kind"].unique()}
    ghi = region_values(sample, "ghi_kwh_m2_day")
    assert values_at(sample, "ghi_kwh_m2_day", of["solar"]).mean() > ghi.mean()
    assert values_at(sample, "slope_pct", of["solar"]).mean() < 5
    heat = region_values(sample, "heat_flow_mw_m2")
    assert values_at(sample, "heat_flow_mw_m2", of["geothermal"]).mean() > np.percentile(heat, 75)
    wind = region_values(sample, "wind_speed_100m_m_s")
    assert values_at(sample, "wind_speed_100m_m_s", of["wind"]).mean() > np.percentile(wind, 75)
    towns = sample.towns.to_crs(EQUAL_AREA).union_all()
    to_town = of["data_center"].to_crs(EQUAL_AREA).distance(towns)
    anywhere = sample.facilities.to_crs(EQUAL_AREA).distance(towns)
    assert to_town.mean() < 10_000
    assert to_town.mean() < anywhere.mean()


# -- identity, determinism --------------------------------------------------------------


def test_load_sample__everything_is_labelled_synthetic_and_has_a_crs(sample):
    assert "synthetic" in sample.name.lower()
    assert "SYNTHETIC" in SYNTHETIC_NOTICE
    assert sample.seed == 0
    for name, frame in sample.vectors.items():
        assert frame.crs.to_epsg() == 4326, name
        assert frame.attrs["synthetic"] is True, name
        assert len(frame) > 0, name
    for array in sample.rasters.values():
        assert array.rio.crs is not None
    assert list(sample.vectors) == list(VECTORS)
    assert len(sample.region) == 1
    assert sample.region.geom_type.iloc[0] == "Polygon"
    # About 120 km x 90 km around (-117.6, 39.6).
    area_km2 = sample.region.to_crs(EQUAL_AREA).area.iloc[0] / 1e6
    assert 9000 < area_km2 < 11_000
    centre = sample.region.geometry.iloc[0].centroid
    assert centre.x == pytest.approx(-117.6, abs=0.1)
    assert centre.y == pytest.approx(39.6, abs=0.1)


def test_load_sample__same_seed_gives_identical_data(sample):
    sample_module._build.cache_clear()  # rebuild from scratch, not from the cache
    again = load_sample(seed=0)
    for name, array in sample.rasters.items():
        np.testing.assert_array_equal(again.rasters[name].values, array.values)
        attrs = {k: v for k, v in array.attrs.items() if k != "_FillValue"}
        assert {k: v for k, v in again.rasters[name].attrs.items() if k != "_FillValue"} == attrs
        assert Grid.from_xarray(again.rasters[name]) == Grid.from_xarray(array)
    for name, frame in sample.vectors.items():
        assert_geodataframe_equal(again.vectors[name], frame, check_less_precise=False)


def test_load_sample__another_seed_gives_other_data(sample):
    other = load_sample(seed=1)
    assert not np.array_equal(
        other.rasters["elevation_m"].values, sample.rasters["elevation_m"].values, equal_nan=True
    )
    assert not np.array_equal(
        shapely.get_coordinates(other.towns.geometry.to_numpy())[:8],
        shapely.get_coordinates(sample.towns.geometry.to_numpy())[:8],
    )
    assert not other.federal_land.geometry.iloc[0].equals(sample.federal_land.geometry.iloc[0])


def test_load_sample__returns_fresh_objects_each_call():
    first = load_sample()
    first.rasters["elevation_m"].values[:] = 0.0
    first.towns.loc[0, "population"] = -1
    second = load_sample()
    assert np.nanmax(second.rasters["elevation_m"].values) > 2000
    assert (second.towns["population"] > 0).all()


@pytest.mark.parametrize(
    ("seed", "error"), [(-1, ValueError), (1.5, TypeError), ("0", TypeError), (True, TypeError)]
)
def test_load_sample__rejects_a_bad_seed(seed, error):
    with pytest.raises(error, match="seed"):
        load_sample(seed=seed)


# -- files ------------------------------------------------------------------------------


def test_write__round_trips_rasters_and_vectors(sample, tmp_path):
    out = tmp_path / "nested" / "sample"
    paths = sample.write(out)
    assert set(paths) == {*RASTERS, *VECTORS, "readme"}
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*(f"{name}.tif" for name in RASTERS), "sample_vectors.gpkg", "README.txt"]
    )
    for name, array in sample.rasters.items():
        with rasterio.open(paths[name]) as src:
            assert src.crs.to_epsg() == array.rio.crs.to_epsg()
            assert src.nodata == -9999.0
            assert src.transform == array.rio.transform()
            assert src.profile["compress"].lower() == "deflate"
            assert src.profile["tiled"]
            assert src.tags()["synthetic"] == "1"
            assert src.tags(1)["units"] == array.attrs["units"]
            values = src.read(1, masked=True).filled(np.nan)
        np.testing.assert_array_equal(values, array.values)
    gpkg = paths["federal_land"]
    assert {layer for layer, _ in pyogrio.list_layers(gpkg)} == set(VECTORS)
    import geopandas as gpd

    for name, frame in sample.vectors.items():
        read = gpd.read_file(gpkg, layer=name)
        assert read.crs.to_epsg() == 4326
        assert list(read.columns) == list(frame.columns)
        for column in frame.columns.drop("geometry"):
            assert read[column].tolist() == frame[column].tolist(), (name, column)
        assert read.geometry.geom_equals_exact(frame.geometry, tolerance=1e-9).all(), name
    readme = paths["readme"].read_text()
    assert "SYNTHETIC" in readme
    assert "seed=0" in readme


def test_write__twice_replaces_the_files(sample, tmp_path):
    sample.write(tmp_path)
    paths = sample.write(tmp_path)
    assert all(path.exists() for path in paths.values())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_write__under_a_regular_file_raises_output_error(sample, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="not-a-directory") as info:
        sample.write(blocker / "sample")
    assert isinstance(info.value, OSError)
    assert blocker.read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-directory"]


def test_write__failure_midway_leaves_nothing_half_written(sample, tmp_path, monkeypatch):
    (tmp_path / "keep.txt").write_text("mine")

    def broken(layers, path):
        path.write_bytes(b"half a geopackage")
        raise RuntimeError("disk full")

    monkeypatch.setattr(sample_module, "_write_vectors", broken)
    with pytest.raises(OutputError, match="disk full"):
        sample.write(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_air_temperature_falls_with_elevation_at_the_standard_lapse_rate(sample):
    # Both layers sampled at the same points: the temperature grid's cell centres.
    temperature = sample.rasters["air_temperature_c"]
    elevation = sample.rasters["elevation_m"]
    grid_lonlat = temperature.rio.reproject(elevation.rio.crs, resolution=1000.0)
    on_elevation = elevation.rio.reproject_match(grid_lonlat)
    t = grid_lonlat.values.ravel()
    z = on_elevation.values.ravel()
    keep = np.isfinite(t) & np.isfinite(z) & (t > -5.0) & (t < 16.0)  # unclipped cells
    slope = np.polyfit(z[keep], t[keep], 1)[0]
    assert slope == pytest.approx(-0.0065, rel=0.25)  # °C per metre
