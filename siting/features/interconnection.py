"""Interconnection cost, capacity-aware grid assignment and substation load headroom.

Three tools for the question "can this edge-compute site get grid power, and at what cost?":

- :class:`CostModel` — spur-line plus tie-in or substation cost of connecting a site, and the
  levelized cost of transmission (LCOT). Defaults are NREL reV / reVX public values, shipped
  in ``interconnection_costs.toml`` with file and commit of every number.
- :func:`assign_capacity` — sites take grid features in rank (or cost) order and consume
  the features' spare MW, so two sites never count on the same spare megawatts (reV's
  "full" competitive supply-curve sort).
- :func:`substation_headroom` and :func:`flag_candidates` — a screening indicator of
  whether a substation could serve a new load of a given size. A data center is a *load*,
  not a generator: the indicator is not a load-flow or interconnection study.
"""

from __future__ import annotations

import json
import math
import tomllib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siting._typing import PathLike
from siting.errors import CRSError, CRSMismatchError, InvalidLayerError, ScenarioError

__all__ = [
    "CapacityAssignment",
    "CostModel",
    "assign_capacity",
    "cost_regions",
    "flag_candidates",
    "line_rating_mw",
    "substation_headroom",
]

#: Kilometres in one statute mile (reV and reVX costs are per mile).
KM_PER_MILE = 1.609344
#: Hours in a (non-leap) year, as in reV's LCOT.
HOURS_PER_YEAR = 8760.0

#: Line rating (MW) by voltage (kV): the inverse of reVX ``power_to_voltage``
#: (NREL/reVX reVX/least_cost_xmission/config/config.json, commit 2894b8c8a9c8), taking
#: the smaller rating where reVX lists two (230 kV: 343 and 400 MW).
LINE_RATING_BY_KV: Mapping[float, float] = {
    46.0: 68.0,
    69.0: 102.0,
    115.0: 171.0,
    138.0: 205.0,
    161.0: 240.0,
    230.0: 343.0,
    345.0: 750.0,
    500.0: 1500.0,
}

_DEFAULT_TOML = "interconnection_costs.toml"
_SPUR_BILLING = ("per_mw", "whole_line")


def _as_float_array(values: Any, name: str, *, allow_zero: bool = True) -> np.ndarray:
    array = np.atleast_1d(np.asarray(values, dtype=float))
    bad = np.isnan(array) | (array < 0) if allow_zero else np.isnan(array) | (array <= 0)
    if bad.any():
        first = array[bad][0]
        expected = ">= 0" if allow_zero else "> 0"
        raise InvalidLayerError(
            f"{name} must be {expected} and not NaN; got {first!r} "
            f"({int(bad.sum())} bad value(s)). Fix or drop those rows first."
        )
    return array


