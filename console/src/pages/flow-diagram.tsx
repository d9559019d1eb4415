import { textWidth } from '../text-width';

/**
 * Small directed-graph drawings (states and transitions, workflow steps and gotos): nodes on one
 * row, each as wide as its texts, and edges as flat-topped arcs above (forward) or below (backward)
 * with their labels on top. A layout library would outweigh the whole console for graphs of a
 * handful of nodes. Arcs whose spans or labels would meet are stacked on separate levels, an arc
 * around another leaves and enters its nodes outside the inner one, and a label keeps clear of the
 * arcs that rise past its level: no two labels overlap and no arc is drawn through a label.
 */
export interface FlowNode {
  id: string;
  label: string;
  sub?: string;
  kind?: 'start' | 'end' | 'normal';
}
export interface FlowEdge {
  from: string;
  to: string;
  label?: string;
}

const NW = 120;
const NH = 44;
const GAP = 60;
/** Edge labels: font size and the height of one line. */
const LABEL_PX = 11;
const LINE_H = 13;
/** Height of the lowest arcs, the room between levels, the arcs' corner radius, and the spacing of arc ends on a node. */
const LIFT0 = 22;
const LEVEL_GAP = 7;
const R = 8;
const SLOT = 10;

interface Arc {
  from: string;
  to: string;
  /** Ends: `a` where it leaves, `b` where it arrives (the arrow). */
  a: number;
  b: number;
  up: boolean;
  text: string;
  lines: string[];
  /** Where the label's lines are centred. */
  x: number;
  /** Horizontal extent of the arc and its label: arcs of one level keep these apart. */
  lo: number;
  hi: number;
  level: number;
}

