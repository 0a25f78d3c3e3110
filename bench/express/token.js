// Prints the HS256 bearer token wrk sends to the "full chain" rows, signed with JWT_SECRET and valid
// for a day so verification succeeds for the whole run. Claims: seed 003's userId and role, plus the
// standard `sub` that portway takes the identity from (Express ignores it).
const jwt = require('jsonwebtoken');
const secret = process.env.JWT_SECRET || 'your-secret-key';
const claims = { sub: '42', userId: '42', role: 'admin', email: 'bench@example.com' };
process.stdout.write(jwt.sign(claims, secret, { expiresIn: '24h' }));
