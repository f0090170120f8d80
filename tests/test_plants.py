"""Tests for siting.datasets.plants: EIA-860, queues, thermal springs, SMU heat flow, PSM."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from siting.datasets.plants import (
    GENERATOR_COLUMNS,
    PLANT_COLUMNS,
    QUEUE_COLUMNS,
    SPRING_COLUMNS,
    read_eia860_plants,
    read_psm_csv,
    read_queue,
    read_smu_heat_flow,
    read_thermal_springs,
)
from siting.errors import InvalidLayerError, LayerIOError

# US bounding boxes (lon_min, lat_min, lon_max, lat_max): CONUS, Alaska (both sides of the
# antimeridian: the Aleutians reach 172° E), Hawaii, Puerto Rico/USVI.
US_BOXES = (
    (-125.0, 24.0, -66.5, 49.5),
    (-180.0, 51.0, -129.0, 71.5),
    (172.0, 51.0, 180.0, 53.5),
    (-161.0, 18.5, -154.5, 22.5),
    (-68.0, 17.5, -64.5, 18.6),
)


def _in_us(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    inside = np.zeros(len(x), dtype=bool)
    for x0, y0, x1, y1 in US_BOXES:
        inside |= (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    return inside


def _recorded(func: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, str]:
    """Call ``func`` and return its result and all its warning messages, joined."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        result = func(*args, **kwargs)
    return result, " ".join(str(w.message) for w in record)


# -- EIA-860 --------------------------------------------------------------------------------

PYPSA_CSV = (
    (
        "plant_name_eia,generator_id,capacity_mw,Status,tech_type,plant_id_eia,State,Latitude,"
        "Longitude,NERC Region\n"
    )
    + """Lamar Plant,T1-T3,4.5,OP,Wind,508,CO,38.03,-102.54,WECC
Lamar Plant,T4,1.5,OP,Wind,508,CO,38.03,-102.54,WECC
Lamar Plant,PV1,10,SB,Solar,508,CO,38.03,-102.54,WECC
Gas Town,1,100,OP,Gas_CC,9,TX,30.0,-97.0,ERCOT
Gas Town,2,,OP,Gas_SC,9,TX,30.0,-97.0,ERCOT
Nowhere,1,5,OP,Solar,77,NV,,,WECC
"""
)


def test_eia_csv_aggregates_plants(tmp_path: Path) -> None:
    path = tmp_path / "eia_plants.csv"
    path.write_text(PYPSA_CSV)
    plants, messages = _recorded(read_eia860_plants, path)
    assert "1 of 6 generator(s) have an unknown capacity" in messages
    assert "dropped 1 of 3 row(s) without valid latitude/longitude" in messages
    assert list(plants.columns) == [*PLANT_COLUMNS, "geometry"]
    assert plants.crs.to_epsg() == 4326
    assert plants["plant_id"].tolist() == [9, 508]
    lamar = plants.set_index("plant_id").loc[508]
    assert lamar["capacity_mw"] == pytest.approx(16.0)
    assert lamar["n_generators"] == 3
    assert lamar["technologies"] == ["Solar", "Wind"]
    assert lamar["primary_technology"] == "Solar"  # 10 MW solar > 6 MW wind
    assert lamar["status"] == "SB"
    assert lamar["state"] == "CO"
    assert lamar.geometry.x == pytest.approx(-102.54)
    gas = plants.set_index("plant_id").loc[9]
    assert gas["capacity_mw"] == pytest.approx(100.0)  # the NaN unit counts as 0
    assert gas["technologies"] == ["Gas_CC", "Gas_SC"]


