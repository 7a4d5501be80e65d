/**
 * Reports of facts: text (a terminal), Markdown (a pull request comment), HTML (one
 * self-contained file: inline CSS and SVG, no script, no network, a Content-Security-Policy that
 * forbids loading anything). Everything that came from an image is escaped for its format
 * (control characters too: a hostile image must not drive the terminal). No clock is read: the
 * same facts give the same bytes.
 */

export { modeString, renderFilesJson, renderFilesText } from './render-files.js';
export { escapeHtml, layerChart, renderHtml } from './render-html.js';
export { type CompareDocument, compareDocument, jsonPieces } from './render-json.js';
export { renderCompareMarkdown, renderMarkdown } from './render-markdown.js';
export { renderCompareText, renderText } from './render-text.js';
export type { NamedFacts } from './sections.js';