@dataclass(frozen=True)
class CostModel:
    """Cost of connecting a site to the grid, and its levelized cost of transmission.

    ``spur_usd = distance_km × line_cost_usd_per_mw_km[region][class] × billed_mw ×
    regional multiplier × terrain multiplier``, where ``billed_mw`` is the connected
    capacity (``spur_billing="per_mw"``, reV) or the voltage class's rated capacity
    (``"whole_line"``, reVX). To that is added either a tie-in cost (``$/MW × MW``; reV:
    14,000 $/MW to a line, 0 to a substation) or a lump-sum new or upgraded substation cost
    (reVX, by region and voltage).

    Use :meth:`default` (the shipped ``interconnection_costs.toml``, NREL reV/reVX values
    with file and commit for each) or :meth:`from_toml` for your own numbers.

    Parameters
    ----------
    voltage_classes_kv
        Spur-line voltage classes, ascending.
    class_rated_capacity_mw
        Rated line capacity of each class (MW).
    line_cost_usd_per_mw_km
        ``{region: {class_kv: $/MW-km}}``, one entry per class.
    regional_multiplier
        ``{region: multiplier}``.
    new_substation_usd, upgrade_substation_usd
        ``{region: {class_kv: $}}``; regions may be missing.
    line_tie_in_usd_per_mw, substation_tie_in_usd_per_mw
        Cost of tying in to an existing line or substation, $/MW.
    default_region
        Region used when none is given.
    spur_billing
        ``"per_mw"`` or ``"whole_line"``.
    source
        Where the numbers came from (file path), for provenance.

    Examples
    --------
    >>> model = CostModel.default()
    >>> cost = model.connection_cost(10.0, 20.0, voltage_kv=138)
    >>> round(float(cost["spur_usd"].iloc[0]))  # 10 km × 3667/1.609344 $/MW-km × 20 MW
    455714
    >>> float(cost["tie_in_usd"].iloc[0])  # 14,000 $/MW × 20 MW
    280000.0
    """

    voltage_classes_kv: tuple[float, ...]
    class_rated_capacity_mw: tuple[float, ...]
    line_cost_usd_per_mw_km: Mapping[str, Mapping[float, float]]
    regional_multiplier: Mapping[str, float]
    new_substation_usd: Mapping[str, Mapping[float, float]] = field(default_factory=dict)
    upgrade_substation_usd: Mapping[str, Mapping[float, float]] = field(default_factory=dict)
    line_tie_in_usd_per_mw: float = 14000.0
    substation_tie_in_usd_per_mw: float = 0.0
    default_region: str = "national"
    spur_billing: str = "per_mw"
    source: str = "<in memory>"

    def __post_init__(self) -> None:
        classes = self.voltage_classes_kv
        if not classes or list(classes) != sorted(set(classes)):
            raise ScenarioError(
                f"voltage_classes_kv must be a non-empty ascending list; got {list(classes)}"
            )
        if len(self.class_rated_capacity_mw) != len(classes):
            raise ScenarioError(
                f"class_rated_capacity_mw has {len(self.class_rated_capacity_mw)} values but "
                f"voltage_classes_kv has {len(classes)}; give one rating per class"
            )
        if self.spur_billing not in _SPUR_BILLING:
            raise ScenarioError(
                f"spur_billing={self.spur_billing!r}; allowed: {', '.join(_SPUR_BILLING)}"
            )
        if self.default_region not in self.line_cost_usd_per_mw_km:
            raise ScenarioError(
                f"default_region={self.default_region!r} has no line costs; regions with "
                f"costs: {sorted(self.line_cost_usd_per_mw_km)}"
            )
        for region, costs in self.line_cost_usd_per_mw_km.items():
            missing = [kv for kv in classes if kv not in costs]
            if missing:
                raise ScenarioError(
                    f"region {region!r}: no line cost for voltage class(es) {missing} kV; "
                    f"every region needs a cost for each of {list(classes)} kV"
                )
            if region not in self.regional_multiplier:
                raise ScenarioError(f"region {region!r} has no multiplier")
        for name in ("line_tie_in_usd_per_mw", "substation_tie_in_usd_per_mw"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ScenarioError(f"{name}={value!r} must be a finite number >= 0")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def default(cls) -> CostModel:
        """The shipped defaults (NREL reV/reVX public values, see the TOML file)."""
        path = resources.files("siting.features").joinpath(_DEFAULT_TOML)
        with resources.as_file(path) as real:
            return cls.from_toml(real)

    @classmethod
    def from_toml(cls, path: PathLike) -> CostModel:
        """Read a cost model from a TOML file laid out like the shipped one.

        Each ``[regions.NAME]`` table has a ``multiplier`` and either
        ``line_cost_usd_per_mw_mile`` (one $/MW-mile for every class, reV style) or
        ``line_cost_usd_per_mile`` (``{kv: $ per mile of a whole line}``, reVX style,
        converted with the class's rated MW), and optionally ``new_substation_usd`` and
        ``upgrade_substation_usd`` (``{kv: $}``).

        Raises
        ------
        ScenarioError
            If the file is not valid TOML or a field is missing or invalid.
        """
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"cost model {path} is not valid TOML: {exc}") from exc
        except OSError as exc:
            raise ScenarioError(f"cannot read cost model {path}: {exc}") from exc
        try:
            model = data["model"]
            regions = data["regions"]
            classes = tuple(float(kv) for kv in model["voltage_classes_kv"])
            ratings = tuple(float(mw) for mw in model["class_rated_capacity_mw"])
        except KeyError as exc:
            raise ScenarioError(
                f"cost model {path}: missing field {exc.args[0]!r}; the file needs [model] "
                "with voltage_classes_kv and class_rated_capacity_mw, and [regions.NAME] tables"
            ) from None
        if len(ratings) != len(classes):
            raise ScenarioError(
                f"cost model {path}: {len(classes)} voltage classes but {len(ratings)} ratings"
            )
        rated = dict(zip(classes, ratings, strict=True))
        line_costs: dict[str, dict[float, float]] = {}
        multipliers: dict[str, float] = {}
        new_sub: dict[str, dict[float, float]] = {}
        upgrade_sub: dict[str, dict[float, float]] = {}
        for name, spec in regions.items():
            multipliers[name] = float(spec.get("multiplier", 1.0))
            if "line_cost_usd_per_mw_mile" in spec:
                per_km = float(spec["line_cost_usd_per_mw_mile"]) / KM_PER_MILE
                line_costs[name] = dict.fromkeys(classes, per_km)
            elif "line_cost_usd_per_mile" in spec:
                by_kv = _kv_table(spec["line_cost_usd_per_mile"], f"regions.{name}", path)
                line_costs[name] = {
                    kv: usd / KM_PER_MILE / rated[kv] for kv, usd in by_kv.items() if kv in rated
                }
            else:
                raise ScenarioError(
                    f"cost model {path}: regions.{name} needs line_cost_usd_per_mw_mile or "
                    "line_cost_usd_per_mile"
                )
            if "new_substation_usd" in spec:
                new_sub[name] = _kv_table(spec["new_substation_usd"], f"regions.{name}", path)
            if "upgrade_substation_usd" in spec:
                upgrade_sub[name] = _kv_table(
                    spec["upgrade_substation_usd"], f"regions.{name}", path
                )
        return cls(
            voltage_classes_kv=classes,
            class_rated_capacity_mw=ratings,
            line_cost_usd_per_mw_km=line_costs,
            regional_multiplier=multipliers,
            new_substation_usd=new_sub,
            upgrade_substation_usd=upgrade_sub,
            line_tie_in_usd_per_mw=float(model.get("line_tie_in_usd_per_mw", 14000.0)),
            substation_tie_in_usd_per_mw=float(model.get("substation_tie_in_usd_per_mw", 0.0)),
            default_region=str(model.get("default_region", "national")),
            spur_billing=str(model.get("spur_billing", "per_mw")),
            source=str(path),
        )

    # ------------------------------------------------------------------ lookups
    @property
    def regions(self) -> list[str]:
        """Regions with line costs, sorted."""
        return sorted(self.line_cost_usd_per_mw_km)

    def voltage_class(self, voltage_kv: Any) -> np.ndarray:
        """Cost class (kV) of each spur voltage: the smallest class at or above it.

        Voltages above the largest class are priced in the largest class.

        Examples
        --------
        >>> CostModel.default().voltage_class([69, 115, 345, 765]).tolist()
        [69.0, 138.0, 500.0, 500.0]
        """
        kv = _as_float_array(voltage_kv, "voltage_kv", allow_zero=False)
        classes = np.asarray(self.voltage_classes_kv)
        index = np.minimum(np.searchsorted(classes, kv, side="left"), len(classes) - 1)
        return classes[index]

    def _regions(self, region: Any, n: int) -> np.ndarray:
        if region is None:
            return np.full(n, self.default_region, dtype=object)
        names = np.atleast_1d(np.asarray(region, dtype=object))
        names = np.where(pd.isna(names), self.default_region, names)
        unknown = sorted({str(r) for r in names} - set(self.line_cost_usd_per_mw_km))
        if unknown:
            raise ScenarioError(
                f"unknown region(s) {unknown}; allowed: {self.regions} (cost model "
                f"{self.source}). Add a [regions.NAME] table to a copy of the TOML file."
            )
        return np.broadcast_to(names, (n,))

    # ------------------------------------------------------------------ costs
    def connection_cost(
        self,
        distance_km: Any,
        capacity_mw: Any,
        *,
        voltage_kv: Any,
        region: Any = None,
        terrain_multiplier: Any = 1.0,
        new_substation: Any = False,
        upgrade_substation: Any = False,
        feature: Any = "line",
    ) -> pd.DataFrame:
        """Cost breakdown of connecting sites to the grid; vectorised over every argument.

        Parameters
        ----------
        distance_km
            Spur-line length (km), >= 0.
        capacity_mw
            Connected capacity (MW), > 0. For a data center: its peak load.
        voltage_kv
            Spur voltage (kV); priced in :meth:`voltage_class`.
        region
            Cost region (one of :attr:`regions`), or None for ``default_region``.
        terrain_multiplier
            Multiplier for terrain/land cover on the spur (1 = flat cropland). reVX uses
            e.g. 1.4 for hills and 1.75 for mountains in TEPPC.
        new_substation, upgrade_substation
            Pay a lump-sum new (or upgraded) substation at the region's cost for the
            voltage class instead of the $/MW tie-in. Not both for the same site.
        feature
            ``"line"`` or ``"substation"``: what is tied in to (selects the tie-in $/MW).

        Returns
        -------
        pandas.DataFrame
            ``voltage_class_kv, spur_usd, tie_in_usd, substation_usd, total_usd,
            usd_per_mw`` (one row per site).

        Raises
        ------
        InvalidLayerError
            For a negative or NaN distance, a non-positive capacity or voltage.
        ScenarioError
            For an unknown region, feature, or a substation cost the region does not have.

        Examples
        --------
        >>> model = CostModel.default()
        >>> cost = model.connection_cost([0.0, 5.0], 100.0, voltage_kv=230, region="TEPPC",
        ...                              new_substation=[False, True])
        >>> cost[["tie_in_usd", "substation_usd"]].values.tolist()
        [[1400000.0, 0.0], [0.0, 9171000.0]]
        """
        distance = _as_float_array(distance_km, "distance_km")
        capacity = _as_float_array(capacity_mw, "capacity_mw", allow_zero=False)
        classes = self.voltage_class(voltage_kv)
        terrain = _as_float_array(terrain_multiplier, "terrain_multiplier", allow_zero=False)
        new = np.atleast_1d(np.asarray(new_substation, dtype=bool))
        upgrade = np.atleast_1d(np.asarray(upgrade_substation, dtype=bool))
        kinds = np.atleast_1d(np.asarray(feature, dtype=object))
        try:
            shape = np.broadcast_shapes(
                distance.shape,
                capacity.shape,
                classes.shape,
                terrain.shape,
                new.shape,
                upgrade.shape,
                kinds.shape,
                np.shape(np.atleast_1d(np.asarray(region, dtype=object))),
            )
        except ValueError as exc:
            raise InvalidLayerError(
                f"connection_cost arguments have incompatible lengths: {exc}"
            ) from None
        n = shape[0] if shape else 1
        distance, capacity, classes, terrain, new, upgrade, kinds = (
            np.broadcast_to(a, (n,))
            for a in (distance, capacity, classes, terrain, new, upgrade, kinds)
        )
        regions = self._regions(region, n)
        bad_kind = sorted({str(k) for k in kinds} - {"line", "substation"})
        if bad_kind:
            raise ScenarioError(f"feature={bad_kind}; allowed: 'line', 'substation'")
        if (new & upgrade).any():
            raise ScenarioError(
                "new_substation and upgrade_substation are both True for some sites; "
                "a site gets a new substation or an upgraded one, not both"
            )

        rated = dict(zip(self.voltage_classes_kv, self.class_rated_capacity_mw, strict=True))
        per_mw_km = np.array(
            [self.line_cost_usd_per_mw_km[r][kv] for r, kv in zip(regions, classes, strict=True)]
        )
        multiplier = np.array([self.regional_multiplier[r] for r in regions])
        billed = (
            capacity if self.spur_billing == "per_mw" else np.array([rated[kv] for kv in classes])
        )
        spur = distance * per_mw_km * billed * multiplier * terrain
        tie_rate = np.where(
            kinds == "line", self.line_tie_in_usd_per_mw, self.substation_tie_in_usd_per_mw
        )
        lump = new | upgrade
        tie_in = np.where(lump, 0.0, tie_rate * capacity)
        substation = np.zeros(n)
        for flags, table, what in (
            (new, self.new_substation_usd, "new_substation_usd"),
            (upgrade, self.upgrade_substation_usd, "upgrade_substation_usd"),
        ):
            for i in np.flatnonzero(flags):
                costs = table.get(regions[i], {})
                if classes[i] not in costs:
                    have = sorted(r for r in table if table[r])
                    raise ScenarioError(
                        f"no {what} for region {regions[i]!r} at {classes[i]:g} kV; regions "
                        f"with substation costs: {have}. Pass region=... or add the costs."
                    )
                substation[i] = costs[classes[i]]
        total = spur + tie_in + substation
        return pd.DataFrame(
            {
                "voltage_class_kv": classes,
                "spur_usd": spur,
                "tie_in_usd": tie_in,
                "substation_usd": substation,
                "total_usd": total,
                "usd_per_mw": total / capacity,
            }
        )

    @staticmethod
    def lcot(
        total_cost_usd: Any,
        capacity_mw: Any,
        *,
        capacity_factor: Any,
        fixed_charge_rate: float,
    ) -> np.ndarray:
        """Levelized cost of transmission, $/MWh.

        ``lcot = total_cost_usd × fixed_charge_rate / (capacity_mw × capacity_factor × 8760)``,
        which is reV's ``cost[$/MW] × fcr / (cf × 8760)`` with ``cost[$/MW] =
        total_cost_usd / capacity_mw``: the annualised capital cost spread over the MWh
        that flow through the connection in a year. For a data center use its load factor
        (average / peak load) as ``capacity_factor``.

        Raises
        ------
        InvalidLayerError
            For a non-positive capacity, capacity factor outside (0, 1], negative cost.
        ScenarioError
            For a fixed charge rate outside (0, 1].

        Examples
        --------
        >>> CostModel.lcot(1_000_000.0, 10.0, capacity_factor=0.5,
        ...                fixed_charge_rate=0.0876).round(6).tolist()
        [2.0]
        """
        if not (0 < fixed_charge_rate <= 1):
            raise ScenarioError(
                f"fixed_charge_rate={fixed_charge_rate!r} must be in (0, 1] (e.g. 0.07)"
            )
        cost = _as_float_array(total_cost_usd, "total_cost_usd")
        capacity = _as_float_array(capacity_mw, "capacity_mw", allow_zero=False)
        cf = _as_float_array(capacity_factor, "capacity_factor", allow_zero=False)
        if (cf > 1).any():
            raise InvalidLayerError(f"capacity_factor must be in (0, 1]; got {cf.max()!r}")
        return cost * fixed_charge_rate / (capacity * cf * HOURS_PER_YEAR)


