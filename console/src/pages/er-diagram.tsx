import type { EntityDef, RelationDef } from '../model';
import { textWidth } from '../text-width';

/**
 * The app's entities as boxes on a grid and relations as labelled lines between them. A layout
 * library would be larger than this whole file; a grid keeps every box readable and stable.
 *
 * Lines never cross a box: they leave a box through its top or bottom edge into the channel between
 * two rows, run along it (and, to reach a row further away, down the channel between two columns)
 * and enter the other box the same way. Each run has a lane of its own in its channel, long enough
 * for its label, which sits on the run (beside it when the run is short): labels never cover a box
 * nor each other. Channels grow with the lanes they carry.
 */
const W = 190;
const ROW = 18;
const HEAD = 26;
const MAX_FIELDS = 8;
const LABEL_PX = 12;
/** Distance between the runs of one channel; a label fits between its run and the one above. */
const LANE = 20;
/** From a row channel's top to its first run: room for the markers of the boxes above, then the run's label. */
const FIRST = 30;
const GAP_X = 50;
const GAP_Y = 40;
const LANE_X = 12;
const MARGIN = 10;

interface Box {
  x: number;
  y: number;
  h: number;
  r: number;
  c: number;
}

/** Where a line meets a box: its top or bottom edge, at a slot spread along it. */
interface End {
  entity: string;
  side: 'top' | 'bottom';
  /** Row channel the line runs into from here, and the column of the box. */
  channel: number;
  c: number;
  /** Horizontal position the line heads for: ends are ordered by it so that lines cross less. */
  toward: number;
  x: number;
}

interface Route {
  rel: RelationDef;
  /** Upper end first (for one row: the source). */
  ends: [End, End];
  /** The path is drawn from the source, which is the lower end. */
  reversed: boolean;
  /** The row channel of the first run; for boxes more than a row apart, the column channel and the second run's row channel. */
  h1: number;
  v?: number;
  h2?: number;
  lane1: number;
  lane2: number;
  /** In the column channel: the lane while channels are sized, then the offset from the channel's left side. */
  vlane: number;
  /** `x` is the label's left end: centred on a long run, beside a short one (it would hide the run's own bends). */
  label: { width: number; x: number; y: number };
}

/** Greedy interval partitioning: each interval gets the lowest lane where it overlaps nothing. */
function assignLanes<T>(items: T[], span: (t: T) => [number, number], set: (t: T, lane: number) => void): number {
  const lanes: [number, number][][] = [];
  for (const it of [...items].sort((a, b) => span(a)[0] - span(b)[0])) {
    const [lo, hi] = span(it);
    let k = 0;
    while (lanes[k]?.some(([a, b]) => lo <= b && a <= hi)) k++;
    lanes[k] = [...(lanes[k] ?? []), [lo, hi]];
    set(it, k);
  }
  return lanes.length;
}