def test_eia_csv_generators(tmp_path: Path) -> None:
    path = tmp_path / "eia_plants.csv"
    path.write_text(PYPSA_CSV)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        gens = read_eia860_plants(path, aggregate=False)
    assert list(gens.columns) == [*GENERATOR_COLUMNS, "geometry"]
    assert len(gens) == 5
    assert gens["generator_id"].tolist()[:2] == ["T1-T3", "T4"]
    assert gens["generator_id"].iloc[3] == "1"  # ids are text, never floats
    assert np.isnan(gens["capacity_mw"].iloc[4])
    numeric = tmp_path / "numeric_ids.csv"
    numeric.write_text(PYPSA_CSV.replace("T1-T3", "").replace("T4", "4").replace("PV1", "5"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ids = read_eia860_plants(numeric, aggregate=False)["generator_id"].tolist()
    assert ids == [None, "4", "5", "1", "2"]  # a float column with blanks, read back as text


def _write_eia_xlsx(path: Path, title: str, header: list[str], rows: list[list]) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Operable"
    sheet.append([title])
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)


def test_eia_xlsx_schedules(tmp_path: Path) -> None:
    plants_x = tmp_path / "2___Plant_Y2023.xlsx"
    gens_x = tmp_path / "3_1_Generator_Y2023.xlsx"
    _write_eia_xlsx(
        plants_x,
        "Plant Level Data (preliminary)",
        ["Utility ID", "Plant Code", "Plant Name", "State", "Latitude", "Longitude"],
        [
            [1, 3, "Barry", "AL", 31.0069, -88.0103],
            [1, 7, "Gadsden", "AL", 34.0128, -85.9708],
            ["NOTE: footnote row", None, None, None, None, None],
        ],
    )
    _write_eia_xlsx(
        gens_x,
        "Generator Level Data",
        ["Plant Code", "Generator ID", "Technology", "Nameplate Capacity (MW)", "Status"],
        [
            [3, 1, "Conventional Steam Coal", 153.1, "OP"],
            [3, "A1", "Natural Gas Fired Combined Cycle", 200.0, "OP"],
            [7, 1, "Conventional Steam Coal", 69.0, "OS"],
            [99, 1, "Solar Photovoltaic", 5.0, "OP"],
        ],
    )
    plants, messages = _recorded(read_eia860_plants, plants_x, generators=gens_x)
    assert "1 generator(s) whose plant code is not in the plants workbook" in messages
    assert "without a numeric plant id" in messages
    assert plants["plant_id"].tolist() == [3, 7]
    barry = plants.iloc[0]
    assert barry["capacity_mw"] == pytest.approx(353.1)
    assert barry["primary_technology"] == "Natural Gas Fired Combined Cycle"
    assert barry["name"] == "Barry"
    assert plants.iloc[1]["status"] == "OS"
    assert plants.geometry.y.tolist() == pytest.approx([31.0069, 34.0128])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        gens = read_eia860_plants(plants_x, generators=gens_x, aggregate=False)
    assert gens["generator_id"].tolist() == ["1", "A1", "1"]
    with pytest.raises(InvalidLayerError, match="generators="):
        read_eia860_plants(plants_x)


def test_eia_bad_input(tmp_path: Path) -> None:
    with pytest.raises(LayerIOError, match="does not exist"):
        read_eia860_plants(tmp_path / "missing.csv")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b\n1,2\n")
    with pytest.raises(LayerIOError, match="plant_id_eia"):
        read_eia860_plants(wrong)
    empty = tmp_path / "empty.csv"
    empty.write_text(PYPSA_CSV.splitlines()[0] + "\n")
    with pytest.raises(LayerIOError, match="no data rows"):
        read_eia860_plants(empty)
    blank = tmp_path / "blank.csv"
    blank.write_text("")
    with pytest.raises(LayerIOError, match="cannot read"):
        read_eia860_plants(blank)
    bad_x = tmp_path / "2___Plant.xlsx"
    _write_eia_xlsx(bad_x, "title", ["Plant Code", "Name"], [[1, "x"]])
    with pytest.raises(LayerIOError, match="Latitude"):
        read_eia860_plants(bad_x, generators=bad_x)
    corrupt = tmp_path / "corrupt.xlsx"
    corrupt.write_text("not a workbook")
    with pytest.raises(LayerIOError, match="cannot read"):
        read_eia860_plants(corrupt, generators=corrupt)


# -- queues ---------------------------------------------------------------------------------

LBNL_CSV = (
    (
        "q_id,q_status,q_date,ia_date,region,entity,project_name,county,state,poi_name,"
        "type_clean,mw1,mw2,mw3\n"
    )
    + """Q1,active,3/15/2019,,CAISO,PG&E,Sunny Flats,Kern,CA,Midway 500kV,Solar,100,50,
Q2,withdrawn,43466,,PJM,,Big Wind,Story,IA,Sub A,Wind,200,,
Q3,operational,,,,BPA,Mystery,,WA,,Other,,,
"""
)

GRIDSTATUS_CSV = (
    (
        "Queue ID,Project Name,Status,Capacity (MW),Generation Type,County,State,"
        "Interconnection Location,Queue Date\n"
    )
    + """G-1,Battery One,Active,250,Battery Storage,Travis,TX,Sub X 345kV,2021-06-01
G-2,Solar Two,Completed,,Solar,Pecos,TX,,not a date
"""
)


def test_queue_lbnl(tmp_path: Path) -> None:
    path = tmp_path / "queued_up.csv"
    path.write_text(LBNL_CSV)
    with pytest.warns(UserWarning, match="1 of 3 project"):
        queue = read_queue(path)
    assert list(queue.columns) == list(QUEUE_COLUMNS)
    assert queue["capacity_mw"].iloc[:2].tolist() == [150.0, 200.0]
    assert np.isnan(queue["capacity_mw"].iloc[2])
    assert queue["queue_date"].iloc[0] == pd.Timestamp("2019-03-15")
    assert queue["queue_date"].iloc[1] == pd.Timestamp("2019-01-01")  # Excel serial 43466
    assert pd.isna(queue["queue_date"].iloc[2])
    assert queue["iso"].tolist() == ["CAISO", "PJM", "BPA"]
    assert queue.loc[0, "poi_name"] == "Midway 500kV"
    assert queue.loc[1, "type"] == "Wind"
    explicit = read_queue(pd.read_csv(path).iloc[:2], schema="lbnl")
    assert explicit["capacity_mw"].tolist() == [150.0, 200.0]


def test_queue_gridstatus(tmp_path: Path) -> None:
    path = tmp_path / "ercot.csv"
    path.write_text(GRIDSTATUS_CSV)
    queue, messages = _recorded(read_queue, path, iso="ERCOT")
    assert "1 of 2 project(s) have an unknown capacity" in messages
    assert "1 queue date(s) could not be parsed" in messages
    assert list(queue.columns) == list(QUEUE_COLUMNS)
    assert queue.loc[0, "queue_id"] == "G-1"
    assert queue.loc[0, "capacity_mw"] == 250.0
    assert queue.loc[0, "poi_name"] == "Sub X 345kV"
    assert queue.loc[0, "queue_date"] == pd.Timestamp("2021-06-01")
    assert queue["iso"].tolist() == ["ERCOT", "ERCOT"]
    assert queue.loc[1, "poi_name"] is None


def test_queue_bad_input(tmp_path: Path) -> None:
    with pytest.raises(LayerIOError, match="does not exist"):
        read_queue(tmp_path / "missing.csv")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("id,size\n1,2\n")
    with pytest.raises(LayerIOError, match=r"q_id.*Queue ID"):
        read_queue(wrong)
    grid = tmp_path / "g.csv"
    grid.write_text(GRIDSTATUS_CSV)
    with pytest.raises(LayerIOError, match="LBNL layout"):
        read_queue(grid, schema="lbnl")
    with pytest.raises(InvalidLayerError, match="schema"):
        read_queue(grid, schema="miso")  # type: ignore[arg-type]
    empty = tmp_path / "empty.csv"
    empty.write_text(LBNL_CSV.splitlines()[0] + "\n")
    with pytest.raises(LayerIOError, match="no data rows"):
        read_queue(empty)


# -- thermal springs ------------------------------------------------------------------------


def _springs(path: Path, features: list[tuple[dict, list[float]]]) -> Path:
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": props,
                        "geometry": {"type": "Point", "coordinates": xy},
                    }
                    for props, xy in features
                ],
            }
        )
    )
    return path


