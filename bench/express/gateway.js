// The seeds' Express gateway (seed 003, "Full Gateway Implementation"), kept as written there so the
// benchmark measures what our users would otherwise deploy: request id (uuid), morgan access log,
// express-rate-limit, jsonwebtoken verify, http-proxy-middleware with a prefix rewrite and the
// per-request console.log of onProxyReq. Changes from the seed, each for the benchmark only:
//   - one route, /api -> the upstream with /api stripped (/api/x -> /x), like every other row;
//   - the rate limit is set so high it never triggers (we measure its cost, not its 429s);
//   - PORT, UPSTREAM and JWT_SECRET come from the environment; it listens on 127.0.0.1 only.
// Logs go to stdout, which bench/run.sh sends to a file in its temp dir (as a container's stdout
// would be collected), not to /dev/null: writing the log is part of the chain's cost.
const express = require('express');
const { createProxyMiddleware } = require('http-proxy-middleware');
const rateLimit = require('express-rate-limit');
const jwt = require('jsonwebtoken');
const { v4: uuidv4 } = require('uuid');
const morgan = require('morgan');

const app = express();
const PORT = Number(process.env.PORT || 3000);
const UPSTREAM = process.env.UPSTREAM || 'http://127.0.0.1:4001';
const JWT_SECRET = process.env.JWT_SECRET || 'your-secret-key';

// 1. Request ID
app.use((req, res, next) => {
  req.requestId = req.headers['x-request-id'] || uuidv4();
  res.setHeader('X-Request-Id', req.requestId);
  next();
});

// 2. Logging
morgan.token('request-id', (req) => req.requestId);
app.use(morgan(':method :url :status :response-time ms - :request-id'));

// 3. Rate limiting (the seed's window, a limit wrk cannot reach: 10^8 per 15 minutes)
app.use(
  rateLimit({
    windowMs: 15 * 60 * 1000,
    max: 1e8,
    standardHeaders: true,
    legacyHeaders: false,
    message: { error: 'Too many requests, please try again later', retryAfter: '15 minutes' },
  })
);

// 4. Health
app.get('/health', (req, res) => {
  res.json({ service: 'api-gateway', status: 'healthy', timestamp: new Date().toISOString() });
});

// 5. Authentication (HS256 bearer token, as in the seed)
function authenticate(req, res, next) {
  const publicPaths = ['/api/auth/login', '/api/auth/register', '/health'];
  if (publicPaths.some((path) => req.path.startsWith(path))) {
    return next();
  }
  const authHeader = req.headers.authorization;
  if (!authHeader || !authHeader.startsWith('Bearer ')) {
    return res.status(401).json({ error: 'Missing or invalid authorization header' });
  }
  const token = authHeader.split(' ')[1];
  try {
    const decoded = jwt.verify(token, JWT_SECRET);
    req.headers['x-user-id'] = decoded.userId;
    req.headers['x-user-role'] = decoded.role;
    req.headers['x-request-id'] = req.requestId;
    next();
  } catch (err) {
    return res.status(401).json({ error: 'Invalid or expired token' });
  }
}
app.use(authenticate);

// 6-7. The proxy route (seed: one createProxyMiddleware per service; the bench needs one)
const path = '/api';
const config = { target: UPSTREAM, pathRewrite: { '^/api': '' } };
app.use(
  path,
  createProxyMiddleware({
    target: config.target,
    changeOrigin: true,
    pathRewrite: config.pathRewrite,
    timeout: 5000,
    proxyTimeout: 5000,
    onProxyReq: (proxyReq, req) => {
      proxyReq.setHeader('X-Request-Id', req.requestId);
      proxyReq.setHeader('X-Forwarded-For', req.ip);
      if (req.headers['x-user-id']) {
        proxyReq.setHeader('X-User-Id', req.headers['x-user-id']);
      }
      console.log(`[gateway] Proxying ${req.method} ${req.originalUrl} -> ${config.target}`);
    },
    onError: (err, req, res) => {
      console.error(`[gateway] Proxy error: ${err.message}`);
      res.status(503).json({ error: 'Service unavailable', service: path, requestId: req.requestId });
    },
  })
);

// 8. 404
app.use((req, res) => {
  res.status(404).json({ error: 'Route not found', path: req.originalUrl, requestId: req.requestId });
});

app.listen(PORT, '127.0.0.1', () => {
  console.log(`[api-gateway] running on 127.0.0.1:${PORT}, /api -> ${UPSTREAM}`);
});