def _kv_table(table: Any, where: str, path: Path) -> dict[float, float]:
    if not isinstance(table, Mapping):
        raise ScenarioError(f"cost model {path}: {where} must be a table of kV = cost")
    try:
        return {float(kv): float(usd) for kv, usd in table.items()}
    except ValueError as exc:
        raise ScenarioError(f"cost model {path}: {where}: {exc}") from None


# ====================================================================== assignment
@dataclass(frozen=True)
class CapacityAssignment:
    """Result of :func:`assign_capacity`.

    Attributes
    ----------
    sites
        The candidates (same index and order as given) with columns ``feature_id``,
        ``distance_m``, ``total_usd``, ``usd_per_mw``, ``connected`` and ``reason`` (empty
        when connected, otherwise why not).
    remaining_mw
        Spare MW left on each feature after the assignment (NaN = unknown, unlimited).
    """

    sites: pd.DataFrame
    remaining_mw: pd.Series


def _check_same_projected_crs(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, what: str) -> None:
    if a.crs is None or b.crs is None:
        raise CRSError(f"{what}: both tables need a CRS; set it with .set_crs(...)")
    if a.crs.is_geographic:
        raise CRSError(
            f"{what}: CRS {a.crs.to_string()} is geographic (degrees); reproject both tables "
            "to a projected CRS in metres with .to_crs(...) (e.g. 'EPSG:5070')"
        )
    if a.crs != b.crs:
        raise CRSMismatchError(
            f"{what}: CRSs differ ({a.crs.to_string()} vs {b.crs.to_string()}); reproject one "
            "with .to_crs(other.crs)"
        )