export function ErDiagram(props: { entities: EntityDef[]; relations: RelationDef[] }) {
  const { entities, relations } = props;
  if (entities.length === 0) return null;
  const cols = Math.max(1, Math.min(4, Math.ceil(Math.sqrt(entities.length))));
  const rows = Math.ceil(entities.length / cols);
  const heights = entities.map((e) => HEAD + Math.min(e.fields.length, MAX_FIELDS + 1) * ROW + 8);
  const rowH: number[] = [];
  for (let r = 0; r < rows; r++) rowH.push(Math.max(...heights.slice(r * cols, r * cols + cols)));
  const boxes = new Map<string, Box>();
  entities.forEach((e, i) => {
    boxes.set(e.name, { x: 0, y: 0, h: heights[i]!, r: Math.floor(i / cols), c: i % cols });
  });

  // which channels each relation uses
  const routes: Route[] = [];
  for (const rel of relations) {
    const s = boxes.get(rel.source);
    const t = boxes.get(rel.target);
    if (!s || !t) continue;
    const reversed = t.r < s.r;
    const [uName, u, lName, l] = reversed ? [rel.target, t, rel.source, s] : [rel.source, s, rel.target, t];
    const sameRow = u.r === l.r;
    const end = (entity: string, b: Box, side: End['side']): End => ({
      entity,
      side,
      channel: side === 'bottom' ? b.r + 1 : b.r,
      c: b.c,
      toward: 0,
      x: 0,
    });
    const route: Route = {
      rel,
      ends: [end(uName, u, 'bottom'), end(lName, l, sameRow ? 'bottom' : 'top')],
      reversed,
      h1: u.r + 1,
      lane1: 0,
      lane2: 0,
      vlane: 0,
      label: { width: textWidth(rel.name, LABEL_PX), x: 0, y: 0 },
    };
    if (l.r > u.r + 1) {
      // the column channel next to the upper box, on the lower one's side (right when in one column)
      route.v = u.c > l.c ? u.c : u.c + 1;
      route.h2 = l.r;
    }
    routes.push(route);
  }

  // column channels: one lane per vertical run that shares rows with another
  const vWidth: number[] = [];
  for (let k = 0; k <= cols; k++) {
    const using = routes.filter((r) => r.v === k);
    const n = assignLanes(
      using,
      (r) => [r.h1, r.h2!],
      (r, lane) => {
        r.vlane = lane;
      },
    );
    const inner = k > 0 && k < cols;
    vWidth.push(Math.max(inner ? GAP_X : MARGIN, (n + 1) * LANE_X));
    for (const r of using) r.vlane = (r.vlane + 1) * (vWidth[k]! / (n + 1));
  }
  const colX: number[] = [];
  for (let c = 0, x = 0; c < cols; c++) {
    x += vWidth[c]!;
    colX.push(x);
    x += W;
  }
  const channelX = (k: number) => (k < cols ? colX[k]! - vWidth[k]! : colX[cols - 1]! + W);
  for (const b of boxes.values()) b.x = colX[b.c]!;
  const centre = (name: string) => boxes.get(name)!.x + W / 2;
  const vx = (r: Route) => channelX(r.v!) + r.vlane;

  // slots along box edges: all ends meeting one row channel within one column are spread together,
  // so a line leaving the box above never runs on top of one entering the box below
  const groups = new Map<string, End[]>();
  for (const r of routes) {
    const [u, l] = r.ends;
    const self = u.entity === l.entity;
    u.toward = r.v !== undefined ? vx(r) : centre(l.entity) + (self ? -1 : 0);
    l.toward = r.v !== undefined ? vx(r) : centre(u.entity) + (self ? 1 : 0);
    for (const e of r.ends) {
      const key = `${e.channel}:${e.c}`;
      groups.set(key, [...(groups.get(key) ?? []), e]);
    }
  }
  for (const ends of groups.values()) {
    ends.sort((a, b) => a.toward - b.toward);
    ends.forEach((e, i) => {
      e.x = colX[e.c]! + (W * (i + 1)) / (ends.length + 1);
    });
  }

  // row channels: a lane per run, its label included in its extent
  interface Run {
    route: Route;
    first: boolean;
    lo: number;
    hi: number;
  }
  const runs: Run[] = [];
  const gridRight = channelX(cols) + vWidth[cols]!;
  for (const r of routes) {
    const [u, l] = r.ends;
    const to = r.v !== undefined ? vx(r) : l.x;
    const [lo, hi] = [Math.min(u.x, to), Math.max(u.x, to)];
    const wide = r.label.width + 6;
    // beside a short run: on the right unless that widens the drawing and the left does not
    r.label.x = hi - lo >= wide + 10 ? (lo + hi - r.label.width) / 2 : hi + wide > gridRight && lo - wide >= 0 ? lo - wide : hi + 6;
    runs.push({ route: r, first: true, lo: Math.min(lo, r.label.x) - 8, hi: Math.max(hi, r.label.x + r.label.width) + 8 });
    if (r.h2 !== undefined) runs.push({ route: r, first: false, lo: Math.min(vx(r), l.x) - 8, hi: Math.max(vx(r), l.x) + 8 });
  }
  const hHeight: number[] = [];
  for (let k = 0; k <= rows; k++) {
    const using = runs.filter((run) => (run.first ? run.route.h1 : run.route.h2) === k);
    const n = assignLanes(
      using,
      (run) => [run.lo, run.hi],
      (run, lane) => {
        if (run.first) run.route.lane1 = lane;
        else run.route.lane2 = lane;
      },
    );
    const inner = k > 0 && k < rows;
    hHeight.push(n === 0 ? (inner ? GAP_Y : MARGIN) : Math.max(GAP_Y, FIRST + (n - 1) * LANE + 18));
  }
  const rowY: number[] = [];
  for (let r = 0, y = 0; r < rows; r++) {
    y += hHeight[r]!;
    rowY.push(y);
    y += rowH[r]!;
  }
  const channelY = (k: number) => (k < rows ? rowY[k]! - hHeight[k]! : rowY[rows - 1]! + rowH[rows - 1]!);
  for (const b of boxes.values()) b.y = rowY[b.r]!;
  const laneY = (channel: number, lane: number) => channelY(channel) + FIRST + lane * LANE;

  const paths = routes.map((r) => {
    const [u, l] = r.ends;
    const ub = boxes.get(u.entity)!;
    const lb = boxes.get(l.entity)!;
    const y1 = laneY(r.h1, r.lane1);
    const pts: [number, number][] = [
      [u.x, ub.y + ub.h],
      [u.x, y1],
    ];
    if (r.v !== undefined) {
      const y2 = laneY(r.h2!, r.lane2);
      pts.push([vx(r), y1], [vx(r), y2], [l.x, y2]);
    } else pts.push([l.x, y1]);
    pts.push([l.x, l.side === 'top' ? lb.y : lb.y + lb.h]);
    if (r.reversed) pts.reverse();
    r.label.y = y1 - 5;
    return pts.map(([x, y], i) => `${i ? 'L' : 'M'}${x} ${y}`).join(' ');
  });

  const minX = Math.min(0, ...routes.map((r) => r.label.x - 4));
  const maxX = Math.max(gridRight, ...routes.map((r) => r.label.x + r.label.width + 4));
  const width = maxX - minX;
  const height = channelY(rows) + hHeight[rows]!;

  return (
    <figure class="diagram">
      <svg
        viewBox={`${minX} 0 ${width} ${height}`}
        width={width}
        role="img"
        aria-label={`Entity-relationship diagram of ${entities.length} entities and ${relations.length} relations`}
      >
        <defs>
          <marker id="er-many" viewBox="0 0 12 12" refX="11" refY="6" markerWidth="12" markerHeight="12" orient="auto-start-reverse">
            <path d="M0 6 L11 0 M0 6 L11 6 M0 6 L11 12" class="er-mark" fill="none" />
          </marker>
          <marker id="er-one" viewBox="0 0 12 12" refX="11" refY="6" markerWidth="12" markerHeight="12" orient="auto-start-reverse">
            <path d="M6 0 L6 12" class="er-mark" fill="none" />
          </marker>
        </defs>
        {routes.map((r, i) => (
          <g key={r.rel.name} class="er-rel" data-relation={r.rel.name}>
            <path
              d={paths[i]}
              fill="none"
              marker-start={r.rel.type === 'many_to_many' ? 'url(#er-many)' : 'url(#er-one)'}
              marker-end={r.rel.type === 'one_to_one' ? 'url(#er-one)' : 'url(#er-many)'}
            />
          </g>
        ))}
        {entities.map((e) => {
          const b = boxes.get(e.name)!;
          const shown = e.fields.slice(0, MAX_FIELDS);
          return (
            <g key={e.name} class="er-box" transform={`translate(${b.x} ${b.y})`}>
              <rect width={W} height={b.h} rx="6" />
              <rect width={W} height={HEAD} rx="6" class="er-head" />
              <text x="10" y="18" class="er-title">
                {e.name}
              </text>
              {shown.map((f, i) => (
                <text key={f.name} x="10" y={HEAD + 14 + i * ROW} class="er-field">
                  {f.name === e.primary_key.field ? '# ' : ''}
                  {f.name}
                  <tspan class="er-type" x={W - 10} text-anchor="end">
                    {f.type}
                  </tspan>
                </text>
              ))}
              {e.fields.length > MAX_FIELDS && (
                <text x="10" y={HEAD + 14 + MAX_FIELDS * ROW} class="er-type">
                  +{e.fields.length - MAX_FIELDS} more
                </text>
              )}
            </g>
          );
        })}
        {/* labels last, over the lines of other relations that cross their run */}
        {routes.map((r) => (
          <g key={r.rel.name} class="er-rel" data-relation={r.rel.name}>
            <text x={r.label.x} y={r.label.y} class="er-label halo">
              {r.rel.name}
            </text>
          </g>
        ))}
      </svg>
      <figcaption class="muted">
        Lines run from the source (one; many for many-to-many) to the target (many, or one for one-to-one) and leave and enter boxes at their top or
        bottom.
      </figcaption>
    </figure>
  );
}