def test_springs_synthetic(tmp_path: Path) -> None:
    path = _springs(
        tmp_path / "springs.geojson",
        [
            ({"SC": "NV", "Spring Name": "A", "TF": 198, "TC": 92}, [-117.0, 40.0]),
            ({"SC": "ID", "Spring Name": "B", "TF": "H", "TC": "H"}, [-115.0, 44.0]),
            ({"SC": "CA", "Spring Name": "C", "TF": "null", "TC": "null"}, [-120.0, 37.0]),
        ],
    )
    with pytest.warns(UserWarning, match=r"2 of 3 spring\(s\).*hot: 1"):
        springs = read_thermal_springs(path)
    assert list(springs.columns) == [*SPRING_COLUMNS, "geometry"]
    assert springs.crs.to_epsg() == 4326
    assert springs["temp_c"].iloc[0] == 92
    assert springs["temp_class"].tolist() == [None, "hot", None]
    assert springs["state"].tolist() == ["NV", "ID", "CA"]
    only_f = _springs(
        tmp_path / "f.geojson", [({"SC": "WY", "Spring Name": "D", "TF": 212}, [-110.0, 44.5])]
    )
    assert read_thermal_springs(only_f)["temp_c"].iloc[0] == pytest.approx(100.0)


def test_springs_bad_input(tmp_path: Path) -> None:
    with pytest.raises(LayerIOError, match="does not exist"):
        read_thermal_springs(tmp_path / "missing.geojson")
    no_temp = _springs(tmp_path / "nt.geojson", [({"SC": "NV", "name": "A"}, [-117.0, 40.0])])
    with pytest.raises(LayerIOError, match="'TC'"):
        read_thermal_springs(no_temp)
    junk = tmp_path / "junk.geojson"
    junk.write_text("{not json")
    with pytest.raises(LayerIOError, match="cannot read"):
        read_thermal_springs(junk)


