"""Interconnection cost model, capacity-aware assignment and substation headroom."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from siting.errors import CRSError, CRSMismatchError, InvalidLayerError, ScenarioError
from siting.features import (
    CostModel,
    assign_capacity,
    cost_regions,
    flag_candidates,
    line_rating_mw,
    substation_headroom,
)

CRS = "EPSG:5070"
MILE = 1.609344


@pytest.fixture(scope="module")
def model() -> CostModel:
    return CostModel.default()


# ---------------------------------------------------------------- cost model
def test_default__numbers_are_rev_and_revx_public_defaults(model: CostModel) -> None:
    assert model.line_tie_in_usd_per_mw == 14000.0
    assert model.substation_tie_in_usd_per_mw == 0.0
    assert model.line_cost_usd_per_mw_km["national"][138.0] == pytest.approx(3667 / MILE)
    assert model.line_cost_usd_per_mw_km["TEPPC"][69.0] == pytest.approx(984000 / MILE / 102)
    assert model.new_substation_usd["MISO"][500.0] == 20_300_000.0
    assert model.upgrade_substation_usd["SCE"][230.0] == 3_975_000.0
    assert model.regions == ["MISO", "SCE", "Southeast", "TEPPC", "national"]
    assert Path(model.source).name == "interconnection_costs.toml"


def test_connection_cost__national_line_tie_in_by_hand(model: CostModel) -> None:
    cost = model.connection_cost(12.5, 40.0, voltage_kv=230, terrain_multiplier=1.4)
    spur = 12.5 * (3667 / MILE) * 40.0 * 1.4
    tie_in = 14000.0 * 40.0
    row = cost.iloc[0]
    assert row["voltage_class_kv"] == 230.0
    assert row["spur_usd"] == pytest.approx(spur)
    assert row["tie_in_usd"] == pytest.approx(tie_in)
    assert row["substation_usd"] == 0.0
    assert row["total_usd"] == pytest.approx(spur + tie_in)
    assert row["usd_per_mw"] == pytest.approx((spur + tie_in) / 40.0)


def test_connection_cost__whole_line_billing_pays_the_full_revx_line(model: CostModel) -> None:
    whole = dataclasses.replace(model, spur_billing="whole_line")
    cost = whole.connection_cost(8.0, 20.0, voltage_kv=69, region="TEPPC", feature="substation")
    # reVX: $984,000 per mile of a 69 kV line, whatever the connected MW
    assert cost["spur_usd"].iloc[0] == pytest.approx(8.0 / MILE * 984000)
    assert cost["tie_in_usd"].iloc[0] == 0.0


def test_connection_cost__regional_multiplier_scales_the_spur_only(model: CostModel) -> None:
    scaled = dataclasses.replace(
        model, regional_multiplier={**model.regional_multiplier, "MISO": 1.5}
    )
    base = model.connection_cost(10.0, 10.0, voltage_kv=138, region="MISO")
    more = scaled.connection_cost(10.0, 10.0, voltage_kv=138, region="MISO")
    assert more["spur_usd"].iloc[0] == pytest.approx(1.5 * base["spur_usd"].iloc[0])
    assert more["tie_in_usd"].iloc[0] == base["tie_in_usd"].iloc[0]


def test_connection_cost__vectorised_substation_options(model: CostModel) -> None:
    cost = model.connection_cost(
        pd.Series([0.0, 0.0, 0.0]),
        np.array([10.0, 10.0, 10.0]),
        voltage_kv=[115, 115, 115],
        region="TEPPC",
        new_substation=[False, True, False],
        upgrade_substation=[False, False, True],
        feature=["line", "line", "substation"],
    )
    assert cost["voltage_class_kv"].tolist() == [138.0, 138.0, 138.0]
    assert cost["tie_in_usd"].tolist() == [140000.0, 0.0, 0.0]
    assert cost["substation_usd"].tolist() == [0.0, 5_541_000.0, 2_198_000.0]


@pytest.mark.parametrize(
    ("kv", "expected"), [(46, 69.0), (69, 69.0), (70, 138.0), (345, 500.0), (765, 500.0)]
)
def test_voltage_class__smallest_class_at_or_above(model: CostModel, kv: float, expected: float):
    assert model.voltage_class(kv).tolist() == [expected]


def test_lcot__hand_computation_and_rev_per_mw_form(model: CostModel) -> None:
    total, capacity, cf, fcr = 2_500_000.0, 20.0, 0.9, 0.07
    hand = total * fcr / (capacity * cf * 8760)  # $/MWh
    rev = (total / capacity) * fcr / (cf * 8760)  # reV: cost[$/MW] × fcr / (cf × 8760)
    got = model.lcot(total, capacity, capacity_factor=cf, fixed_charge_rate=fcr)
    assert got.tolist() == pytest.approx([hand])
    assert hand == pytest.approx(rev)
    assert hand == pytest.approx(1.1098427194317605)


def test_lcot__vectorised_from_connection_cost(model: CostModel) -> None:
    cost = model.connection_cost([1.0, 2.0], [10.0, 20.0], voltage_kv=138)
    lcot = model.lcot(cost["total_usd"], [10.0, 20.0], capacity_factor=0.8, fixed_charge_rate=0.1)
    assert lcot == pytest.approx(cost["usd_per_mw"] * 0.1 / (0.8 * 8760))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"distance_km": -1.0}, InvalidLayerError, r"distance_km must be >= 0.*-1\.0"),
        ({"distance_km": np.nan}, InvalidLayerError, "distance_km"),
        ({"capacity_mw": 0.0}, InvalidLayerError, r"capacity_mw must be > 0.*0\.0"),
        ({"voltage_kv": -69}, InvalidLayerError, "voltage_kv"),
        ({"region": "ERCOT"}, ScenarioError, r"ERCOT.*allowed: \['MISO', 'SCE'"),
        ({"feature": "pole"}, ScenarioError, "allowed: 'line', 'substation'"),
        ({"new_substation": True}, ScenarioError, r"no new_substation_usd for region 'national'"),
        (
            {"new_substation": True, "upgrade_substation": True, "region": "MISO"},
            ScenarioError,
            "not both",
        ),
        ({"distance_km": [1.0, 2.0], "capacity_mw": [1.0, 2.0, 3.0]}, InvalidLayerError, "length"),
    ],
)
def test_connection_cost__invalid_input_names_value(
    model: CostModel, kwargs: dict, error: type, match: str
) -> None:
    args = {"distance_km": 1.0, "capacity_mw": 10.0, "voltage_kv": 138, **kwargs}
    with pytest.raises(error, match=match):
        model.connection_cost(args.pop("distance_km"), args.pop("capacity_mw"), **args)


def test_lcot__invalid_rates(model: CostModel) -> None:
    with pytest.raises(ScenarioError, match="fixed_charge_rate"):
        model.lcot(1.0, 1.0, capacity_factor=0.5, fixed_charge_rate=7.0)
    with pytest.raises(InvalidLayerError, match="capacity_factor"):
        model.lcot(1.0, 1.0, capacity_factor=1.5, fixed_charge_rate=0.07)
    with pytest.raises(ValueError, match="capacity_factor"):
        model.lcot(1.0, 1.0, capacity_factor=0.0, fixed_charge_rate=0.07)


TOML = """
[model]
default_region = "home"
voltage_classes_kv = [69, 230]
class_rated_capacity_mw = [100, 400]
line_tie_in_usd_per_mw = 1000.0
spur_billing = "per_mw"