def _points(frame: gpd.GeoDataFrame) -> np.ndarray:
    geoms = frame.geometry.to_numpy()
    is_point = shapely.get_type_id(geoms) == shapely.GeometryType.POINT
    return np.where(is_point, geoms, shapely.centroid(geoms))


def assign_capacity(
    candidates: gpd.GeoDataFrame,
    features: gpd.GeoDataFrame,
    *,
    demand_mw: float | str,
    unknown_capacity: Literal["exclude", "unlimited"],
    max_distance_m: float = 50_000.0,
    order: Literal["rank", "cost"] = "rank",
    select: Literal["cheapest", "nearest"] = "cheapest",
    rank_column: str = "rank",
    capacity_column: str = "cap_left",
    id_column: str = "gid",
    voltage_column: str = "voltage_kv",
    category_column: str | None = "category",
    spur_voltage_kv: float | None = None,
    avail_cap_frac: float = 1.0,
    region: str | None = None,
    cost_model: CostModel | None = None,
) -> CapacityAssignment:
    """Connect candidates to grid features that still have enough spare capacity.

    Each candidate needs ``demand_mw``; a feature with ``capacity_column`` spare MW (reV
    ``cap_left`` semantics, times ``avail_cap_frac``) can take candidates until that is used
    up. Costs come from :meth:`CostModel.connection_cost` with the straight-line distance
    from the candidate (its centroid) to the feature, the feature's voltage, and a line or
    substation tie-in by the feature's reV ``category``.

    ``order="rank"``: candidates in ascending ``rank_column`` order (ties by index) each
    take their cheapest (``select="cheapest"``) or nearest feature that still fits;
    the best-ranked site is served first. ``order="cost"``: reV's full sort — all
    (candidate, feature) pairs sorted by $/MW (ties by feature id, then rank, then index)
    and connected greedily, so the cheapest connections anywhere are built first.

    Differences from reV ``SupplyCurve._full_sort`` (reV/supply_curve/supply_curve.py,
    commit a698b3cfac3d): reV sorts on total LCOE (resource + transmission), here on the
    transmission cost or rank, since a data center's value is not an LCOE; reV shares a
    substation's capacity with its lines (half the sum of the lines' spare MW, and
    connecting spreads the MW over the lines), here each feature row has its own capacity;
    a feature with unknown capacity must be declared excluded or unlimited (reV treats a
    synthetic load center with no capacity as unlimited).

    Parameters
    ----------
    candidates
        Sites (any geometry; centroids are used), with ``rank_column`` (lower is better)
        when ``order="rank"`` and a ``demand_mw`` column when ``demand_mw`` is a name.
    features
        Grid features with ``id_column``, ``capacity_column`` (MW), ``voltage_column`` (kV)
        and optionally ``category_column`` ("Substation" → substation tie-in).
    demand_mw
        MW each candidate needs, or the name of a column holding it.
    unknown_capacity
        What a NaN capacity means: ``"exclude"`` (never connect) or ``"unlimited"``.
        Required: there is no safe default.
    max_distance_m
        Features farther than this are not considered.
    order, select
        See above. ``select`` only applies to ``order="rank"``.
    spur_voltage_kv
        Price every spur at this voltage instead of the feature's voltage.
    avail_cap_frac
        Share of the capacity column that may be used (reV ``avail_cap_frac``, default 1).
    region, cost_model
        Passed to the cost model (default :meth:`CostModel.default`).

    Returns
    -------
    CapacityAssignment

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> sites = gpd.GeoDataFrame({"rank": [2, 1]}, geometry=[Point(0, 0), Point(10, 0)],
    ...                          crs="EPSG:5070")
    >>> grid = gpd.GeoDataFrame({"gid": [7], "cap_left": [30.0], "voltage_kv": [138.0]},
    ...                         geometry=[Point(5, 0)], crs="EPSG:5070")
    >>> result = assign_capacity(sites, grid, demand_mw=20, unknown_capacity="exclude")
    >>> result.sites[["feature_id", "connected"]].values.tolist()
    [[None, False], [7, True]]
    >>> result.remaining_mw.tolist()
    [10.0]
    """
    model = cost_model or CostModel.default()
    _check_same_projected_crs(candidates, features, "assign_capacity")
    if unknown_capacity not in ("exclude", "unlimited"):
        raise ScenarioError(
            f"unknown_capacity={unknown_capacity!r}; allowed: 'exclude', 'unlimited'"
        )
    if order not in ("rank", "cost"):
        raise ScenarioError(f"order={order!r}; allowed: 'rank', 'cost'")
    if select not in ("cheapest", "nearest"):
        raise ScenarioError(f"select={select!r}; allowed: 'cheapest', 'nearest'")
    if not (0 < avail_cap_frac <= 1):
        raise ScenarioError(f"avail_cap_frac={avail_cap_frac!r} must be in (0, 1]")
    if not (max_distance_m > 0):
        raise ScenarioError(f"max_distance_m={max_distance_m!r} must be > 0")
    needed = [id_column, capacity_column]
    if spur_voltage_kv is None:
        needed.append(voltage_column)
    missing = [c for c in needed if c not in features.columns]
    if missing:
        raise InvalidLayerError(
            f"features lack column(s) {missing}; available: {sorted(map(str, features.columns))}"
        )
    if order == "rank" and rank_column not in candidates.columns:
        raise InvalidLayerError(
            f"candidates lack the rank column {rank_column!r}; pass rank_column=... or "
            "order='cost'"
        )
    if isinstance(demand_mw, str):
        if demand_mw not in candidates.columns:
            raise InvalidLayerError(f"candidates lack the demand column {demand_mw!r}")
        demand = _as_float_array(candidates[demand_mw], "demand_mw", allow_zero=False)
    else:
        demand = np.full(len(candidates), float(demand_mw))
        _as_float_array(demand_mw, "demand_mw", allow_zero=False)

    n_sites = len(candidates)
    ids = features[id_column].to_numpy()
    id_values = features[id_column].tolist()  # plain Python ids for the result
    if pd.Index(ids).has_duplicates:
        raise InvalidLayerError(f"features: {id_column!r} has duplicate ids")
    remaining = features[capacity_column].to_numpy(dtype=float) * avail_cap_frac
    unlimited = np.isnan(remaining)
    if (remaining[~unlimited] < 0).any():
        raise InvalidLayerError(f"features: {capacity_column!r} has negative capacity")
    usable = ~unlimited | (unknown_capacity == "unlimited")

    # All candidate-feature pairs within reach.
    site_pts = _points(candidates)
    tree = shapely.STRtree(features.geometry.to_numpy())
    site_idx, feat_idx = tree.query(site_pts, predicate="dwithin", distance=max_distance_m)
    keep = usable[feat_idx]
    site_idx, feat_idx = site_idx[keep], feat_idx[keep]
    dist_m = shapely.distance(site_pts[site_idx], features.geometry.to_numpy()[feat_idx])
    if spur_voltage_kv is not None:
        kv = np.full(len(feat_idx), float(spur_voltage_kv))
    else:
        kv = features[voltage_column].to_numpy(dtype=float)[feat_idx]
        if np.isnan(kv).any() or (kv <= 0).any():
            bad = ids[feat_idx][np.isnan(kv) | (kv <= 0)][:5].tolist()
            raise InvalidLayerError(
                f"features {bad} have no valid {voltage_column!r}; fill it or pass "
                "spur_voltage_kv=..."
            )
    kinds = np.full(len(feat_idx), "line", dtype=object)
    if category_column is not None and category_column in features.columns:
        is_sub = features[category_column].astype(str).str.lower().to_numpy() == "substation"
        kinds[is_sub[feat_idx]] = "substation"
    if len(feat_idx):
        cost = model.connection_cost(
            dist_m / 1000.0, demand[site_idx], voltage_kv=kv, region=region, feature=kinds
        )
        total, per_mw = cost["total_usd"].to_numpy(), cost["usd_per_mw"].to_numpy()
    else:
        total = per_mw = np.empty(0)

    if order == "rank":
        rank = candidates[rank_column].to_numpy(dtype=float)
        site_order = np.lexsort((np.arange(n_sites), rank))
        key = dist_m if select == "nearest" else per_mw
        pair_order = np.lexsort((ids[feat_idx], key, site_idx))
        # group pairs by site, each group already sorted by key then feature id
        starts = np.searchsorted(site_idx[pair_order], np.arange(n_sites + 1))
        sequence = [pair_order[starts[s] : starts[s + 1]] for s in site_order]
        flat = np.concatenate(sequence) if sequence else np.empty(0, dtype=int)
    else:
        rank = (
            candidates[rank_column].to_numpy(dtype=float)
            if rank_column in candidates.columns
            else np.zeros(n_sites)
        )
        flat = np.lexsort((site_idx, rank[site_idx], ids[feat_idx], per_mw))

    out_feature = np.full(n_sites, None, dtype=object)
    out_dist = np.full(n_sites, np.nan)
    out_total = np.full(n_sites, np.nan)
    out_per_mw = np.full(n_sites, np.nan)
    done = np.zeros(n_sites, dtype=bool)
    for p in flat:
        s, f = site_idx[p], feat_idx[p]
        if done[s]:
            continue
        if unlimited[f] or remaining[f] >= demand[s]:
            if not unlimited[f]:
                remaining[f] -= demand[s]
            done[s] = True
            out_feature[s], out_dist[s] = id_values[f], dist_m[p]
            out_total[s], out_per_mw[s] = total[p], per_mw[p]

    reach = np.bincount(site_idx, minlength=n_sites) > 0
    reasons = np.where(
        done,
        "",
        np.where(
            reach,
            "no feature within reach has enough spare capacity",
            f"no usable feature within max_distance_m={max_distance_m:g}",
        ),
    )
    sites = pd.DataFrame(
        {
            "feature_id": pd.Series(out_feature, index=candidates.index, dtype=object),
            "distance_m": out_dist,
            "total_usd": out_total,
            "usd_per_mw": out_per_mw,
            "connected": done,
            "reason": reasons,
        },
        index=candidates.index,
    )
    return CapacityAssignment(
        sites=sites,
        remaining_mw=pd.Series(
            remaining, index=pd.Index(ids, name=id_column), name="remaining_mw"
        ),
    )


