/**
 * A generated section of a hand-written file, fenced by `<!-- name:start -->` and
 * `<!-- name:end -->` so the generator can rewrite it and leave the prose around it alone.
 */

function markers(name: string): [string, string] {
  return [`<!-- ${name}:start -->`, `<!-- ${name}:end -->`];
}

function bounds(text: string, name: string): { from: number; to: number } {
  const [start, end] = markers(name);
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < 0 || to < from || text.indexOf(start, from + 1) >= 0 || text.indexOf(end, to + 1) >= 0) {
    throw new Error(`expected exactly one ${start} followed by one ${end}`);
  }
  return { from: from + start.length, to };
}

/** The section's content, without the blank lines that frame it. */
export function readMarkedSection(text: string, name: string): string {
  const { from, to } = bounds(text, name);
  return text.slice(from, to).trim();
}

export function replaceMarkedSection(text: string, name: string, content: string): string {
  const { from, to } = bounds(text, name);
  return `${text.slice(0, from)}\n\n${content.trim()}\n\n${text.slice(to)}`;
}