# -- SMU heat flow --------------------------------------------------------------------------

# Synthetic, in the layout of SMU Geothermal Laboratory exports (no real file is available).
SMU_CSV = """Well Name,Latitude,Longitude,Elevation,Depth,Gradient,Conductivity,Heat Flow
Well A,40.5,-117.2,1500,300,45,2.1,95
Well B,39.1,-118.4,1400,-9999,-9999,-9999,-9999
Well C,-9999,-118.0,1200,150,30,2.0,60
Well D,41.0,-112.0,1300,500,25,2.5,
"""


def test_smu_heat_flow(tmp_path: Path) -> None:
    path = tmp_path / "smu.csv"
    path.write_text(SMU_CSV)
    flows, messages = _recorded(read_smu_heat_flow, path)
    assert "2 of 4 row(s) have a null heat flow" in messages
    assert "dropped 1 of 4 row(s) without valid latitude/longitude" in messages
    assert list(flows.columns) == ["well_name", "heat_flow_mw_m2", "depth_m", "geometry"]
    assert flows.crs.to_epsg() == 4326
    assert flows["well_name"].tolist() == ["Well A", "Well B", "Well D"]
    assert flows["heat_flow_mw_m2"].iloc[0] == 95
    assert np.isnan(flows["heat_flow_mw_m2"].iloc[1])
    assert np.isnan(flows["depth_m"].iloc[1])
    hf = tmp_path / "hf.csv"
    hf.write_text("LatDegree,LongDegree,HF\n35,-106,80\n")
    assert read_smu_heat_flow(hf)["heat_flow_mw_m2"].tolist() == [80]


def test_smu_bad_input(tmp_path: Path) -> None:
    with pytest.raises(LayerIOError, match="does not exist"):
        read_smu_heat_flow(tmp_path / "missing.csv")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("lat,lon,temp\n1,2,3\n")
    with pytest.raises(LayerIOError, match="heat flow in mW/m²"):
        read_smu_heat_flow(wrong)
    empty = tmp_path / "empty.csv"
    empty.write_text("Latitude,Longitude,Heat Flow\n")
    with pytest.raises(LayerIOError, match="no data rows"):
        read_smu_heat_flow(empty)
    nowhere = tmp_path / "nowhere.csv"
    nowhere.write_text("Latitude,Longitude,Heat Flow\n-9999,-9999,50\n")
    with (
        pytest.warns(UserWarning, match="dropped 1"),
        pytest.raises(LayerIOError, match="no row has a valid"),
    ):
        read_smu_heat_flow(nowhere)


# -- PSM ------------------------------------------------------------------------------------

PSM_CSV = (
    (
        "Source,Location ID,City,State,Country,Latitude,Longitude,Time Zone,Elevation,"
        "Local Time Zone,Clearsky DHI Units,GHI Units\n"
    )
    + """NSRDB,123456,-,-,-,39.74,-105.18,-7,1829,-7,w/m2,w/m2
Year,Month,Day,Hour,Minute,GHI,DNI,DHI,Temperature,Wind Speed,Relative Humidity
2020,6,1,0,30,0,0,0,15.2,2.1,40.5
2020,6,1,12,30,950,880,110,28.0,3.4,20.1
"""
)