# ====================================================================== headroom
#: HIFLD ``VOLT_CLASS`` labels; a voltage goes to the first class whose upper edge (kV)
#: it does not exceed ("UNDER 100" excludes 100 kV itself; 162-219 kV falls in "220-287").
_VOLT_CLASSES = (
    (100.0, "UNDER 100"),
    (161.0, "100-161"),
    (287.0, "220-287"),
    (345.0, "345"),
    (500.0, "500"),
    (math.inf, "735 AND ABOVE"),
)


def line_rating_mw(voltage_kv: Any) -> np.ndarray:
    """Typical line rating (MW) for a voltage, interpolated on :data:`LINE_RATING_BY_KV`.

    Linear between the reVX ladder points, linear to 0 MW at 0 kV below 46 kV, and the
    500 kV rating above 500 kV (conservative). NaN stays NaN.

    Examples
    --------
    >>> line_rating_mw([69, 345, 23, 765]).tolist()
    [102.0, 750.0, 34.0, 1500.0]
    """
    kv = np.atleast_1d(np.asarray(voltage_kv, dtype=float))
    xs = np.array([0.0, *LINE_RATING_BY_KV])
    ys = np.array([0.0, *LINE_RATING_BY_KV.values()])
    return np.where(np.isnan(kv), np.nan, np.interp(kv, xs, ys))


