/** JSON documents written in pieces, shared by the SPDX and CycloneDX writers. */

export type Json = Record<string, unknown>;

/** Pieces of about this many characters: few writes, little held. */
const PIECE = 64 * 1024;

/**
 * A JSON object's text in pieces: `head`'s fields, then each list, the very bytes
 * `JSON.stringify(document, null, 2)` and a newline would give (the lists' items are indented as
 * they would be inside the whole), without ever holding the document or its text whole. Each
 * list's items are made as they are written. `head` must have at least one field.
 */
export function* jsonPieces(head: Json, lists: readonly [string, Iterable<Json>][]): Generator<string> {
  let out = JSON.stringify(head, null, 2).slice(0, -2); // without its closing "\n}"
  for (const [key, items] of lists) {
    out += `,\n  ${JSON.stringify(key)}: [`;
    let first = true;
    for (const item of items) {
      out += `${first ? '' : ','}\n    ${JSON.stringify(item, null, 2).replaceAll('\n', '\n    ')}`;
      first = false;
      if (out.length >= PIECE) {
        yield out;
        out = '';
      }
    }
    out += first ? ']' : '\n  ]';
  }
  yield `${out}\n}\n`;
}
