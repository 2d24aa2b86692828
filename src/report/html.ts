// The report as one self-contained HTML page: inline CSS, figures as inline SVG (each also linked to
// its SVG and PNG files under figures/), then the fits and every number with its provenance. No
// scripts, no external resources: it opens from a file, offline, in any browser.
import type { Figure, FigureKind } from './figures.ts';
import { escapeXml } from './svg.ts';
import { formatCell, type Table } from './tables.ts';

export interface HtmlReport {
  source: string;
  generatedAt: string;
  runs: number;
  families: string[];
  datasets: string[];
  messages: string[];
  figures: Figure[];
  fits: Table;
  results: Table;
  /** Multimodal runs' image-text alignment (tables.ts alignmentTable); empty when there are none. */
  alignment?: Table;
}

const CSS = `
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; margin: 24px; color: #222; background: #fafafa; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
p.meta { color: #555; margin: 0 0 12px; font-size: 13px; }
ul.messages { background: #fff4e5; border: 1px solid #f0c36d; padding: 8px 8px 8px 28px; font-size: 13px; }
.figures { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; background: #fff; border: 1px solid #ddd; padding: 8px; max-width: 580px; }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 12px; color: #444; margin-top: 6px; }
figcaption a { color: #2a5db0; }
.pair { display: flex; flex-wrap: wrap; gap: 16px; margin-bottom: 16px; }
.pair figure { max-width: 440px; }
.table-wrap { overflow-x: auto; background: #fff; border: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 12px; }
th, td { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; }
th { background: #f0f0f0; position: sticky; top: 0; }
td.text { text-align: left; }
td.hash { font-family: "DejaVu Sans Mono", monospace; font-size: 11px; text-align: left; }
`;

function figureHtml(f: Figure): string {
  return (
    `<figure id="${escapeXml(f.id)}" data-kind="${f.kind}">\n${f.svg}\n` +
    `<figcaption>${escapeXml(f.caption)} <a href="figures/${encodeURIComponent(f.id)}.svg">SVG</a> · ` +
    `<a href="figures/${encodeURIComponent(f.id)}.png">PNG</a></figcaption></figure>`
  );
}

function section(title: string, figures: Figure[], kind: FigureKind, empty: string): string {
  const own = figures.filter((f) => f.kind === kind);
  if (!own.length) return `<h2>${escapeXml(title)}</h2>\n<p class="meta">${escapeXml(empty)}</p>`;
  if (kind === 'diffErankLoss') {
    // Diff-eRank and loss of the same dataset × layer sit side by side.
    const pairs: string[] = [];
    for (let i = 0; i < own.length; i += 2) pairs.push(`<div class="pair">${own.slice(i, i + 2).map(figureHtml).join('\n')}</div>`);
    return `<h2>${escapeXml(title)}</h2>\n${pairs.join('\n')}`;
  }
  return `<h2>${escapeXml(title)}</h2>\n<div class="figures">\n${own.map(figureHtml).join('\n')}\n</div>`;
}

function tableHtml(table: Table): string {
  const cls = (col: string, v: unknown) =>
    /sha256$/i.test(col) ? 'hash' : typeof v === 'number' || v === null ? '' : 'text';
  const head = `<tr>${table.columns.map((c) => `<th>${escapeXml(c)}</th>`).join('')}</tr>`;
  const body = table.rows
    .map((r) => `<tr>${r.map((v, i) => `<td class="${cls(table.columns[i], v)}">${escapeXml(formatCell(v))}</td>`).join('')}</tr>`)
    .join('\n');
  return `<div class="table-wrap"><table>\n<thead>${head}</thead>\n<tbody>\n${body}\n</tbody></table></div>`;
}

export function renderHtml(r: HtmlReport): string {
  const messages = r.messages.length ? `<ul class="messages">${r.messages.map((m) => `<li>${escapeXml(m)}</li>`).join('')}</ul>` : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>entroscope report</title>
<style>${CSS}</style>
</head>
<body>
<h1>entroscope report</h1>
<p class="meta">${r.runs} evaluation${r.runs === 1 ? '' : 's'} from ${escapeXml(r.source)} · families: ${escapeXml(r.families.join(', '))} · datasets: ${escapeXml(r.datasets.join(', '))} · generated ${escapeXml(r.generatedAt)}</p>
${messages}
${section('Scaling with parameter count', r.figures, 'scaling', 'No model has a parameter count (model.params), so there is nothing to fit.')}
${section('Diff-eRank and loss', r.figures, 'diffErankLoss', 'No Diff-eRank or loss in these results.')}
${section('Per-layer profiles', r.figures, 'layers', 'Each evaluation has a single layer.')}
${section('Per-sample distributions', r.figures, 'distribution', 'No per-sample rows (shards/*/samples.arrow) found.')}
${r.alignment?.rows.length ? `<h2>Image-text alignment</h2>\n<p class="meta">eRank1 image tokens at the vision encoder, eRank2 after the projector, eRank3 the LLM on the image tokens, eRank4 on the text alone, eRank5 on image + text; imageReductionRatio = (eRank1 − eRank2)/eRank1, imageTextAlignment = mean(eRank3,4,5)/max(eRank3,4,5), from the dataset means, with bootstrap 95% intervals. Perturbed runs show their change against the clean run.</p>\n${tableHtml(r.alignment)}` : ''}
<h2>Fits</h2>
${r.fits.rows.length ? tableHtml(r.fits) : '<p class="meta">No fits.</p>'}
<h2>Every number, with provenance</h2>
${tableHtml(r.results)}
</body>
</html>
`;
}