def _volt_class(kv: np.ndarray) -> np.ndarray:
    """HIFLD-style voltage class label per voltage (None for NaN)."""
    conditions = [kv < 100.0] + [kv <= upper for upper, _ in _VOLT_CLASSES[1:]]
    labels = np.array([label for _, label in _VOLT_CLASSES] + [None], dtype=object)
    index = np.select(conditions, list(range(len(_VOLT_CLASSES))), default=len(_VOLT_CLASSES))
    return np.asarray(labels[index])


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return [v.strip() for v in value.split(",") if v.strip()]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, Sequence | np.ndarray):
        return list(value)
    return [value]


def _service_flag(headroom: np.ndarray, load_mw: float, likely_margin: float) -> np.ndarray:
    return np.select(
        [headroom >= likely_margin * load_mw, headroom >= load_mw],
        ["likely", "possible"],
        "unlikely",
    ).astype(object)


def substation_headroom(
    substations: gpd.GeoDataFrame,
    *,
    lines: pd.DataFrame | None = None,
    plants: gpd.GeoDataFrame | None = None,
    queue: pd.DataFrame | None = None,
    radius_km: float = 10.0,
    load_mw: float | None = None,
    spare_fraction: float = 0.1,
    generation_credit: float = 0.1,
    likely_margin: float = 2.0,
    id_column: str = "substation_id",
    voltage_column: str = "max_kv",
    line_ids_column: str = "line_ids",
) -> gpd.GeoDataFrame:
    """Screening estimate of the load a substation could serve (``headroom_mw``).

    A data center is a load, so the question is whether power can be *delivered* to it.
    The heuristic, plainly:

    - **Transfer capability** grows with voltage and with the number of lines:
      ``transfer_mw = Σ line capacity / 2`` over the connected lines (reV's substation
      capacity: power flows in on some lines and out on others). A line's capacity is
      its ``capacity_mw`` when ``lines`` gives it, else :func:`line_rating_mw` of its
      voltage; without ``lines``, ``n_lines`` lines at the substation's voltage.
    - Only ``spare_fraction`` of it is assumed free (0.1 = reV's ``available_capacity``
      default in ``TransmissionFeatures``).
    - **Local generation** (EIA-860 plants within ``radius_km``) can serve load without
      importing over the grid: ``generation_credit`` × nearby nameplate MW is added
      (0.1 is an assumption, the same spare share as the lines, not a sourced value).
    - **Queued** MW at or near the substation (load or generation waiting to connect)
      competes for the same room and is subtracted in full.

    ``headroom_mw = spare_fraction × transfer_mw + generation_credit × nearby_generation_mw
    − queued_mw``. With ``load_mw``, ``load_service`` is "likely" when
    ``headroom_mw >= likely_margin × load_mw``, "possible" when ``>= load_mw``, else
    "unlikely". This ranks substations for follow-up; it is **not** a power-flow,
    short-circuit or interconnection study, and says nothing about thermal limits,
    contingencies or the utility's own plans.

    Parameters
    ----------
    substations
        Points (or small shapes; centroids are used) in a projected CRS, with
        ``id_column`` and optionally ``voltage_column`` (kV), ``n_lines`` and
        ``line_ids_column`` (list, or JSON text such as reV's ``trans_gids``).
    lines
        Lines with ``line_id``, ``voltage_kv`` and optionally ``capacity_mw``,
        ``from_substation``, ``to_substation``. A line is connected to a substation when
        listed in its ``line_ids`` or when either end names it.
    plants
        Generators or plants with ``capacity_mw`` (any CRS; reprojected).
    queue
        Queued projects with ``capacity_mw`` and either a geometry (counted within
        ``radius_km``) or a ``substation_id`` column naming the substation.
    radius_km
        Radius for nearby plants and queued projects.
    load_mw
        Requested load; adds ``load_service``.

    Returns
    -------
    geopandas.GeoDataFrame
        Point geometries with ``substation_id, max_kv, voltage_class, n_lines,
        transfer_mw, nearby_generation_mw, queued_mw, headroom_mw`` (+ ``load_service``).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> subs = gpd.GeoDataFrame({"substation_id": ["a", "b"], "max_kv": [345.0, 69.0],
    ...                          "n_lines": [4, 1]},
    ...                         geometry=[Point(0, 0), Point(50_000, 0)], crs="EPSG:5070")
    >>> out = substation_headroom(subs, load_mw=20)
    >>> out["headroom_mw"].round(2).tolist(), out["load_service"].tolist()
    ([150.0, 5.1], ['likely', 'unlikely'])
    """
    if substations.crs is None or substations.crs.is_geographic:
        raise CRSError(
            "substation_headroom: substations need a projected CRS in metres (got "
            f"{substations.crs}); reproject with .to_crs('EPSG:5070') or a local one"
        )
    if id_column not in substations.columns:
        raise InvalidLayerError(
            f"substations lack {id_column!r}; available: "
            f"{sorted(map(str, substations.columns))} (pass id_column=...)"
        )
    for name, value in (
        ("spare_fraction", spare_fraction),
        ("generation_credit", generation_credit),
    ):
        if not (0 <= value <= 1):
            raise ScenarioError(f"{name}={value!r} must be in [0, 1]")
    if not (radius_km > 0):
        raise ScenarioError(f"radius_km={radius_km!r} must be > 0")
    if likely_margin < 1:
        raise ScenarioError(f"likely_margin={likely_margin!r} must be >= 1")
    if load_mw is not None:
        _as_float_array(load_mw, "load_mw", allow_zero=False)

    ids = substations[id_column].to_numpy()
    n = len(substations)
    sub_kv = (
        substations[voltage_column].to_numpy(dtype=float)
        if voltage_column in substations.columns
        else np.full(n, np.nan)
    )
    listed = (
        [_as_list(v) for v in substations[line_ids_column]]
        if line_ids_column in substations.columns
        else [[] for _ in range(n)]
    )
    if lines is not None:
        if "line_id" not in lines.columns or "voltage_kv" not in lines.columns:
            raise InvalidLayerError(
                "lines need 'line_id' and 'voltage_kv' columns; available: "
                f"{sorted(map(str, lines.columns))}"
            )
        line_kv = dict(zip(lines["line_id"], lines["voltage_kv"].astype(float), strict=True))
        line_cap = dict(
            zip(
                lines["line_id"],
                lines["capacity_mw"].astype(float)
                if "capacity_mw" in lines.columns
                else pd.Series(np.nan, index=lines.index),
                strict=True,
            )
        )
        ends: dict[Any, set[Any]] = {}
        for end in ("from_substation", "to_substation"):
            if end in lines.columns:
                for line_id, sub in zip(lines["line_id"], lines[end], strict=True):
                    if not pd.isna(sub):
                        ends.setdefault(sub, set()).add(line_id)
        n_lines = np.zeros(n, dtype=int)
        transfer = np.zeros(n)
        for i, sub in enumerate(ids):
            connected = [lid for lid in {*listed[i], *ends.get(sub, set())} if lid in line_kv]
            n_lines[i] = len(connected)
            kvs = np.array([line_kv[lid] for lid in connected], dtype=float)
            caps = np.array([line_cap[lid] for lid in connected], dtype=float)
            caps = np.where(np.isnan(caps), line_rating_mw(kvs) if len(kvs) else caps, caps)
            transfer[i] = np.nansum(caps) / 2.0
            if np.isnan(sub_kv[i]) and len(kvs) and not np.isnan(kvs).all():
                sub_kv[i] = np.nanmax(kvs)
    else:
        if "n_lines" in substations.columns:
            n_lines = substations["n_lines"].fillna(0).to_numpy(dtype=int)
        else:
            n_lines = np.array([len(v) for v in listed], dtype=int)
        transfer = n_lines * np.nan_to_num(line_rating_mw(sub_kv)) / 2.0

    points = gpd.GeoSeries(_points(substations), index=substations.index, crs=substations.crs)
    radius_m = radius_km * 1000.0
    nearby = np.zeros(n)
    if plants is not None:
        nearby = _sum_within(points, plants, radius_m, "plants")
    queued = np.zeros(n)
    if queue is not None:
        if isinstance(queue, gpd.GeoDataFrame):
            queued = _sum_within(points, queue, radius_m, "queue")
        elif "substation_id" in queue.columns and "capacity_mw" in queue.columns:
            by_sub = queue.groupby("substation_id")["capacity_mw"].sum()
            queued = pd.Series(ids).map(by_sub).fillna(0.0).to_numpy(dtype=float)
        else:
            raise InvalidLayerError(
                "queue needs 'capacity_mw' and either a geometry or a 'substation_id' column"
            )
    headroom = spare_fraction * transfer + generation_credit * nearby - queued
    result = gpd.GeoDataFrame(
        {
            "substation_id": ids,
            "max_kv": sub_kv,
            "voltage_class": _volt_class(sub_kv),
            "n_lines": n_lines,
            "transfer_mw": transfer,
            "nearby_generation_mw": nearby,
            "queued_mw": queued,
            "headroom_mw": headroom,
        },
        geometry=points,
        index=substations.index,
    )
    if load_mw is not None:
        result["load_service"] = _service_flag(headroom, float(load_mw), likely_margin)
    return result


