// PNG copies of the report's SVG figures, rendered by resvg (a Rust SVG renderer shipped as a
// prebuilt Node addon in the npm package, so no browser or network is needed).
import { Resvg } from '@resvg/resvg-js';

/** Renders at `scale`× the SVG's size (2× by default, for sharp text on high-density screens). */
export function svgToPng(svg: string, scale = 2): Uint8Array {
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: '#ffffff',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}
