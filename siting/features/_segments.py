"""Exact distance from grid cells to line work, at a cost proportional to the cells.

Lines and polygon boundaries are cut into straight segments. For each block of cells, only
the segments that can be nearest to some cell of the block are examined: if the block's
centre is ``d0`` from its nearest segment and every cell is within ``h`` of the centre,
each cell's nearest segment lies within ``d0 + 2h`` of the centre (triangle inequality).
Those few segments are then measured against every cell of the block with vectorised
point-to-segment arithmetic. Blocks with too many candidates are split in four, so dense
networks cost no more than sparse ones per cell. Inside a polygon the distance is 0.
"""

from __future__ import annotations

import numpy as np
import shapely

from siting._threads import PerThread, prepared_copies

__all__ = ["SegmentIndex"]

# A block is split when more segments than this could be nearest to its cells.
_MAX_CANDIDATES = 96
_MIN_BLOCK = 8


class SegmentIndex:
    """Straight segments of lines and polygon boundaries, indexed for nearest queries."""

    def __init__(self, geometries: np.ndarray) -> None:
        parts = shapely.get_parts(geometries)
        polygonal = shapely.get_dimensions(parts) == 2
        self._polygons = parts[polygonal]
        linework = np.concatenate([parts[~polygonal], shapely.boundary(self._polygons)])
        linework = shapely.get_parts(linework)
        points = linework[shapely.get_type_id(linework) == shapely.GeometryType.POINT]
        lines = linework[shapely.get_type_id(linework) != shapely.GeometryType.POINT]
        coords, index = shapely.get_coordinates(lines, return_index=True)
        same = index[1:] == index[:-1]
        start, end = coords[:-1][same], coords[1:][same]
        point_xy = shapely.get_coordinates(points)
        # A point is a segment of length zero.
        self._x0 = np.concatenate([start[:, 0], point_xy[:, 0]])
        self._y0 = np.concatenate([start[:, 1], point_xy[:, 1]])
        self._x1 = np.concatenate([end[:, 0], point_xy[:, 0]])
        self._y1 = np.concatenate([end[:, 1], point_xy[:, 1]])
        segments: np.ndarray = shapely.linestrings(  # type: ignore[assignment]
            np.stack(
                [np.column_stack([self._x0, self._y0]), np.column_stack([self._x1, self._y1])], 1
            )
        )
        self._tree = shapely.STRtree(segments)
        self._polygon_tree = shapely.STRtree(self._polygons) if len(self._polygons) else None
        # contains_xy prepares its polygon in place: tiles on other threads get their own
        self._prepared_polygons = PerThread()

    def __len__(self) -> int:
        return len(self._x0)

    def distances(self, xs: np.ndarray, ys: np.ndarray, *, limit: float = np.inf) -> np.ndarray:
        """Distance from every (y, x) cell centre of the block ``ys`` × ``xs``.

        Distances up to ``limit`` are exact; beyond it a cell may get any value above
        ``limit`` (``inf`` where nothing is measured), which is all a threshold needs.
        """
        out = np.empty((len(ys), len(xs)), dtype="float64")
        self._fill(out, np.asarray(xs, float), np.asarray(ys, float), limit)
        if self._polygon_tree is not None:
            self._zero_inside(out, xs, ys)
        return out

    def _fill(self, out: np.ndarray, xs: np.ndarray, ys: np.ndarray, limit: float) -> None:
        cx, cy = (xs[0] + xs[-1]) / 2, (ys[0] + ys[-1]) / 2
        h = float(np.hypot(xs[-1] - xs[0], ys[-1] - ys[0])) / 2
        centre = shapely.points(cx, cy)
        _, d0 = self._tree.query_nearest(centre, return_distance=True, all_matches=False)
        if float(np.max(d0)) - h > limit:  # every cell is beyond the limit
            out[...] = np.inf
            return
        # A cell within the limit has its nearest segment within limit + h of the centre.
        reach = min(float(np.max(d0)) + 2 * h, limit + h)
        candidates = self._tree.query(centre, predicate="dwithin", distance=reach)
        if len(candidates) > _MAX_CANDIDATES and (len(xs) > _MIN_BLOCK or len(ys) > _MIN_BLOCK):
            r, c = len(ys) // 2, len(xs) // 2
            for rows in (slice(0, r), slice(r, None)) if r else (slice(None),):
                for cols in (slice(0, c), slice(c, None)) if c else (slice(None),):
                    self._fill(out[rows, cols], xs[cols], ys[rows], limit)
            return
        px, py = np.meshgrid(xs, ys)
        best = np.full(px.shape, np.inf)
        for i in np.sort(candidates):
            x0, y0 = self._x0[i], self._y0[i]
            dx, dy = self._x1[i] - x0, self._y1[i] - y0
            length2 = dx * dx + dy * dy
            ux, uy = px - x0, py - y0
            if length2 > 0:
                t = np.clip((ux * dx + uy * dy) / length2, 0.0, 1.0)
                ux -= t * dx
                uy -= t * dy
            np.minimum(best, ux * ux + uy * uy, out=best)
        np.sqrt(best, out=out)

    def _zero_inside(self, out: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> None:
        assert self._polygon_tree is not None
        block = shapely.box(xs.min(), ys.min(), xs.max(), ys.max())
        hits = self._polygon_tree.query(block)
        if len(hits) == 0:
            return
        px, py = np.meshgrid(xs, ys)
        inside = np.zeros(px.shape, dtype=bool)
        polygons = self._prepared_polygons.get(lambda: prepared_copies(self._polygons))
        for polygon in polygons[hits]:
            inside |= shapely.contains_xy(polygon, px, py)
        out[inside] = 0.0
