/**
 * Small directed-graph drawings (states and transitions, workflow steps and gotos): nodes on one
 * row, edges as arcs above (forward) or below (backward) with their labels. A layout library would
 * outweigh the whole console for graphs of a handful of nodes; arcs on a line never hide a label.
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

export function FlowDiagram(props: { nodes: FlowNode[]; edges: FlowEdge[]; title: string }) {
  const { nodes, edges } = props;
  const x = new Map(nodes.map((n, i) => [n.id, 20 + i * (NW + GAP)]));
  const span = (e: FlowEdge) => Math.abs((x.get(e.to) ?? 0) - (x.get(e.from) ?? 0));
  const maxSpan = Math.max(0, ...edges.map(span));
  const lift = Math.min(140, 30 + maxSpan / 6);
  const mid = lift + 40;
  const width = 40 + nodes.length * NW + Math.max(0, nodes.length - 1) * GAP;
  const height = mid + NH + lift + 40;
  return (
    <figure class="diagram">
      <svg viewBox={`0 0 ${width} ${height}`} width={width} role="img" aria-label={props.title}>
        <defs>
          <marker id="flow-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto">
            <path d="M0 0 L10 5 L0 10 z" class="flow-head" />
          </marker>
        </defs>
        {edges.map((e, i) => {
          const x1 = x.get(e.from);
          const x2 = x.get(e.to);
          if (x1 === undefined || x2 === undefined) return null;
          const forward = x2 > x1;
          const self = x1 === x2;
          const a = x1 + NW / 2 + (self ? -15 : forward ? 10 : -10);
          const b = x2 + NW / 2 + (self ? 15 : forward ? -10 : 10);
          const y = forward || self ? mid : mid + NH;
          const h = (self ? 40 : 25 + span(e) / 6) * (forward || self ? -1 : 1);
          const d = `M${a} ${y} C${a} ${y + h}, ${b} ${y + h}, ${b} ${y}`;
          return (
            <g key={i} class="flow-edge">
              <path d={d} fill="none" marker-end="url(#flow-arrow)" />
              {e.label && (
                <text x={(a + b) / 2} y={y + h * 0.75 + (forward || self ? -2 : 10)} text-anchor="middle">
                  {e.label}
                </text>
              )}
            </g>
          );
        })}
        {nodes.map((n) => (
          <g key={n.id} class={`flow-node ${n.kind ?? 'normal'}`} transform={`translate(${x.get(n.id)} ${mid})`}>
            <rect width={NW} height={NH} rx={n.kind === 'normal' ? 6 : 22} />
            <text x={NW / 2} y={n.sub ? 18 : 27} text-anchor="middle" class="flow-label">
              {n.label}
            </text>
            {n.sub && (
              <text x={NW / 2} y={34} text-anchor="middle" class="flow-sub">
                {n.sub}
              </text>
            )}
          </g>
        ))}
      </svg>
    </figure>
  );
}
