/**
 * The width in pixels of a line of text in the console's font, for the SVG diagrams: they lay out
 * before anything is drawn, so labels and boxes are sized from this instead of from the DOM.
 */
let ctx: CanvasRenderingContext2D | null | undefined;
const cache = new Map<string, number>();

export function textWidth(text: string, px: number, bold = false): number {
  const key = `${px}${bold ? 'b' : ''}:${text}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  if (ctx === undefined) ctx = document.createElement('canvas').getContext('2d');
  let width: number;
  if (ctx) {
    ctx.font = `${bold ? '600 ' : ''}${px}px ${getComputedStyle(document.documentElement).fontFamily}`;
    width = ctx.measureText(text).width;
  } else {
    // no canvas (an unusual browser setting): a generous average glyph width
    width = text.length * px * (bold ? 0.66 : 0.6);
  }
  // a little slack: the SVG's text may render a hair wider than the canvas measures
  width = Math.ceil(width * 1.04 + 1);
  cache.set(key, width);
  return width;
}
