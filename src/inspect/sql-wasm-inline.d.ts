// sql.js's inline build (the WebAssembly inside the module, so the CLI bundle carries it) has the
// same API as its main module, whose types @types/sql.js gives.
declare module 'sql.js/dist/sql-wasm-inline.js' {
  import initSqlJs from 'sql.js';
  export default initSqlJs;
}