[regions.home]
multiplier = 2.0
line_cost_usd_per_mile = { "69" = 160934.4, "230" = 643737.6 }
new_substation_usd = { "69" = 5.0, "230" = 7.0 }
"""


def test_from_toml__custom_model(tmp_path: Path) -> None:
    path = tmp_path / "costs.toml"
    path.write_text(TOML)
    model = CostModel.from_toml(path)
    assert model.line_cost_usd_per_mw_km["home"] == pytest.approx({69.0: 1000.0, 230.0: 1000.0})
    cost = model.connection_cost(3.0, 5.0, voltage_kv=100)
    assert cost["spur_usd"].iloc[0] == pytest.approx(3.0 * 1000.0 * 5.0 * 2.0)
    assert cost["tie_in_usd"].iloc[0] == pytest.approx(5000.0)
    assert model.source == str(path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[model\n", "not valid TOML"),
        ("[regions.a]\nmultiplier = 1\n", "missing field 'model'"),
        (TOML.replace('spur_billing = "per_mw"', 'spur_billing = "free"'), "spur_billing"),
        (
            TOML.replace(', "230" = 643737.6', ""),
            r"no line cost for voltage class\(es\) \[230.0\]",
        ),
        (TOML.replace("[100, 400]", "[100]"), "2 voltage classes but 1 ratings"),
        (TOML.replace('default_region = "home"', 'default_region = "away"'), "away"),
        (TOML.replace("line_cost_usd_per_mile", "cost"), "line_cost_usd_per_mw_mile or"),
    ],
)
def test_from_toml__config_errors_are_scenario_errors(
    tmp_path: Path, text: str, match: str
) -> None:
    path = tmp_path / "costs.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=match):
        CostModel.from_toml(path)


def test_from_toml__missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        CostModel.from_toml(tmp_path / "nope.toml")


# ---------------------------------------------------------------- assignment
def _sites(xs: list[float], ranks: list[float]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"rank": ranks}, geometry=[Point(x, 0) for x in xs], crs=CRS)


def _features(rows: list[tuple[int, float, float, float]], **extra: list) -> gpd.GeoDataFrame:
    gid, x, cap, kv = zip(*rows, strict=True)
    data = {"gid": list(gid), "cap_left": list(cap), "voltage_kv": list(kv), **extra}
    return gpd.GeoDataFrame(data, geometry=[Point(v, 1000) for v in x], crs=CRS)


def test_assign__better_ranked_takes_the_room_second_goes_to_next_feature() -> None:
    sites = _sites([0, 100], ranks=[2, 1])  # site 1 ranks better
    features = _features([(1, 50, 30.0, 138), (2, 20_000, 30.0, 138)])
    result = assign_capacity(sites, features, demand_mw=20, unknown_capacity="exclude")
    assert result.sites["feature_id"].tolist() == [2, 1]
    assert result.sites["connected"].tolist() == [True, True]
    assert result.remaining_mw.tolist() == [10.0, 10.0]
    assert result.sites["distance_m"].iloc[1] == pytest.approx(np.hypot(50, 1000))


def test_assign__second_stays_unconnected_with_reason() -> None:
    sites = _sites([0, 100], ranks=[2, 1])
    features = _features([(1, 50, 30.0, 138)])
    result = assign_capacity(sites, features, demand_mw=20, unknown_capacity="exclude")
    assert result.sites["feature_id"].tolist() == [None, 1]
    assert result.sites["connected"].tolist() == [False, True]
    assert "enough spare capacity" in result.sites["reason"].iloc[0]
    assert result.sites["reason"].iloc[1] == ""
    assert np.isnan(result.sites["total_usd"].iloc[0])


def test_assign__cost_order_serves_the_cheapest_pair_first_like_rev_full_sort() -> None:
    sites = _sites([5_000, 50], ranks=[1, 2])  # worse-ranked site is right next to the line
    features = _features([(1, 50, 30.0, 138), (2, 40_000, 30.0, 138)])
    by_rank = assign_capacity(sites, features, demand_mw=20, unknown_capacity="exclude")
    by_cost = assign_capacity(
        sites, features, demand_mw=20, unknown_capacity="exclude", order="cost"
    )
    assert by_rank.sites["feature_id"].tolist() == [1, 2]
    assert by_cost.sites["feature_id"].tolist() == [2, 1]


def test_assign__ties_go_to_lower_feature_id_and_earlier_row() -> None:
    sites = _sites([0, 0], ranks=[1, 1])
    features = _features([(9, -300, 20.0, 138), (4, 300, 20.0, 138)])  # same distance
    result = assign_capacity(sites, features, demand_mw=20, unknown_capacity="exclude")
    assert result.sites["feature_id"].tolist() == [4, 9]
    again = assign_capacity(sites, features, demand_mw=20, unknown_capacity="exclude")
    pd.testing.assert_frame_equal(result.sites, again.sites)


@pytest.mark.parametrize(
    ("policy", "connected", "remaining"),
    [("exclude", [False, False], [np.nan]), ("unlimited", [True, True], [np.nan])],
)
def test_assign__unknown_capacity_policy(policy: str, connected: list, remaining: list) -> None:
    sites = _sites([0, 10], ranks=[1, 2])
    features = _features([(1, 0, np.nan, 138)])
    result = assign_capacity(sites, features, demand_mw=500, unknown_capacity=policy)  # type: ignore[arg-type]
    assert result.sites["connected"].tolist() == connected
    np.testing.assert_array_equal(result.remaining_mw.to_numpy(), remaining)
    if policy == "exclude":
        assert "no usable feature within max_distance_m" in result.sites["reason"].iloc[0]


def test_assign__unknown_capacity_is_required() -> None:
    sites, features = _sites([0], [1]), _features([(1, 0, 10.0, 138)])
    with pytest.raises(TypeError):
        assign_capacity(sites, features, demand_mw=1)  # type: ignore[call-arg]
    with pytest.raises(ScenarioError, match="allowed: 'exclude', 'unlimited'"):
        assign_capacity(sites, features, demand_mw=1, unknown_capacity="zero")  # type: ignore[arg-type]


def test_assign__cheapest_vs_nearest() -> None:
    # a line 1 km away pays 14,000 $/MW tie-in; a substation 2 km away pays none
    sites = _sites([0], [1])
    features = gpd.GeoDataFrame(
        {
            "gid": [1, 2],
            "cap_left": [100.0, 100.0],
            "voltage_kv": [138.0, 138.0],
            "category": ["TransLine", "Substation"],
        },
        geometry=[Point(0, 1000), Point(0, 2000)],
        crs=CRS,
    )
    cheapest = assign_capacity(sites, features, demand_mw=10, unknown_capacity="exclude")
    nearest = assign_capacity(
        sites, features, demand_mw=10, unknown_capacity="exclude", select="nearest"
    )
    assert cheapest.sites["feature_id"].tolist() == [2]
    assert cheapest.sites["total_usd"].iloc[0] == pytest.approx(2.0 * 3667 / MILE * 10)
    assert nearest.sites["feature_id"].tolist() == [1]
    assert nearest.sites["total_usd"].iloc[0] == pytest.approx(3667 / MILE * 10 + 140000)


def test_assign__demand_column_avail_frac_and_max_distance() -> None:
    sites = _sites([0, 0, 90_000], ranks=[1, 2, 3])
    sites["load_mw"] = [5.0, 6.0, 1.0]
    features = _features([(1, 0, 100.0, 69)])
    result = assign_capacity(
        sites,
        features,
        demand_mw="load_mw",
        unknown_capacity="exclude",
        avail_cap_frac=0.1,
        max_distance_m=10_000,
    )
    assert result.sites["connected"].tolist() == [True, False, False]
    assert result.remaining_mw.tolist() == [5.0]
    assert "max_distance_m=10000" in result.sites["reason"].iloc[2]


def test_assign__crs_checks() -> None:
    sites, features = _sites([0], [1]), _features([(1, 0, 10.0, 138)])
    with pytest.raises(CRSMismatchError):
        assign_capacity(sites, features.to_crs(3857), demand_mw=1, unknown_capacity="exclude")
    with pytest.raises(CRSError, match="geographic"):
        assign_capacity(
            sites.to_crs(4326), features.to_crs(4326), demand_mw=1, unknown_capacity="exclude"
        )


def test_assign__missing_columns_are_named() -> None:
    sites, features = _sites([0], [1]), _features([(1, 0, 10.0, 138)])
    with pytest.raises(InvalidLayerError, match=r"\['capacity_mw'\]"):
        assign_capacity(
            sites, features, demand_mw=1, unknown_capacity="exclude", capacity_column="capacity_mw"
        )


# ---------------------------------------------------------------- headroom
def _substations() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"substation_id": ["hv", "lv"], "max_kv": [345.0, 69.0], "n_lines": [4, 1]},
        geometry=[Point(0, 0), Point(100_000, 0)],
        crs=CRS,
    )


def test_headroom__high_voltage_many_lines_ranks_first() -> None:
    out = substation_headroom(_substations(), load_mw=20)
    assert out["transfer_mw"].tolist() == pytest.approx([4 * 750 / 2, 1 * 102 / 2])
    assert out["headroom_mw"].tolist() == pytest.approx([150.0, 5.1])
    assert out["voltage_class"].tolist() == ["345", "UNDER 100"]
    assert out["load_service"].tolist() == ["likely", "unlikely"]


def test_headroom__plants_within_radius_and_queue_subtract() -> None:
    plants = gpd.GeoDataFrame(
        {"capacity_mw": [100.0, 200.0, 400.0]},
        geometry=[Point(100_000, 5_000), Point(100_000, 9_999), Point(100_000, 10_001)],
        crs=CRS,
    ).to_crs(4326)  # any CRS; reprojected
    queue = pd.DataFrame({"substation_id": ["hv", "hv"], "capacity_mw": [100.0, 20.0]})
    out = substation_headroom(_substations(), plants=plants, queue=queue, radius_km=10, load_mw=20)
    assert out["nearby_generation_mw"].tolist() == pytest.approx([0.0, 300.0])
    assert out["queued_mw"].tolist() == [120.0, 0.0]
    assert out["headroom_mw"].tolist() == pytest.approx([150.0 - 120.0, 5.1 + 0.1 * 300.0])
    assert out["load_service"].tolist() == ["possible", "possible"]


def test_headroom__queue_as_points() -> None:
    queue = gpd.GeoDataFrame({"capacity_mw": [50.0]}, geometry=[Point(1_000, 0)], crs=CRS)
    out = substation_headroom(_substations(), queue=queue)
    assert out["queued_mw"].tolist() == [50.0, 0.0]
    assert "load_service" not in out.columns


def test_headroom__lines_table_gives_count_voltage_and_capacity() -> None:
    subs = gpd.GeoDataFrame(
        {"substation_id": [10, 11], "line_ids": ["[1, 2]", None]},
        geometry=[Point(0, 0), Point(5000, 0)],
        crs=CRS,
    )
    lines = pd.DataFrame(
        {
            "line_id": [1, 2, 3],
            "voltage_kv": [230.0, 115.0, 69.0],
            "capacity_mw": [500.0, np.nan, 80.0],
            "from_substation": [10, 10, 11],
            "to_substation": [11, 99, 10],
        }
    )
    out = substation_headroom(subs, lines=lines)
    assert out["n_lines"].tolist() == [3, 2]
    assert out["max_kv"].tolist() == [230.0, 230.0]
    # line 2 has no capacity: rated by voltage (115 kV → 171 MW, reVX)
    assert out["transfer_mw"].tolist() == pytest.approx([(500 + 171 + 80) / 2, (500 + 80) / 2])


def test_line_rating__revx_ladder() -> None:
    assert line_rating_mw([69, 138, 230, 345, 500]).tolist() == [102, 205, 343, 750, 1500]
    assert np.isnan(line_rating_mw(np.nan)[0])


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"spare_fraction": 2.0}, ScenarioError),
        ({"radius_km": 0}, ScenarioError),
        ({"likely_margin": 0.5}, ScenarioError),
        ({"load_mw": -1.0}, InvalidLayerError),
        ({"id_column": "name"}, InvalidLayerError),
    ],
)
def test_headroom__invalid_options(kwargs: dict, error: type) -> None:
    with pytest.raises(error):
        substation_headroom(_substations(), **kwargs)


def test_headroom__needs_projected_crs() -> None:
    with pytest.raises(CRSError, match="projected"):
        substation_headroom(_substations().to_crs(4326))


def test_flag_candidates__nearest_substation_flag() -> None:
    subs = substation_headroom(_substations())
    sites = gpd.GeoDataFrame(
        {"name": ["near hv", "near lv"]},
        geometry=[Point(3_000, 4_000), Point(99_000, 0)],
        crs=CRS,
    )
    out = flag_candidates(sites, subs, 100.0)
    assert out["nearest_substation"].tolist() == ["hv", "lv"]
    assert out["substation_distance_m"].tolist() == pytest.approx([5000.0, 1000.0])
    assert out["load_service"].tolist() == ["possible", "unlikely"]
    assert out["name"].tolist() == ["near hv", "near lv"]
    with pytest.raises(InvalidLayerError, match="substation_headroom"):
        flag_candidates(sites, _substations(), 50.0)


# ---------------------------------------------------------------- real data
def _ri_grid(shared_data: Path) -> tuple[gpd.GeoDataFrame, pd.DataFrame, gpd.GeoDataFrame]:
    path = shared_data / "nrel_revx" / "xmission" / "ri_allconns.gpkg"
    if not path.exists():
        pytest.skip(f"{path} not found")
    conns = gpd.read_file(path)
    subs = conns[conns["category"] == "Substation"].rename(
        columns={"gid": "substation_id", "trans_gids": "line_ids"}
    )
    subs = subs.set_geometry(subs.geometry.centroid)
    lines = pd.DataFrame(
        conns[conns["category"] == "TransLine"]
        .drop(columns="geometry")
        .rename(
            columns={
                "gid": "line_id",
                "voltage": "voltage_kv",
                "ac_cap": "capacity_mw",
                "bgid": "from_substation",
                "egid": "to_substation",
            }
        )
    )
    return subs, lines, conns


def _eia_plants(shared_data: Path) -> gpd.GeoDataFrame:
    path = shared_data / "pypsa_usa" / "eia_plants.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    gens = pd.read_csv(path, usecols=["plant_id_eia", "capacity_mw", "Latitude", "Longitude"])
    plants = gens.groupby("plant_id_eia").agg(
        capacity_mw=("capacity_mw", "sum"), lat=("Latitude", "first"), lon=("Longitude", "first")
    )
    return gpd.GeoDataFrame(
        plants, geometry=gpd.points_from_xy(plants["lon"], plants["lat"]), crs="EPSG:4326"
    )


@pytest.mark.realdata
def test_real__transfer_and_spare_match_rev_substation_capacity(shared_data: Path) -> None:
    subs, lines, _ = _ri_grid(shared_data)
    out = substation_headroom(subs, lines=lines)
    # reV: a substation's ac_cap is half the sum of its lines' ac_cap; cap_left is 10 % of it
    np.testing.assert_allclose(out["transfer_mw"], subs["ac_cap"])
    np.testing.assert_allclose(out["headroom_mw"], subs["cap_left"])
    n_listed = subs["line_ids"].map(lambda t: len(json.loads(t)))
    assert (out["n_lines"] >= n_listed).all()


@pytest.mark.realdata
def test_real__nearby_generation_matches_geopandas_hand_sum(shared_data: Path) -> None:
    subs, lines, _ = _ri_grid(shared_data)
    plants = _eia_plants(shared_data)
    out = substation_headroom(subs, lines=lines, plants=plants, radius_km=15, load_mw=50)
    local = plants.to_crs(subs.crs)
    for i in [*np.argsort(-out["nearby_generation_mw"].to_numpy())[:3].tolist(), 0]:
        centre = out.geometry.iloc[i]
        hand = local.loc[local.distance(centre) <= 15_000, "capacity_mw"].sum()
        assert out["nearby_generation_mw"].iloc[i] == pytest.approx(hand)
    assert out["nearby_generation_mw"].max() > 0


@pytest.mark.realdata
def test_real__345kv_multi_line_ranks_above_69kv_single_line(shared_data: Path) -> None:
    subs, lines, _ = _ri_grid(shared_data)
    out = substation_headroom(subs, lines=lines, plants=_eia_plants(shared_data), load_mw=50)
    high = out[(out["max_kv"] == 345) & (out["n_lines"] >= 2)]
    low = out[(out["max_kv"] == 69) & (out["n_lines"] == 1)]
    assert len(high) > 0
    assert len(low) > 0
    assert high["headroom_mw"].median() > low["headroom_mw"].median()
    assert (high["transfer_mw"].min()) > low["transfer_mw"].max()
    order = {"likely": 0, "possible": 1, "unlikely": 2}
    assert high["load_service"].map(order).mean() < low["load_service"].map(order).mean()


@pytest.mark.realdata
def test_real__assignment_never_oversubscribes_cap_left(shared_data: Path) -> None:
    _, _, conns = _ri_grid(shared_data)
    features = conns[conns["category"].isin(["TransLine", "Substation"])].copy()
    features["voltage_kv"] = features["voltage"]
    # substations have no voltage in this file: take the highest of their lines
    line_kv = features.set_index("gid")["voltage"]
    is_sub = features["category"] == "Substation"
    features.loc[is_sub, "voltage_kv"] = [
        max(line_kv.get(g, np.nan) for g in json.loads(t))
        for t in features.loc[is_sub, "trans_gids"]
    ]
    rng = np.random.default_rng(0)
    xmin, ymin, xmax, ymax = features.total_bounds
    sites = gpd.GeoDataFrame(
        {"rank": np.arange(60)},
        geometry=gpd.points_from_xy(rng.uniform(xmin, xmax, 60), rng.uniform(ymin, ymax, 60)),
        crs=features.crs,
    )
    result = assign_capacity(
        sites, features, demand_mw=40, unknown_capacity="exclude", max_distance_m=30_000
    )
    used = features.set_index("gid")["cap_left"] - result.remaining_mw
    assert (result.remaining_mw >= -1e-9).all()
    assert used.sum() == pytest.approx(40 * result.sites["connected"].sum())
    assert result.sites["connected"].any()
    assert set(result.sites.loc[~result.sites["connected"], "reason"]) <= {
        "no feature within reach has enough spare capacity",
        "no usable feature within max_distance_m=30000",
    }


# -- cost regions ------------------------------------------------------------------------


def _regions_and_sites():
    from shapely.geometry import Point, box

    regions = gpd.GeoDataFrame(
        {"iso": ["TEPPC", "MISO", ""]},
        geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10), box(20, 0, 30, 10)],
        crs="EPSG:5070",
    )
    sites = gpd.GeoDataFrame(
        {"name": ["a", "b", "c", "d"]},
        geometry=[Point(5, 5), Point(15, 5), Point(25, 5), Point(50, 5)],
        crs="EPSG:5070",
        index=[10, 11, 12, 13],
    )
    return regions, sites


def test_cost_regions__outside_sites_are_named_or_defaulted():
    regions, sites = _regions_and_sites()
    with pytest.raises(InvalidLayerError, match=r"2 site\(s\).*rows \[12, 13\]"):
        cost_regions(sites, regions, column="iso")
    with pytest.warns(UserWarning, match=r"rows \[12, 13\]"):
        names = cost_regions(sites, regions, column="iso", outside="default")
    assert names.tolist() == ["TEPPC", "MISO", None, None]
    model = CostModel.default()
    costs = model.connection_cost([1.0] * 4, [10.0] * 4, voltage_kv=138, region=names)
    assert np.isfinite(costs["total_usd"]).all()


def test_cost_regions__bad_input():
    regions, sites = _regions_and_sites()
    with pytest.raises(CRSError, match="set_crs"):
        cost_regions(sites.set_crs(None, allow_override=True), regions, column="iso")
    with pytest.raises(InvalidLayerError, match="no column 'region'"):
        cost_regions(sites, regions, column="region")
    regions.loc[0, "iso"] = "Atlantis"
    with pytest.raises(ScenarioError, match="Atlantis"):
        cost_regions(sites.iloc[:1], regions, column="iso", cost_model=CostModel.default())


@pytest.mark.realdata
def test_cost_regions__reVX_iso_regions(shared_data):
    regions = gpd.read_file(shared_data / "nrel_revx" / "xmission" / "iso_regions_conus.gpkg")
    plants = pd.read_csv(shared_data / "pypsa_usa" / "eia_plants.csv")
    lon = next(c for c in plants.columns if c.lower() in ("lon", "longitude"))
    lat = next(c for c in plants.columns if c.lower() in ("lat", "latitude"))
    plants = plants.dropna(subset=[lon, lat]).drop_duplicates([lon, lat]).head(3000)
    sites = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(plants[lon], plants[lat]), crs=4326
    ).to_crs(5070)
    with pytest.warns(UserWarning, match="default region"):
        names = cost_regions(
            sites, regions, column="Load_Regio", outside="default", cost_model=CostModel.default()
        )
    found = set(names.dropna())
    assert found <= {"TEPPC", "SCE", "MISO", "Southeast"}
    assert len(found) >= 3
    # a known case: a California plant is in SCE or TEPPC, never MISO
    west = sites.to_crs(4326).geometry.x < -115
    assert not (names[west] == "MISO").any()