def _sum_within(
    points: gpd.GeoSeries, others: gpd.GeoDataFrame, radius_m: float, what: str
) -> np.ndarray:
    if "capacity_mw" not in others.columns:
        raise InvalidLayerError(
            f"{what} need a 'capacity_mw' column; available: {sorted(map(str, others.columns))}"
        )
    if others.crs is None:
        raise CRSError(f"{what} have no CRS; set it with .set_crs(...) (e.g. 'EPSG:4326')")
    other = others.to_crs(points.crs)
    caps = other["capacity_mw"].to_numpy(dtype=float)
    tree = shapely.STRtree(other.geometry.to_numpy())
    sub_idx, other_idx = tree.query(points.to_numpy(), predicate="dwithin", distance=radius_m)
    return np.bincount(sub_idx, weights=np.nan_to_num(caps[other_idx]), minlength=len(points))


def flag_candidates(
    candidates: gpd.GeoDataFrame,
    substations: gpd.GeoDataFrame,
    load_mw: float,
    *,
    likely_margin: float = 2.0,
) -> gpd.GeoDataFrame:
    """Add the nearest substation's headroom and load-service flag to each candidate.

    Parameters
    ----------
    candidates
        Sites, in the same projected CRS as ``substations``.
    substations
        Output of :func:`substation_headroom` (needs ``substation_id`` and ``headroom_mw``).
    load_mw
        Load each candidate would draw.

    Returns
    -------
    geopandas.GeoDataFrame
        ``candidates`` with ``nearest_substation``, ``substation_distance_m``,
        ``headroom_mw`` and ``load_service`` added.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> subs = gpd.GeoDataFrame({"substation_id": ["a"], "max_kv": [345.0], "n_lines": [4]},
    ...                         geometry=[Point(0, 0)], crs="EPSG:5070")
    >>> sites = gpd.GeoDataFrame(geometry=[Point(300, 400)], crs="EPSG:5070")
    >>> flag_candidates(sites, substation_headroom(subs), 100)[
    ...     ["nearest_substation", "substation_distance_m", "load_service"]].values.tolist()
    [['a', 500.0, 'possible']]
    """
    missing = [c for c in ("substation_id", "headroom_mw") if c not in substations.columns]
    if missing:
        raise InvalidLayerError(
            f"substations lack {missing}; pass the output of substation_headroom(...)"
        )
    _check_same_projected_crs(candidates, substations, "flag_candidates")
    _as_float_array(load_mw, "load_mw", allow_zero=False)
    if len(substations) == 0:
        raise InvalidLayerError("flag_candidates: there are no substations to flag against")
    sub_pts = _points(substations)
    tree = shapely.STRtree(sub_pts)
    (site_idx, sub_idx), dist = tree.query_nearest(
        _points(candidates), return_distance=True, all_matches=False
    )
    order = np.argsort(site_idx, kind="stable")
    sub_idx, dist = sub_idx[order], dist[order]
    headroom = substations["headroom_mw"].to_numpy(dtype=float)[sub_idx]
    out = candidates.copy()
    out["nearest_substation"] = substations["substation_id"].to_numpy()[sub_idx]
    out["substation_distance_m"] = dist
    out["headroom_mw"] = headroom
    out["load_service"] = _service_flag(headroom, float(load_mw), likely_margin)
    return out


