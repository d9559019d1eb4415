import type { EntityDef, RelationDef } from '../model';

/**
 * The app's entities as boxes on a grid and relations as labelled lines between them. A layout
 * library would be larger than this whole file; a grid keeps every box readable and stable.
 */
const W = 190;
const ROW = 18;
const HEAD = 26;
const GAP_X = 70;
const GAP_Y = 50;
const MAX_FIELDS = 8;

interface Box {
  x: number;
  y: number;
  h: number;
}

export function ErDiagram(props: { entities: EntityDef[]; relations: RelationDef[] }) {
  const { entities, relations } = props;
  const cols = Math.max(1, Math.min(4, Math.ceil(Math.sqrt(entities.length))));
  const heights = entities.map((e) => HEAD + Math.min(e.fields.length, MAX_FIELDS + 1) * ROW + 8);
  const rows = Math.ceil(entities.length / cols);
  const rowH: number[] = [];
  for (let r = 0; r < rows; r++) rowH.push(Math.max(...heights.slice(r * cols, r * cols + cols)));
  const boxes = new Map<string, Box>();
  entities.forEach((e, i) => {
    const c = i % cols;
    const r = Math.floor(i / cols);
    const y = 10 + rowH.slice(0, r).reduce((a, b) => a + b + GAP_Y, 0);
    boxes.set(e.name, { x: 10 + c * (W + GAP_X), y, h: heights[i]! });
  });
  const width = 20 + cols * W + (cols - 1) * GAP_X;
  const height = 20 + rowH.reduce((a, b) => a + b, 0) + (rows - 1) * GAP_Y;

  return (
    <figure class="diagram">
      <svg
        viewBox={`0 0 ${width} ${height}`}
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
        {relations.map((r) => {
          const a = boxes.get(r.source);
          const b = boxes.get(r.target);
          if (!a || !b) return null;
          const [x1, y1, x2, y2] = connect(a, b);
          const self = r.source === r.target;
          const d = self
            ? `M${a.x + W} ${a.y + 14} C${a.x + W + 50} ${a.y - 10}, ${a.x + W + 50} ${a.y + 60}, ${a.x + W} ${a.y + 40}`
            : `M${x1} ${y1} L${x2} ${y2}`;
          return (
            <g key={r.name} class="er-rel">
              <path d={d} fill="none" marker-start="url(#er-one)" marker-end={r.type === 'one_to_one' ? 'url(#er-one)' : 'url(#er-many)'} />
              <text x={(x1 + x2) / 2} y={(y1 + y2) / 2 - 4} text-anchor="middle">
                {r.name}
              </text>
            </g>
          );
        })}
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
      </svg>
      <figcaption class="muted">Lines run from the source (one) to the target (many, or one for one-to-one).</figcaption>
    </figure>
  );
}

/** End points on the facing edges of two boxes. */
function connect(a: Box, b: Box): [number, number, number, number] {
  const ac = { x: a.x + W / 2, y: a.y + a.h / 2 };
  const bc = { x: b.x + W / 2, y: b.y + b.h / 2 };
  if (Math.abs(ac.x - bc.x) > W / 2) {
    const right = bc.x > ac.x;
    return [right ? a.x + W : a.x, ac.y, right ? b.x : b.x + W, bc.y];
  }
  const down = bc.y > ac.y;
  return [ac.x, down ? a.y + a.h : a.y, bc.x, down ? b.y : b.y + b.h];
}
