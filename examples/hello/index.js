// A small express server: GET / answers JSON saying who runs it and where.
const express = require('express');

const app = express();
app.get('/', (_req, res) => {
  res.json({
    hello: 'world',
    node: process.version,
    uid: process.getuid(),
    pid: process.pid,
  });
});

const port = Number(process.env.PORT) || 8080;
app.listen(port, () => {
  console.log(`hello listening on port ${port}`);
});