def cost_regions(
    sites: gpd.GeoDataFrame,
    regions: gpd.GeoDataFrame,
    *,
    column: str,
    outside: Literal["error", "default"] = "error",
    cost_model: CostModel | None = None,
) -> pd.Series:
    """The cost region of each site, for ``CostModel.connection_cost(region=...)``.

    Parameters
    ----------
    sites
        Sites (points or polygons, judged by their representative point) with a CRS.
    regions
        Region polygons with a CRS (reprojected to the sites' CRS) and a name ``column``,
        for example reVX's ISO regions (``Load_Regio``).
    column
        Column of ``regions`` holding the region names; blank names count as no region.
    outside
        What to do with sites outside every region: ``"error"`` (refuse, naming the rows) or
        ``"default"`` (leave the region missing, so the cost model's default region applies,
        with a warning naming the rows).
    cost_model
        If given, every region found must be one of its regions.

    Returns
    -------
    pandas.Series
        Region name per site (``None`` where none applies), indexed like ``sites``. Where
        regions overlap, the first region in ``regions`` order wins.

    Examples
    --------
    >>> from shapely.geometry import Point, box
    >>> regions = gpd.GeoDataFrame({"name": ["west", "east"]},
    ...     geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)], crs="EPSG:5070")
    >>> sites = gpd.GeoDataFrame(geometry=[Point(5, 5), Point(15, 5)], crs="EPSG:5070")
    >>> cost_regions(sites, regions, column="name").tolist()
    ['west', 'east']
    """
    for frame, what in ((sites, "sites"), (regions, "regions")):
        if frame.crs is None:
            raise CRSError(f"the {what} have no CRS; set it with .set_crs(...) first")
    if column not in regions.columns:
        raise InvalidLayerError(
            f"the regions have no column {column!r}; columns: {sorted(map(str, regions.columns))}"
        )
    if outside not in ("error", "default"):
        raise ScenarioError(f"outside={outside!r}; use 'error' or 'default'")
    points = gpd.GeoDataFrame(
        {"_site": np.arange(len(sites))}, geometry=sites.geometry.representative_point().values,
        crs=sites.crs,
    )  # fmt: skip
    areas = regions[[column, regions.geometry.name]].to_crs(sites.crs).reset_index(drop=True)
    areas["_order"] = np.arange(len(areas))
    joined = gpd.sjoin(points, areas, how="left", predicate="within").sort_values(
        ["_site", "_order"], kind="stable"
    )
    first = joined.drop_duplicates("_site", keep="first").set_index("_site")[column]
    names = pd.Series(
        first.reindex(np.arange(len(sites))).to_numpy(), index=sites.index, dtype=object
    )
    blank = names.isna() | (names.astype(str).str.strip() == "")
    if blank.any():
        rows = list(sites.index[blank.to_numpy()][:10])
        more = " ..." if blank.sum() > 10 else ""
        if outside == "error":
            raise InvalidLayerError(
                f"{int(blank.sum())} site(s) lie outside every region with a name in "
                f"{column!r} (rows {rows}{more}). Give regions that cover them, or "
                "outside='default' to price them in the cost model's default region."
            )
        warnings.warn(
            f"{int(blank.sum())} site(s) outside every named region (rows {rows}{more}) "
            "use the cost model's default region",
            UserWarning,
            stacklevel=2,
        )
        names[blank] = None
    if cost_model is not None:
        cost_model._regions(names.to_numpy(), len(names))  # raises on unknown regions
    return names
