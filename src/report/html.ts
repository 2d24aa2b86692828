// The report as one self-contained HTML page: inline CSS, figures as inline SVG (each also linked to
// its SVG and PNG files under figures/). No scripts, no external resources: it opens from a file,
// offline, in any browser.
//
// The first screen answers the sweep's question — per dataset, normalized entropy and eRank of the
// last layer vs parameters with the chosen fit (or the reason there is none), loss beside them,
// Diff-eRank against ΔL, and one sentence per family. Everything else (every depth, every metric,
// profiles, distributions, every number with its provenance) follows in collapsed sections.
import type { Figure, FigureKind } from './figures.ts';
import { escapeXml } from './svg.ts';
import { formatCell, type Table } from './tables.ts';

export interface HtmlReport {
  title?: string;
  source: string;
  generatedAt: string;
  runs: number;
  families: string[];
  datasets: string[];
  messages: string[];
  /** One sentence per family × dataset (fitText.ts headlineSentence). */
  headline: string[];
  figures: Figure[];
  models: Table;
  fits: Table;
  results: Table;
  /** Multimodal runs' image-text alignment (tables.ts alignmentTable); empty when there are none. */
  alignment?: Table;
}

const CSS = `
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; margin: 24px; color: #222; background: #fafafa; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 20px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 12px 0 6px; }
p.meta { color: #555; margin: 0 0 8px; font-size: 13px; }
ul.sentences { margin: 0 0 10px; padding-left: 20px; font-size: 14px; }
ul.sentences li { margin-bottom: 4px; }
ul.messages { background: #fff4e5; border: 1px solid #f0c36d; padding: 8px 8px 8px 28px; font-size: 13px; }
.figures { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; background: #fff; border: 1px solid #ddd; padding: 8px; max-width: 580px; }
figure[data-kind="headline"] { max-width: 380px; }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 12px; color: #444; margin-top: 6px; }
figcaption a { color: #2a5db0; }
details { margin: 10px 0; background: #fff; border: 1px solid #ddd; padding: 6px 10px; }
details > summary { font-size: 16px; font-weight: bold; cursor: pointer; }
.table-wrap { overflow-x: auto; background: #fff; margin-top: 8px; }
table { border-collapse: collapse; font-size: 12px; }
th, td { padding: 3px 6px; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; vertical-align: top; }
th { background: #f0f0f0; position: sticky; top: 0; }
td.text { text-align: left; }
td.wrap { text-align: left; white-space: normal; min-width: 90px; max-width: 320px; }
td.wrap.note { min-width: 180px; }
td.hash { font-family: "DejaVu Sans Mono", monospace; font-size: 11px; text-align: left; }
`;

/** Columns of long text, wrapped so a table fits the page instead of scrolling sideways. */
const WRAPPED = new Set(['equation', 'note', 'slope [95% CI]']);

function figureHtml(f: Figure): string {
  return (
    `<figure id="${escapeXml(f.id)}" data-kind="${f.kind}">\n${f.svg}\n` +
    `<figcaption>${escapeXml(f.caption)} <a href="figures/${encodeURIComponent(f.id)}.svg">SVG</a> · ` +
    `<a href="figures/${encodeURIComponent(f.id)}.png">PNG</a></figcaption></figure>`
  );
}

function figuresHtml(figures: Figure[]): string {
  return `<div class="figures">\n${figures.map(figureHtml).join('\n')}\n</div>`;
}

function collapsed(title: string, body: string, open = false): string {
  return `<details${open ? ' open' : ''}><summary>${escapeXml(title)}</summary>\n${body}\n</details>`;
}

function figureSection(title: string, figures: Figure[], kind: FigureKind, empty: string): string {
  const own = figures.filter((f) => f.kind === kind);
  return collapsed(`${title} (${own.length})`, own.length ? figuresHtml(own) : `<p class="meta">${escapeXml(empty)}</p>`);
}

function tableHtml(table: Table, id?: string): string {
  const cls = (col: string, v: unknown) =>
    /sha256$/i.test(col) ? 'hash' : WRAPPED.has(col) ? (col === 'note' ? 'wrap note' : 'wrap') : typeof v === 'number' || v === null ? '' : 'text';
  const head = `<tr>${table.columns.map((c) => `<th>${escapeXml(c)}</th>`).join('')}</tr>`;
  const body = table.rows
    .map((r) => `<tr>${r.map((v, i) => `<td class="${cls(table.columns[i], v)}">${escapeXml(formatCell(v))}</td>`).join('')}</tr>`)
    .join('\n');
  return `<div class="table-wrap"${id ? ` id="${id}"` : ''}><table>\n<thead>${head}</thead>\n<tbody>\n${body}\n</tbody></table></div>`;
}

function headlineHtml(r: HtmlReport): string {
  const own = r.figures.filter((f) => f.kind === 'headline');
  if (!own.length) {
    return `<h2 id="headline">Scaling with size</h2>\n<p class="meta">No model has a parameter count (model.params), so there is nothing to compare by size.</p>`;
  }
  const parts = [`<h2 id="headline">How the last layer scales with size</h2>`];
  for (const dataset of [...new Set(own.map((f) => f.dataset))]) {
    const sentences = r.headline.filter((s) => s.includes(` on ${dataset}:`));
    parts.push(`<h3>${escapeXml(dataset)}</h3>`);
    if (sentences.length) parts.push(`<ul class="sentences">${sentences.map((s) => `<li>${escapeXml(s)}</li>`).join('')}</ul>`);
    parts.push(figuresHtml(own.filter((f) => f.dataset === dataset)));
  }
  return parts.join('\n');
}

export function renderHtml(r: HtmlReport): string {
  const title = r.title ?? 'entroscope report';
  const messages = r.messages.length ? collapsed(`Notes (${r.messages.length})`, `<ul class="messages">${r.messages.map((m) => `<li>${escapeXml(m)}</li>`).join('')}</ul>`) : '';
  const alignment = r.alignment?.rows.length
    ? collapsed(
        'Image-text alignment',
        `<p class="meta">eRank1 image tokens at the vision encoder, eRank2 after the projector, eRank3 the LLM on the image tokens, eRank4 on the text alone, eRank5 on image + text; imageReductionRatio = (eRank1 − eRank2)/eRank1, imageTextAlignment = mean(eRank3,4,5)/max(eRank3,4,5), from the dataset means, with bootstrap 95% intervals. Perturbed runs show their change against the clean run.</p>\n${tableHtml(r.alignment)}`,
        true,
      )
    : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeXml(title)}</h1>
<p class="meta">${r.runs} evaluation${r.runs === 1 ? '' : 's'} from ${escapeXml(r.source)} · families: ${escapeXml(r.families.join(', '))} · datasets: ${escapeXml(r.datasets.join(', '))} · generated ${escapeXml(r.generatedAt)}</p>
${headlineHtml(r)}
${messages}
${collapsed('Models', tableHtml(r.models, 'models-table'), true)}
${collapsed('Fits (x = parameter count; form chosen by leave-one-out error)', r.fits.rows.length ? tableHtml(r.fits, 'fits-table') : '<p class="meta">No fits.</p>')}
${figureSection('Scaling at every depth', r.figures, 'scaling', 'No model has a parameter count (model.params), so there is nothing to fit.')}
${figureSection('Per-layer profiles (relative depth)', r.figures, 'layers', 'Each evaluation has a single layer.')}
${figureSection('Per-sample distributions', r.figures, 'distribution', 'No per-sample rows (shards/*/samples.arrow) found.')}
${alignment}
${collapsed('Every number, with provenance', tableHtml(r.results))}
</body>
</html>
`;
}
