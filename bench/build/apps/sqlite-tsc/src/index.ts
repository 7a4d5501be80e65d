import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';

// A small JSON service of the most common shape: an HTTP server, a native addon (SQLite), a
// TypeScript build. DATABASE_PATH names the database file; without it the database is in memory.
const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { name: string };
const database = process.env.DATABASE_PATH ?? ':memory:';
const db = new Database(database);
db.exec(
  'CREATE TABLE IF NOT EXISTS visits (id INTEGER PRIMARY KEY, path TEXT NOT NULL, at INTEGER NOT NULL)',
);
const insert = db.prepare('INSERT INTO visits (path, at) VALUES (?, ?)');
const count = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM visits');
const sqlite = db.prepare<[], { v: string }>('SELECT sqlite_version() AS v').get()?.v;

const server = createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  insert.run(req.url ?? '/', Date.now());
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      app: pkg.name,
      visits: count.get()?.n,
      sqlite,
      database,
      node: process.versions.node,
      abi: process.versions.modules,
    }),
  );
});

const port = Number(process.env.PORT ?? 8080);
server.listen(port, () => console.log(`${pkg.name} listening on port ${port}`));
// build-marker: 0