def test_psm_csv(tmp_path: Path) -> None:
    path = tmp_path / "psm.csv"
    path.write_text(PSM_CSV)
    meta, data = read_psm_csv(path)
    assert meta["format"] == "psm"
    assert meta["latitude"] == pytest.approx(39.74)
    assert meta["longitude"] == pytest.approx(-105.18)
    assert meta["time_zone"] == -7
    assert meta["elevation_m"] == 1829
    for column in ("ghi_w_m2", "dni_w_m2", "dhi_w_m2", "temp_air_c", "wind_speed_m_s"):
        assert column in data.columns
    assert data["ghi_w_m2"].tolist() == [0, 950]
    assert isinstance(data.index, pd.DatetimeIndex)
    assert data.index[1].utcoffset() == pd.Timedelta(hours=-7)
    assert data.index[1].tz_convert("UTC") == pd.Timestamp("2020-06-01 19:30", tz="UTC")


def test_psm_bad_input(tmp_path: Path) -> None:
    with pytest.raises(LayerIOError, match="does not exist"):
        read_psm_csv(tmp_path / "missing.csv")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b,c\n1,2,3\n4,5,6\n")
    with pytest.raises(LayerIOError, match="Year, Month, Day, Hour, Minute, GHI"):
        read_psm_csv(wrong)
    no_minute = tmp_path / "nm.csv"
    no_minute.write_text("\n".join(PSM_CSV.splitlines()[:2]) + "\nYear,Month,Day,GHI\n1,1,1,1\n")
    with pytest.raises(LayerIOError, match="Hour"):
        read_psm_csv(no_minute)
    empty = tmp_path / "empty.csv"
    empty.write_text("\n".join(PSM_CSV.splitlines()[:3]) + "\n")
    with pytest.raises(LayerIOError, match="no data rows"):
        read_psm_csv(empty)
    bad_tz = tmp_path / "tz.csv"
    bad_tz.write_text(PSM_CSV.replace("1829,-7", "1829,x").replace(",-7,1829", ",abc,1829"))
    with pytest.raises(LayerIOError, match="Time Zone"):
        read_psm_csv(bad_tz)


# -- real data ------------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_eia_plants(shared_data: Path) -> None:
    path = shared_data / "pypsa_usa" / "eia_plants.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the real file has no unknown capacity or coordinate
        plants = read_eia860_plants(path)
    direct = pd.read_csv(path, low_memory=False)
    assert len(plants) == 11_791 == direct["plant_id_eia"].nunique()
    assert plants["capacity_mw"].sum() == pytest.approx(direct["capacity_mw"].sum())
    assert plants["capacity_mw"].sum() == pytest.approx(1_253_435.4)
    assert plants["state"].nunique() == 51
    x, y = plants.geometry.x.to_numpy(), plants.geometry.y.to_numpy()
    assert _in_us(x, y).all(), plants.loc[~_in_us(x, y), ["plant_id", "state"]]
    gens = read_eia860_plants(path, aggregate=False)
    assert len(gens) == len(direct)
    assert gens["capacity_mw"].sum() == pytest.approx(direct["capacity_mw"].sum())
    solar = direct.loc[direct["tech_type"] == "Solar", "plant_id_eia"].nunique()
    assert plants["technologies"].map(lambda t: "Solar" in t).sum() == solar


@pytest.mark.realdata
def test_real_thermal_springs(shared_data: Path) -> None:
    path = shared_data / "ncei_hot_springs" / "hot_springs.geojson"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with pytest.warns(UserWarning, match="181 of 1661"):
        springs = read_thermal_springs(path)
    assert len(springs) == 1_661
    assert springs["state"].nunique() == 23
    temps = springs["temp_c"].dropna()
    assert len(temps) == 1_480
    assert temps.min() >= 15  # warm ...
    assert temps.max() <= 160  # ... to superheated fumaroles
    assert springs["temp_class"].value_counts().to_dict() == {"hot": 109, "warm": 69, "boiling": 1}
    x, y = springs.geometry.x.to_numpy(), springs.geometry.y.to_numpy()
    assert _in_us(x, y).all()
