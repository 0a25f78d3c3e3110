// The seeds' Express gateway reduced to express + http-proxy-middleware: the same proxy route and
// prefix rewrite as gateway.js with no middleware before it, so gateway.js minus bare.js is the cost
// of the seed's chain. Like the seed, no keep-alive agent is passed to the proxy (http-proxy then
// opens a new upstream connection per request); that is what the seed's code does, so we keep it.
const express = require('express');
const { createProxyMiddleware } = require('http-proxy-middleware');

const app = express();
const PORT = Number(process.env.PORT || 3000);
const UPSTREAM = process.env.UPSTREAM || 'http://127.0.0.1:4001';

app.use('/api', createProxyMiddleware({ target: UPSTREAM, changeOrigin: true, pathRewrite: { '^/api': '' } }));

app.listen(PORT, '127.0.0.1', () => {
  console.log(`[bare-express] running on 127.0.0.1:${PORT}, /api -> ${UPSTREAM}`);
});