/** Words into lines of at most `max` pixels (a longer word keeps a line to itself). */
function wrap(text: string, max: number): string[] {
  const lines: string[] = [];
  for (const word of text.split(' ')) {
    const last = lines.at(-1);
    if (last !== undefined && textWidth(`${last} ${word}`, LABEL_PX) <= max) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  return lines;
}
const widest = (lines: string[]) => Math.max(0, ...lines.map((l) => textWidth(l, LABEL_PX)));

export function FlowDiagram(props: { nodes: FlowNode[]; edges: FlowEdge[]; title: string }) {
  const { nodes } = props;
  const widths = new Map(nodes.map((n) => [n.id, Math.max(NW, textWidth(n.label, 12, true) + 20, n.sub ? textWidth(n.sub, LABEL_PX) + 16 : 0)]));
  const left = new Map<string, number>();
  let right = 0;
  for (const n of nodes) {
    left.set(n.id, right);
    right += widths.get(n.id)! + GAP;
  }
  right -= GAP;
  const center = (id: string) => left.get(id)! + widths.get(id)! / 2;

  // gotos with the same ends (e.g. on_approve and on_timeout both to "end") share one arc and label:
  // two arcs on one path would print their labels on top of each other
  const merged = new Map<string, FlowEdge & { labels: string[] }>();
  for (const e of props.edges) {
    if (!left.has(e.from) || !left.has(e.to)) continue;
    const key = `${e.from}\u0000${e.to}`;
    const m = merged.get(key) ?? { ...e, labels: [] };
    if (e.label && !m.labels.includes(e.label)) m.labels.push(e.label);
    merged.set(key, m);
  }
  const arcs: Arc[] = [...merged.values()].map((e) => ({
    from: e.from,
    to: e.to,
    a: 0,
    b: 0,
    up: center(e.to) >= center(e.from),
    text: e.labels.join(' / '),
    lines: [],
    x: 0,
    lo: 0,
    hi: 0,
    level: 0,
  }));

  // Ends on a node: arcs whose left end it is attach right of its centre, the others left of it, and
  // the longer an arc the further out it attaches, so that an arc around another never crosses it.
  // A loop back to the same node sits at the node's right corner, out of the others' way.
  const span = (x: Arc) => Math.abs(center(x.to) - center(x.from));
  const ends = new Map<string, { node: string; rightward: boolean; list: { arc: Arc; end: 'a' | 'b' }[] }>();
  for (const arc of arcs) {
    if (arc.from === arc.to) {
      const r = left.get(arc.from)! + widths.get(arc.from)!;
      arc.a = r - 34;
      arc.b = r - 10;
      continue;
    }
    for (const end of ['a', 'b'] as const) {
      const node = end === 'a' ? arc.from : arc.to;
      const other = end === 'a' ? arc.to : arc.from;
      const rightward = center(other) > center(node);
      const key = `${node}\u0000${arc.up}\u0000${rightward}`;
      const group = ends.get(key) ?? { node, rightward, list: [] };
      group.list.push({ arc, end });
      ends.set(key, group);
    }
  }
  for (const { node, rightward, list } of ends.values()) {
    list.sort((p, q) => span(q.arc) - span(p.arc));
    list.forEach(({ arc, end }, i) => {
      arc[end] = center(node) + (rightward ? 4 + i * SLOT : -4 - i * SLOT);
    });
  }

  for (const arc of arcs) {
    if (!arc.text) continue;
    arc.lines = wrap(arc.text, Math.max(90, Math.abs(arc.b - arc.a) - 2 * R));
    arc.x = (arc.a + arc.b) / 2;
    const half = widest(arc.lines) / 2;
    arc.lo = Math.min(arc.a, arc.b, arc.x - half) - 6;
    arc.hi = Math.max(arc.a, arc.b, arc.x + half) + 6;
  }
  for (const arc of arcs.filter((x) => !x.text)) {
    arc.lo = Math.min(arc.a, arc.b) - 6;
    arc.hi = Math.max(arc.a, arc.b) + 6;
  }
  // shortest first: an arc around another goes above it
  const taken: Record<'up' | 'down', [number, number][][]> = { up: [], down: [] };
  for (const arc of [...arcs].sort((p, q) => Math.abs(p.b - p.a) - Math.abs(q.b - q.a))) {
    const levels = taken[arc.up ? 'up' : 'down'];
    let level = 0;
    while (levels[level]?.some(([lo, hi]) => arc.lo < hi && lo < arc.hi)) level++;
    arc.level = level;
    levels[level] = [...(levels[level] ?? []), [arc.lo, arc.hi]];
  }
  // A higher arc that starts or ends inside this one's span rises past its label: the label moves to
  // the widest stretch of the top between such ends (its lines narrowed to fit) when it fits there.
  for (const arc of arcs) {
    if (!arc.text) continue;
    const [lo, hi] = [Math.min(arc.a, arc.b) + R, Math.max(arc.a, arc.b) - R];
    const cuts = arcs
      .filter((o) => o.up === arc.up && o.level > arc.level)
      .flatMap((o) => [o.a, o.b])
      .filter((x) => x > lo && x < hi)
      .sort((p, q) => p - q);
    if (!cuts.length) continue;
    const stops = [lo, ...cuts, hi];
    let best: [number, number] = [lo, lo];
    for (let i = 1; i < stops.length; i++) if (stops[i]! - stops[i - 1]! > best[1] - best[0]) best = [stops[i - 1]!, stops[i]!];
    const lines = wrap(arc.text, best[1] - best[0] - 8);
    if (widest(lines) <= best[1] - best[0] - 8) {
      arc.lines = lines;
      arc.x = (best[0] + best[1]) / 2;
    }
  }
  // how far each level is from the nodes: above the tallest label of the level below
  const lifts = (up: boolean) => {
    const on = arcs.filter((x) => x.up === up);
    const out: number[] = [];
    for (let l = 0; l <= Math.max(-1, ...on.map((x) => x.level)); l++) {
      const below = Math.max(1, ...on.filter((x) => x.level === l - 1).map((x) => x.lines.length));
      out.push(l === 0 ? LIFT0 : out[l - 1]! + below * LINE_H + LEVEL_GAP);
    }
    return out;
  };
  const liftUp = lifts(true);
  const liftDown = lifts(false);
  const room = (ls: number[], up: boolean) =>
    ls.length
      ? ls.at(-1)! + Math.max(1, ...arcs.filter((x) => x.up === up && x.level === ls.length - 1).map((x) => x.lines.length)) * LINE_H + 10
      : 12;
  const row = room(liftUp, true);
  const height = row + NH + room(liftDown, false);
  const minX = Math.min(0, ...arcs.map((x) => x.lo)) - 10;
  const maxX = Math.max(right, ...arcs.map((x) => x.hi)) + 10;
  const width = maxX - minX;

  return (
    <figure class="diagram">
      <svg viewBox={`${minX} 0 ${width} ${height}`} width={width} role="img" aria-label={props.title}>
        <defs>
          <marker id="flow-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto">
            <path d="M0 0 L10 5 L0 10 z" class="flow-head" />
          </marker>
        </defs>
        {arcs.map((arc, i) => {
          const y = arc.up ? row : row + NH;
          const dy = arc.up ? -1 : 1;
          const dx = arc.b >= arc.a ? 1 : -1;
          const top = y + dy * (arc.up ? liftUp : liftDown)[arc.level]!;
          const r = Math.min(R, Math.abs(arc.b - arc.a) / 2);
          const d =
            `M${arc.a} ${y} V${top - dy * r} Q${arc.a} ${top} ${arc.a + dx * r} ${top} ` +
            `H${arc.b - dx * r} Q${arc.b} ${top} ${arc.b} ${top - dy * r} V${y}`;
          return (
            <g key={i} class="flow-edge">
              <path d={d} fill="none" marker-end="url(#flow-arrow)" />
            </g>
          );
        })}
        {nodes.map((n) => (
          <g key={n.id} class={`flow-node ${n.kind ?? 'normal'}`} transform={`translate(${left.get(n.id)} ${row})`}>
            <rect width={widths.get(n.id)} height={NH} rx={n.kind === 'normal' ? 6 : 22} />
            <text x={widths.get(n.id)! / 2} y={n.sub ? 18 : 27} text-anchor="middle" class="flow-label">
              {n.label}
            </text>
            {n.sub && (
              <text x={widths.get(n.id)! / 2} y={34} text-anchor="middle" class="flow-sub">
                {n.sub}
              </text>
            )}
          </g>
        ))}
        {arcs.map((arc, i) => {
          if (!arc.lines.length) return null;
          // the line nearest the arc sits on its top; the others stack away from it
          const first = arc.up ? row - liftUp[arc.level]! - 4 - (arc.lines.length - 1) * LINE_H : row + NH + liftDown[arc.level]! + 12;
          return (
            <g key={i} class="flow-edge">
              <text y={first} text-anchor="middle" class="halo">
                {arc.lines.map((l, k) => (
                  <tspan key={k} x={arc.x} dy={k ? LINE_H : 0}>
                    {/* the space keeps the label's text (what a screen reader and a search find) whole */}
                    {k < arc.lines.length - 1 ? `${l} ` : l}
                  </tspan>
                ))}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}
